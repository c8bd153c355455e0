"""Cycles are freed on the GUI thread, never on a worker that happens to allocate."""

from __future__ import annotations

import gc
import threading

from editor.ui.main_thread_gc import MainThreadGC


class _Cycle:
    """Remembers which thread freed it."""

    freed_on: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Cycle.freed_on.append(threading.current_thread().name)


def _allocate_on_a_worker() -> None:
    """Enough container allocations that CPython would run a collection here."""

    def churn() -> None:
        keep = [[] for _ in range(20 * gc.get_threshold()[0])]
        del keep

    worker = threading.Thread(target=churn, name="worker")
    worker.start()
    worker.join()


def test_a_worker_never_frees_a_cycle_and_the_gui_thread_does(qtbot):
    collector = MainThreadGC(interval_ms=20)
    try:
        _Cycle.freed_on.clear()
        for _ in range(gc.get_threshold()[0]):  # garbage at once, that only a collection frees,
            _Cycle()  # and enough of it to pass CPython's threshold for a collection
        _allocate_on_a_worker()
        assert _Cycle.freed_on == []
        qtbot.waitUntil(lambda: bool(_Cycle.freed_on), timeout=3000)
        assert set(_Cycle.freed_on) == {threading.main_thread().name}
    finally:
        collector.stop()


def test_stop_restores_what_it_found(qtbot):
    was = gc.isenabled()  # the suite's own collector (conftest) may hold it already
    gc.enable()
    try:
        collector = MainThreadGC()
        assert not gc.isenabled()
        collector.stop()
        assert gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()
