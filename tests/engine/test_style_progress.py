"""A Gatys run shows movement inside its L-BFGS steps: each evaluation of the loss is reported as
a sub-step (an iteration runs several, and on a large image each takes seconds), and the engine
passes those on to the UI."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from editor.engine.edits.style import StyleRegion, StyleRequest, run
from editor.engine.jobs import JobCancelled, RunContext, Update, drive
from editor.engine.worker import Engine


@pytest.fixture
def painting(shared_data) -> np.ndarray:
    import cv2

    from editor.core.imageio import load_image

    pixels = load_image(shared_data / "style" / "starry_night.jpg").pixels
    return cv2.resize(pixels, (96, 76), interpolation=cv2.INTER_AREA)


def test_gatys_reports_each_evaluation_between_its_steps(rgb_image, painting, shared_models):
    request = StyleRequest(rgb_image, (StyleRegion(painting),), iterations=6)
    ctx = RunContext.for_folder(shared_models)
    updates: list[Update] = []
    drive(run(request, ctx), updates.append, ctx)

    steps = [u for u in updates if u.preview is not None]  # one per chunk of iterations
    substeps = [u for u in updates if "evaluation" in u.message]
    print(f"\n{len(steps)} steps, {len(substeps)} sub-steps: {[u.message for u in updates]}")
    assert steps and len(substeps) > len(steps)
    # Each iteration reports at least once, so the counter the user reads moves in every one.
    last_iteration = int(steps[-1].message.rsplit(" ", 1)[1])
    assert len({u.message for u in substeps}) >= last_iteration
    progress = [u.progress for u in updates if u.progress is not None]
    assert progress == sorted(progress)  # sub-steps never run ahead of the steps


def test_cancel_stops_inside_a_step_within_one_evaluation(rgb_image, painting, shared_models):
    request = StyleRequest(rgb_image, (StyleRegion(painting),), iterations=6)
    ctx = RunContext.for_folder(shared_models)
    substeps: list[Update] = []

    def on_update(update: Update) -> None:
        if "evaluation" in update.message:
            substeps.append(update)
            ctx.cancel_event.set()  # the user presses Cancel during the first evaluation

    with pytest.raises(JobCancelled):
        drive(run(request, ctx), on_update, ctx)
    assert len(substeps) == 1  # not the rest of the step's iterations first


def test_the_engine_passes_sub_steps_on_as_progress(qtbot, monkeypatch):
    from editor.engine import worker

    ticks = itertools.count(0.0, 1.0)  # a clock where a second passes between any two looks
    monkeypatch.setattr(worker, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    engine = Engine(device="cpu")
    messages: list[str] = []
    engine.progress.connect(lambda job, fraction, text: messages.append(text))

    def one_long_call(ctx: RunContext):
        yield Update(progress=0.0, message="starting")
        for i in range(3):  # e.g. evaluations inside one optimiser step: nothing is yielded
            ctx.report(Update(progress=0.1 * i, message=f"evaluation {i + 1}"))
        yield Update(progress=0.9, message="done")
        return None

    try:
        with qtbot.waitSignal(engine.finished, timeout=5000):
            engine.submit("long call", one_long_call)
    finally:
        engine.shutdown()
    assert messages == ["starting", "evaluation 1", "evaluation 2", "evaluation 3", "done"]


def test_sub_steps_are_throttled_by_time_alone_and_steps_by_message_too():
    from editor.engine.worker import _ProgressGate

    gate = _ProgressGate()
    assert gate.passes(Update(message="level 1, iteration 3"), 10.0)
    assert not gate.passes(Update(message="level 1, iteration 4, evaluation 1"), 10.01,
                           substep=True)  # fmt: skip
    assert gate.passes(Update(message="level 1, iteration 4, evaluation 2"), 10.06, substep=True)
    assert not gate.passes(Update(message="level 1, iteration 4, evaluation 2"), 10.07)
    assert gate.passes(Update(message="level 1, iteration 4"), 10.08)  # a step's news
