"""Python's cycle collector runs on the GUI thread only.

CPython collects cycles in whichever thread happens to allocate past the threshold. In this
editor that is often the engine's QThread or a download helper; when the cycle it frees holds a
Qt object (a closed dialog, a finished job's signal connection), the C++ destructor runs off the
GUI thread, and Qt crashes (the test suite once segfaulted exactly so, inside a wheel download).
So automatic collection is switched off and a timer on the GUI thread does the same work:
it looks at the same per-generation counts CPython would and collects the same generation.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500
"""How often the GUI thread checks the counts: short enough that garbage stays small."""


class MainThreadGC(QObject):
    """Owns the GUI thread's collection until `stop()` gives it back to CPython (destroying
    it alone does not: the app's lives as long as the QApplication)."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> int:
        """Collect the oldest generation whose count passed CPython's own threshold."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                return gc.collect(generation)
        return 0

    def stop(self) -> None:
        """Collect once more here, then let CPython collect on its own again."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
