"""The job bar keeps a running edit visibly alive: the elapsed time ticks every second while the
engine sends nothing (one long optimiser step), and the time left appears once the pace is known.
The clock is fake and the bar's timer is fired by hand: nothing here waits for real seconds."""

from __future__ import annotations

import threading

import pytest
from shown_window import shown_window

from editor.core.imageio import save_image
from editor.engine.jobs import Update


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, rgb_image):
    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    with shown_window(qtbot, monkeypatch, tmp_path, size=(900, 700)) as win:
        win.open_path(path)
        yield win


def test_elapsed_and_time_left_tick_without_engine_signals(window, qtbot, rgb_image):
    bar, clock = window.job_bar, window.job_bar.clock
    now = [1000.0]
    clock.now = lambda: now[0]
    signals: list[str] = []
    window.engine.progress.connect(lambda job, fraction, text: signals.append(text))
    gates = [threading.Event(), threading.Event()]

    def long_steps(ctx):
        yield Update(progress=0.0, message="one long step")
        gates[0].wait(10)  # deep in a step: the engine has nothing to say
        yield Update(progress=0.25, message="the next step")
        gates[1].wait(10)
        return 255 - rgb_image

    window.session.submit("Stylise", long_steps)
    try:
        qtbot.waitUntil(lambda: "one long step" in bar.label.text(), timeout=5000)
        assert clock.timer.isActive() and clock.timer.interval() <= 1000
        assert bar.time_label.isVisible()
        heard = len(signals)
        shown = []
        for _ in range(4):
            now[0] += 1.0
            clock.timer.timeout.emit()  # what the running QTimer does twice a second
            shown.append(bar.time_label.text())
        assert len(signals) == heard  # no engine signal, yet the bar moved every second
        assert shown == [f"0:0{s} elapsed" for s in (1, 2, 3, 4)]  # no guess at 0 % done

        now[0] = 1010.0
        gates[0].set()
        qtbot.waitUntil(lambda: "the next step" in bar.label.text(), timeout=5000)
        assert bar.time_label.text() == "0:10 elapsed, about 0:30 left"  # 25 % in 10 s
        now[0] += 1.0
        clock.timer.timeout.emit()
        assert bar.time_label.text() == "0:11 elapsed, about 0:29 left"
        now[0] = 1045.0  # the estimate ran out and the job goes on: no promise to break again
        clock.timer.timeout.emit()
        assert bar.time_label.text() == "0:45 elapsed"
    finally:
        for gate in gates:
            gate.set()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    assert not clock.timer.isActive() and not bar.time_label.isVisible()
    assert "finished" in bar.label.text()


def test_hours_read_as_hours():
    from editor.ui.job_bar import duration_text

    assert [duration_text(s) for s in (0, 59.9, 61, 3599, 3600, 7384)] == [
        "0:00", "0:59", "1:01", "59:59", "1:00:00", "2:03:04",
    ]  # fmt: skip


def test_the_train_dialog_shows_the_same_clock(qtbot, tmp_path):
    from editor.engine.worker import Engine
    from editor.ui.train_style_dialog import TrainStyleDialog

    engine = Engine(device="cpu")
    dialog = TrainStyleDialog(engine, tmp_path / "styles")
    qtbot.addWidget(dialog)
    dialog.show()
    now = [50.0]
    dialog.clock.now = lambda: now[0]
    try:
        dialog.job_id = 7  # as `start` sets it; the engine's signals for that job follow
        engine.started.emit(7, "Train style mine")
        engine.progress.emit(7, 0.0, "step 0")
        now[0] += 4.0
        engine.progress.emit(7, 0.1, "step 100")  # 10 % in 4 s
        assert dialog.time_label.text() == "0:04 elapsed, about 0:36 left"
        now[0] += 1.0
        dialog.clock.timer.timeout.emit()
        assert dialog.time_label.text() == "0:05 elapsed, about 0:35 left"
        engine.failed.emit(7, "out of photos")
        assert not dialog.clock.timer.isActive() and not dialog.time_label.isVisible()
    finally:
        engine.shutdown()
