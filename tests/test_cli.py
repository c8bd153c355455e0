"""`semedit` on the command line: remove round trip, one-line errors, models list/import, no Qt."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor.cli import COMMANDS, ProgressBar, main
from editor.core.imageio import load_image, save_image
from editor.engine.store import user_models_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def photo(shared_data: Path, tmp_path: Path) -> Path:
    """A copy of a real photo (the copy may be written next to; the shared one is read-only)."""
    copy = tmp_path / "golden_gate.jpg"
    shutil.copyfile(shared_data / "content" / "golden_gate.jpg", copy)
    return copy


def painted_mask(size: tuple[int, int], path: Path) -> np.ndarray:
    """A white blob painted on black at (width, height) `size`, saved as PNG; returns it as bool."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    blob = ((xx - width * 0.4) / 30) ** 2 + ((yy - height * 0.5) / 20) ** 2 <= 1
    blob[10:14, 20:80] = True  # a brush stroke near the top
    Image.fromarray((blob * 255).astype(np.uint8), mode="L").save(path)
    return blob


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_commands_routed_here(capsys):
    assert {"remove", "upscale", "style", "texture", "models", "train-upscaler"} <= COMMANDS
    for command in COMMANDS:  # every routed name is a command the CLI knows
        assert main([command, "--help"]) == 0, command
        assert "usage" in capsys.readouterr().out.lower(), command


def test_remove_round_trip(photo, tmp_path, capsys):
    original = load_image(photo).pixels
    height, width = original.shape[:2]
    blob = painted_mask((width, height), tmp_path / "mask.png")
    out = tmp_path / "out.png"

    code = main(
        [
            "remove",
            str(photo),
            "--mask",
            str(tmp_path / "mask.png"),
            "-o",
            str(out),
            "--method",
            "ns",
            "--radius",
            "3",
            "--device",
            "cpu",
        ]
    )

    assert code == 0, capsys.readouterr().err
    result = np.asarray(Image.open(out).convert("RGB"))
    assert result.shape == original.shape
    assert np.array_equal(result[~blob], original[~blob])
    assert np.abs(result[blob].astype(int) - original[blob].astype(int)).mean() > 1
    # Running it again over the existing output is allowed (batch reruns).
    assert main(["remove", str(photo), "--mask", str(tmp_path / "mask.png"), "-o", str(out)]) == 0


def test_remove_refuses_to_overwrite_its_input(photo, tmp_path, capsys):
    original = photo.read_bytes()
    h, w = load_image(photo).pixels.shape[:2]
    painted_mask((w, h), tmp_path / "mask.png")
    code = main(["remove", str(photo), "--mask", str(tmp_path / "mask.png"), "-o", str(photo)])
    assert code == 1
    assert "input image" in capsys.readouterr().err
    assert photo.read_bytes() == original


