"""The in-app fast-style training job: a tiny run writes a loadable style and thumbnail, cancel
keeps a resumable checkpoint and never a half-written network, resume finishes it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editor.engine.edits import train_style_job as job
from editor.engine.jobs import JobCancelled, RunContext, drive
from editor.engine.models import fast_styles


def tiny_photos(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = np.kron(rng.random((6, 8, 3)), np.ones((12, 12, 1)))
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def stripes(h=48, w=48):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([np.sin(xx / 2.0), np.cos(yy / 3.0), np.sin((xx + yy) / 4.0)], -1)
    return ((img + 1) * 127.5).astype(np.uint8)


def tiny_request(tmp_path, **kw):
    values = dict(
        name="stripes",
        painting=stripes(),
        photos=tiny_photos(tmp_path / "photos"),
        folder=tmp_path / "fast",
        steps=4,
        size=64,
        painting_label="stripes.png",
        batch_size=1,
        channels=(8, 8, 8),
        blocks=1,
        report_every=1,
        preview_every_s=0.0,
    )
    values.update(kw)
    return job.TrainStyleRequest(**values)


def test_tiny_run_writes_a_listed_style_with_thumbnail(tmp_path, shared_models):
    updates = []
    out = drive(
        job.run(tiny_request(tmp_path), RunContext.for_folder(shared_models)), updates.append
    )
    assert out == tmp_path / "fast" / "stripes.safetensors" and out.is_file()
    assert (tmp_path / "fast" / "stripes.png").is_file()
    assert not job.checkpoint_path(tmp_path / "fast", "stripes").exists()
    assert [u for u in updates if u.preview is not None]
    assert updates[-1].progress == 1.0
    listed = [s for s in fast_styles.list_fast_styles(tmp_path / "fast") if not s.shipped]
    assert [s.name for s in listed] == ["stripes"]
    assert "Trained in SemEdit on stripes.png: 4 steps" in listed[0].description
    net = fast_styles.load_fast_style(out)
    assert net.channels == (8, 8, 8)


def test_cancel_keeps_a_checkpoint_and_no_network_then_resume_finishes(tmp_path, shared_models):
    ctx = RunContext.for_folder(shared_models)
    seen = []

    def cancel_after_two_steps(update):
        seen.append(update)
        if update.message.startswith("step 2/"):
            ctx.cancel_event.set()

    request = tiny_request(tmp_path, steps=6)
    with pytest.raises(JobCancelled):
        drive(job.run(request, ctx), cancel_after_two_steps)
    folder = tmp_path / "fast"
    assert not job.output_path(folder, "stripes").exists()
    assert not list(folder.rglob("*.tmp*"))
    (found,) = job.find_checkpoints(folder)
    # the run sees the flag after its next step (the engine would stop it at the yield)
    assert (found.name, found.step, found.total_steps, found.size) == ("stripes", 3, 6, 64)
    assert found.photos == tmp_path / "photos" and found.painting_label == "stripes.png"
    assert [s for s in fast_styles.list_fast_styles(folder) if not s.shipped] == []

    resumed = tiny_request(tmp_path, painting=None, resume=True, steps=6)
    updates = []
    out = drive(job.run(resumed, RunContext.for_folder(shared_models)), updates.append)
    steps = [u.message for u in updates if u.message.startswith("step ")]
    assert steps[0].startswith("step 4/6") and steps[-1].startswith("step 6/6")
    assert out.is_file() and job.find_checkpoints(folder) == []


def test_closing_the_generator_checkpoints_too(tmp_path, shared_models):
    run = job.run(tiny_request(tmp_path, steps=50), RunContext.for_folder(shared_models))
    for update in run:
        if update.message.startswith("step 3/"):
            break
    run.close()  # what the engine does when it stops a cancelled job
    (found,) = job.find_checkpoints(tmp_path / "fast")
    assert found.step == 3


def test_bad_requests_fail_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="style name"):
        drive(job.run(tiny_request(tmp_path, name="../evil"), RunContext()))
    with pytest.raises(ValueError, match="nothing to resume"):
        drive(job.run(tiny_request(tmp_path, resume=True), RunContext()))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no photos"):
        drive(job.run(tiny_request(tmp_path, photos=tmp_path / "empty"), RunContext()))
