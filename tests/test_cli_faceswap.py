"""`semedit faceswap`: writes the swapped image, fails in one line on a photo without a face."""

from __future__ import annotations

import numpy as np
from PIL import Image

from editor.cli import COMMANDS, main


def test_quick_swap_writes_the_image(shared_data, tmp_path):
    assert "faceswap" in COMMANDS
    faces = shared_data / "faces"
    image = faces / "obama" / "obama.jpg"
    out = tmp_path / "swapped.png"
    args = ["faceswap", str(image), "--face", str(faces / "biden" / "biden.jpg")]
    assert (
        main([*args, "--face", str(faces / "biden" / "biden2.jpg"), "--quick", "-o", str(out)]) == 0
    )
    result, original = np.asarray(Image.open(out)), np.asarray(Image.open(image).convert("RGB"))
    assert result.shape == original.shape and not np.array_equal(result, original)


def test_errors_are_one_line(shared_data, tmp_path, capsys):
    faces = shared_data / "faces"
    photo = str(faces / "biden" / "biden.jpg")
    landscape = str(shared_data / "content" / "tubingen.jpg")
    out = str(tmp_path / "o.png")
    assert main(["faceswap", landscape, "--face", photo, "--quick", "-o", out]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no face found in the image" in err
    image = str(faces / "obama" / "obama.jpg")
    empty = str(tmp_path / "no-models")
    assert main(["faceswap", image, "--face", photo, "--models", empty, "-o", out]) == 1
    assert "vgg19" in capsys.readouterr().err  # the full mode needs the feature weights
    assert main(["faceswap", photo, "--face", photo, "--quick", "-o", photo]) == 1
    assert "is an input" in capsys.readouterr().err
