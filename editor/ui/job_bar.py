"""The one job bar every edit shares: what runs, progress, Cancel, then Apply or Discard.

The bar only shows; `editor.ui.edit_session.EditSession` decides what it shows (it submits the
runs, draws their previews and turns Apply into one undo command).

`JobClock` keeps a running job visibly alive: elapsed time and an estimate of the time left,
ticking twice a second even while the engine is deep in one long step and sends nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

MIN_PROGRESS_FOR_ESTIMATE = 0.05
MIN_SECONDS_FOR_ESTIMATE = 2.0
"""The time left is only guessed once the job has done 5 % of its work in 2 s or more: a first
model load or a first tile says little about the pace."""


def time_left(start: tuple[float, float], latest: tuple[float, float], now: float) -> float | None:
    """Seconds left at `now`, from the pace between two (time, fraction done) samples; None
    while there is too little to go on, or once that pace is overdue (the job slowed down)."""
    (t0, f0), (t1, f1) = start, latest
    if f1 - f0 < MIN_PROGRESS_FOR_ESTIMATE or t1 - t0 < MIN_SECONDS_FOR_ESTIMATE:
        return None
    left = (t1 - t0) * (1.0 - f1) / (f1 - f0) - (now - t1)
    return left if left >= 1.0 else None


def duration_text(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour (training runs for hours)."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class JobClock(QObject):
    """Shows a running job's elapsed time and, once the pace is known, the time left, on
    `label`; a QTimer refreshes it every `TICK_MS`, whether or not the engine sent anything.

    now: the clock in seconds (monotonic); tests give a fake one and fire `timer` themselves.
    """

    TICK_MS = 500  # the shown seconds change every second despite timer jitter

    def __init__(self, label: QLabel, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(label)
        self.label = label
        self.now = now
        self.timer = QTimer(self)
        self.timer.setInterval(self.TICK_MS)
        self.timer.timeout.connect(self.tick)
        self._began = 0.0
        self._start: tuple[float, float] = (0.0, 0.0)  # when the work began to move
        self._latest: tuple[float, float] | None = None
        label.setToolTip("Time since the edit started, and an estimate of the time left")
        label.hide()

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def start(self) -> None:
        """A job started now: count from zero, with no estimate yet."""
        self._began = self.now()
        self._start, self._latest = (self._began, 0.0), None
        self.timer.start()
        self.label.show()
        self.tick()

    def sample(self, fraction: float | None) -> None:
        """The job reports `fraction` done (None or < 0: unknown). The pace is measured from
        the last report of no progress (the work had not begun to move before it)."""
        if not self.running or fraction is None or fraction < 0:
            return
        moment = (self.now(), float(fraction))
        if fraction <= 0.0:
            self._start = moment
        self._latest = moment
        self.tick()

    def stop(self) -> None:
        self.timer.stop()
        self.label.hide()
        self.label.clear()

    def text(self) -> str:
        now = self.now()
        shown = f"{duration_text(now - self._began)} elapsed"
        left = None if self._latest is None else time_left(self._start, self._latest, now)
        if left is not None:
            shown += f", about {duration_text(math.ceil(left))} left"
        return shown

    def tick(self) -> None:
        self.label.setText(self.text())


class ElidedLabel(QLabel):
    """A one-line label that never widens its window: a long message is cut with "…" to the
    space there is (the whole text is its tooltip). A plain QLabel's minimum width is its text's,
    and a long "finished" message pushed the window wider and the canvas with it."""

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's naming
        self._full = text
        self.setToolTip(text if text else "")
        super().setText(text)
        self._elide()

    def text(self) -> str:
        return getattr(self, "_full", super().text())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's naming
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's naming
        return QSize(0, super().sizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's naming
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        full = getattr(self, "_full", "")
        shown = self.fontMetrics().elidedText(full, Qt.TextElideMode.ElideRight, self.width())
        if shown != super().text():
            super().setText(shown)


class JobBar(QWidget):
    """Label, elapsed / remaining time, progress bar and the Cancel / Apply / Discard buttons.

    now: the clock `JobClock` reads (tests pass a fake one)."""

    stateChanged = Signal(str)  # idle · running · done · message

    def __init__(self, parent=None, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.label = ElidedLabel("")
        self.time_label = QLabel("")
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        widest = duration_text(59 * 60 + 59)  # the text ticks without moving what is beside it
        self.time_label.setMinimumWidth(
            self.time_label.fontMetrics().horizontalAdvance(
                f"{widest} elapsed, about {widest} left"
            )
        )
        self.clock = JobClock(self.time_label, now)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running edit (Esc)")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Keep the result (Enter); undo brings the old pixels back")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Throw the result away")
        layout.addWidget(self.label, 1)
        layout.addWidget(self.time_label)
        layout.addWidget(self.progress)
        for button in (self.cancel_button, self.apply_button, self.discard_button):
            layout.addWidget(button)
        self.state = ""
        # The bar keeps its place while idle and one height in every state: a bar that came and
        # went resized the canvas, and the image jumped under the user's cursor.
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self.setFixedHeight(self._tallest_height())
        self.set_state("idle")

    def _tallest_height(self) -> int:
        margins = self.layout().contentsMargins()
        tallest = max(
            w.sizeHint().height()
            for w in (self.label, self.progress, self.cancel_button, self.apply_button)
        )
        return tallest + margins.top() + margins.bottom()

    def set_state(self, state: str, text: str = "", *, finishable: bool = False) -> None:
        """idle (hidden) · running · done (Apply/Discard) · message (text only).

        finishable: while running, Apply shows too (an iterative edit can stop and keep what it
        has now)."""
        self.setVisible(state != "idle")
        self.label.setText(text)
        self.progress.setVisible(state == "running")
        self.cancel_button.setVisible(state == "running")
        self.apply_button.setVisible(state == "done" or (state == "running" and finishable))
        self.apply_button.setToolTip(
            "Stop now and keep what the preview shows (Ctrl+Return)"
            if state == "running"
            else "Keep the result (Ctrl+Return); undo brings the old pixels back"
        )
        self.discard_button.setVisible(state == "done")
        if state != "running":
            self.clock.stop()
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    def set_progress(self, fraction: float | None) -> None:
        self.clock.sample(fraction)
        if fraction is None or fraction < 0:
            self.progress.setRange(0, 0)  # busy indicator
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(round(fraction * 1000)))
