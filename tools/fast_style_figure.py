"""A contact sheet of the shipped fast styles on the shared content photos.

    .venv/bin/python tools/fast_style_figure.py [-o training/styles/contact_sheet.jpg]

Rows: the photos of ../shared/data/content (long side 384); columns: the photo, then each
style in editor/resources/models/styles/. One forward pass per cell, one thread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, safe_open

from editor.ops.transform_net import load_transform_net

REPO = Path(__file__).resolve().parents[1]
STYLES = REPO / "editor" / "resources" / "models" / "styles"
CONTENT = REPO.parent / "shared" / "data" / "content"


def _load(path: Path, side: int) -> torch.Tensor:
    img = Image.open(path).convert("RGB")
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(img, np.float32) / 255.0).permute(2, 0, 1)[None]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", type=Path, default=REPO / "training/styles/contact_sheet.jpg")
    p.add_argument("--side", type=int, default=384)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    nets = []
    names = [path.stem for path in sorted(STYLES.glob("*.safetensors"))]
    for path in sorted(STYLES.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata()
        nets.append(load_transform_net(load_file(str(path)), meta))
    rows = []
    for photo_path in sorted(CONTENT.glob("*.jpg")):
        photo = _load(photo_path, a.side)
        cells = [photo]
        with torch.inference_mode():
            cells += [net(photo) for net in nets]
        rows.append(torch.cat(cells, -1))  # same size: each net keeps its input's size
    width = max(r.shape[-1] for r in rows)
    rows = [F.pad(r, (0, width - r.shape[-1]), value=1.0) for r in rows]
    sheet = torch.cat(rows, -2)[0].permute(1, 2, 0).clamp(0, 1).numpy()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((sheet * 255 + 0.5).astype(np.uint8)).save(a.out, quality=88)
    print(f"{a.out}: {len(rows)} photos x {len(nets)} styles ({', '.join(names)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
