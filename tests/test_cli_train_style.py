"""`semedit train-style`: writes a loadable network, resumes, and fails in one line."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from safetensors.torch import load_file, safe_open

from editor.cli import COMMANDS, main
from editor.ops.style_train import NEW_STYLE_INPUT_NOISE
from editor.ops.transform_net import load_transform_net


def _photos(folder, n=2):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = np.kron(rng.random((6, 8, 3)), np.ones((8, 8, 1)))
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def _style(path):
    yy, xx = np.mgrid[0:40, 0:40]
    img = np.stack([np.sin(xx / 2.0), np.cos(yy / 3.0), np.sin((xx + yy) / 4.0)], -1)
    Image.fromarray(((img + 1) * 127.5).astype(np.uint8)).save(path)
    return path


def _args(style, photos, out, models, steps, *extra):
    return [
        "train-style",
        str(style),
        "--images",
        str(photos),
        "-o",
        str(out),
        "--steps",
        str(steps),
        "--size",
        "32",
        "--batch",
        "1",
        "--channels",
        "8",
        "16",
        "16",
        "--blocks",
        "1",
        "--report-every",
        "1",
        "--models-dir",
        str(models),
        *extra,
    ]


def test_writes_a_loadable_network_and_resumes(tmp_path, shared_models):
    assert "train-style" in COMMANDS
    photos = _photos(tmp_path / "photos")
    style = _style(tmp_path / "stripes.png")
    out = tmp_path / "stripes.safetensors"
    assert main(_args(style, photos, out, shared_models, 2)) == 0
    with safe_open(str(out), framework="pt") as f:
        meta = f.metadata()
    assert meta["style"] == "stripes" and meta["steps"] == "2"
    assert "Johnson" in meta["training"]
    net = load_transform_net(load_file(str(out)), meta)
    assert net.channels == (8, 16, 16)
    assert net.input_noise == NEW_STYLE_INPUT_NOISE > 0  # new styles paint flat areas too
    assert (tmp_path / "stripes_preview.png").exists()

    assert main(_args(style, photos, out, shared_models, 3, "--resume")) == 0
    log = (tmp_path / "stripes.log").read_text()
    assert "at step 2" in log and "step 3/3" in log

    # Fine-tuning towards more style, on bigger batches and crops (a GPU): the new values replace
    # the saved ones on resume; Adam's state carries over.
    tune = ("--resume", "--style-weight", "9", "--batch", "2", "--size", "48", "--lr", "3e-4",
            "--input-noise", "0.1")  # fmt: skip
    assert main(_args(style, photos, out, shared_models, 4, *tune)) == 0
    with safe_open(str(out), framework="pt") as f:
        config = json.loads(f.metadata()["train_config"])
    assert (config["style_weight"], config["batch_size"], config["crop"]) == (9.0, 2, 48)
    assert config["learning_rate"] == 3e-4
    assert config["schedule_start"] == 3  # the new rate warms up from the resumed step
    assert config["input_noise"] == 0.1
    assert "step 4/4" in (tmp_path / "stripes.log").read_text()


def test_resume_refuses_crops_larger_than_the_photos(tmp_path, shared_models, capsys):
    photos = _photos(tmp_path / "photos")
    style = _style(tmp_path / "stripes.png")
    out = tmp_path / "stripes.safetensors"
    assert main(_args(style, photos, out, shared_models, 1)) == 0
    code = main(_args(style, photos, out, shared_models, 2, "--resume", "--size", "80"))
    assert code != 0
    assert "larger than the photos' short side 64" in capsys.readouterr().err


def test_missing_style_image_is_a_one_line_error(tmp_path, capsys):
    photos = _photos(tmp_path / "photos")
    code = main(_args(tmp_path / "nope.jpg", photos, tmp_path / "o.safetensors", tmp_path, 2))
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "nope.jpg" in err and "not found" in err


def test_empty_image_folder_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    style = _style(tmp_path / "s.png")
    code = main(_args(style, tmp_path / "empty", tmp_path / "o.safetensors", tmp_path, 2))
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "no images" in err