def test_missing_input_is_one_line_exit_1(tmp_path, capsys):
    code = main(
        [
            "remove",
            str(tmp_path / "nope.jpg"),
            "--mask",
            str(tmp_path / "m.png"),
            "-o",
            str(tmp_path / "o.png"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert len(error_lines(err)) == 1 and err.startswith("semedit: error: ")
    assert "nope.jpg" in err and "Traceback" not in err


def test_wrong_size_mask_names_both_sizes(photo, tmp_path, capsys):
    h, w = load_image(photo).pixels.shape[:2]
    Image.new("L", (10, 12), 255).save(tmp_path / "small.png")
    code = main(
        ["remove", str(photo), "--mask", str(tmp_path / "small.png"), "-o", str(tmp_path / "o.png")]
    )
    err = capsys.readouterr().err
    assert code == 1 and len(error_lines(err)) == 1
    assert "10×12" in err and f"{w}×{h}" in err
    assert not (tmp_path / "o.png").exists()


def test_empty_mask_is_a_one_line_error(photo, tmp_path, capsys):
    h, w = load_image(photo).pixels.shape[:2]
    Image.new("L", (w, h), 0).save(tmp_path / "empty.png")
    code = main(
        ["remove", str(photo), "--mask", str(tmp_path / "empty.png"), "-o", str(tmp_path / "o.png")]
    )
    assert code == 1 and "empty" in capsys.readouterr().err


def test_unknown_method_is_a_usage_error(photo, tmp_path, capsys):
    code = main(["remove", str(photo), "--mask", "m.png", "-o", "o.png", "--method", "magic"])
    assert code == 2
    assert "magic" in capsys.readouterr().err


def test_models_list_shows_shared_weights_present(shared_models, capsys):
    assert main(["models", "list", "--models", str(shared_models)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("vgg19-conv3 "))
    assert "present" in row and str(shared_models) in row and "CC BY 4.0" in row
    tv = next(line for line in out.splitlines() if line.startswith("vgg19-torchvision "))
    assert "missing" in tv


def test_models_list_shows_the_built_in_upscalers(tmp_path, monkeypatch, capsys):
    gan = tmp_path / "semedit-gan-x4.safetensors"
    gan.write_bytes(b"weights")
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_gan_path", lambda: gan)
    assert main(["models", "list", "--models", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("semedit-gan-x4 "))
    assert "built in" in row and str(gan) in row and "MIT" in row
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_gan_path", lambda: None)
    assert main(["models", "list", "--models", str(tmp_path / "none")]) == 0
    assert "semedit-gan-x4" not in capsys.readouterr().out


def test_models_import_copies_into_the_user_dir(shared_models, tmp_path, capsys):
    copy = tmp_path / "decoder-from-somewhere.pth"
    shutil.copyfile(shared_models / "wct16x" / "decoder1.pth", copy)
    assert main(["models", "import", str(copy)]) == 0
    dest = user_models_dir() / "wct16x" / "decoder1.pth"
    assert dest.read_bytes() == copy.read_bytes()
    assert "wct16x" in capsys.readouterr().out
    assert str(user_models_dir()).startswith(os.environ["XDG_DATA_HOME"])


def test_models_import_of_an_unknown_file_fails(tmp_path, capsys):
    (tmp_path / "junk.bin").write_bytes(b"junk")
    assert main(["models", "import", str(tmp_path / "junk.bin")]) == 1
    assert len(error_lines(capsys.readouterr().err)) == 1


def test_models_fetch_without_a_url_says_where_to_put_the_file(capsys):
    assert main(["models", "fetch", "vgg19-conv3"]) == 1
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1
    assert "vgg19/vgg19_conv1_1-conv3_4.safetensors" in err and str(user_models_dir()) in err
    assert main(["models", "fetch", "no-such-model"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_progress_bar_draws_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = ProgressBar(tty)
    bar.update(0.42, "Removing", force=True)
    bar.close()
    assert tty.getvalue().startswith("\r[") and "42% Removing" in tty.getvalue()
    quiet = io.StringIO()
    ProgressBar(quiet).update(0.5, "x", force=True)
    assert quiet.getvalue() == ""


def test_runs_without_a_display_or_qt(photo, tmp_path):
    h, w = load_image(photo).pixels.shape[:2]
    painted_mask((w, h), tmp_path / "mask.png")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")
    }
    argv = [
        "remove",
        str(photo),
        "--mask",
        str(tmp_path / "mask.png"),
        "-o",
        str(tmp_path / "out.png"),
    ]
    script = (
        "import sys, editor.cli\n"
        "assert 'PySide6' not in sys.modules, 'imported Qt'\n"
        f"code = editor.cli.main({argv!r})\n"
        "assert 'PySide6' not in sys.modules, 'remove imported Qt'\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.png").is_file()
    usage = subprocess.run(
        [sys.executable, "-m", "editor.cli", "models", "frobnicate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def _remove(image: Path, mask: Path, out: Path, *extra: str) -> int:
    return main(["remove", str(image), "--mask", str(mask), "-o", str(out), *extra])


def test_remove_defaults_to_refined_and_falls_back_to_quick_without_weights(
    photo, tmp_path, capsys
):
    original = load_image(photo).pixels
    height, width = original.shape[:2]
    blob = painted_mask((width, height), tmp_path / "mask.png")
    out = tmp_path / "out.png"
    assert _remove(photo, tmp_path / "mask.png", out) == 0
    assert "using quick" in capsys.readouterr().err
    result = load_image(out).pixels
    far = ~binary_dilation(blob, 8)
    assert np.array_equal(result[far], original[far])
    assert np.abs(result[blob].astype(int) - original[blob].astype(int)).mean() > 1


def test_remove_refined_with_the_shared_weights(shared_data, shared_models, tmp_path, capsys):
    crop = load_image(shared_data / "content" / "tubingen.jpg").pixels[100:260, 200:420]
    save_image(tmp_path / "crop.png", crop)
    blob = painted_mask((crop.shape[1], crop.shape[0]), tmp_path / "mask.png")
    out = tmp_path / "out.png"
    code = _remove(
        tmp_path / "crop.png", tmp_path / "mask.png", out, "--models", str(shared_models)
    )
    assert code == 0
    assert "using quick" not in capsys.readouterr().err
    result = load_image(out).pixels
    assert result.shape == crop.shape
    assert not np.array_equal(result[blob], crop[blob])


def binary_dilation(mask: np.ndarray, px: int) -> np.ndarray:
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0
