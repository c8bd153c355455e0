"""Thumbnails of the shipped fast styles: the painting each was trained on, 96 px, beside its
weights (editor/resources/models/styles/<name>.png), where the Styles panel looks for them.

    .venv/bin/python tools/style_thumbnails.py

The painting is read from the file named in the weights' metadata (`style`), so only
public-domain paintings that were shipped get a picture.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from safetensors import safe_open

REPO = Path(__file__).resolve().parents[1]
STYLES = REPO / "editor" / "resources" / "models" / "styles"
SHARED_DATA = REPO.parent / "shared" / "data"
SIDE = 96


def painting_of(weights: Path) -> Path | None:
    with safe_open(str(weights), "pt") as f:
        meta = f.metadata() or {}
    for key in ("style_file", "style", "style_image"):
        name = Path(meta.get(key, "")).name
        for folder in ("style", "style_fast"):
            if name and (SHARED_DATA / folder / name).is_file():
                return SHARED_DATA / folder / name
    return None


def main() -> None:
    for weights in sorted(STYLES.glob("*.safetensors")):
        painting = painting_of(weights)
        if painting is None:
            print(f"{weights.name}: no painting found in its metadata; skipped")
            continue
        image = Image.open(painting).convert("RGB")
        image.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
        out = weights.with_suffix(".png")
        image.save(out, optimize=True)
        print(f"{out.relative_to(REPO)} <- {painting.name} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
