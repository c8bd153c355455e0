"""Canvas drawing cost on a 6000x4000 photo: tiled + mipmapped item vs one big QPixmap.

Prints a Markdown table of milliseconds per full repaint of a 1280x800 viewport at several zooms,
cold (first paint after opening / after a change) and warm (cache filled), plus the cost of the
redraw after a 100-px brush dab. The baseline is a QGraphicsPixmapItem holding the whole image,
measured in the same run.

    .venv/bin/python benchmarks/bench_canvas.py [--smoke]

``--smoke`` renders each zoom once cold and once warm: it checks the benchmark still runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from _smoke import add_smoke_option, announce_smoke  # noqa: E402
from PySide6.QtCore import QRectF, Qt  # noqa: E402
from PySide6.QtGui import QImage, QPainter, QPixmap  # noqa: E402
from PySide6.QtWidgets import QApplication, QGraphicsPixmapItem, QGraphicsScene  # noqa: E402

from editor.core.document import Document  # noqa: E402
from editor.core.geometry import Rect  # noqa: E402
from editor.ui.canvas import CanvasView  # noqa: E402
from editor.ui.qimage import qimage_from_pixels  # noqa: E402

W, H = 6000, 4000
VIEW_W, VIEW_H = 1280, 800


def _render(scene: QGraphicsScene, source: QRectF) -> float:
    target = QImage(VIEW_W, VIEW_H, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(target)
    t0 = time.perf_counter()
    scene.render(painter, QRectF(0, 0, VIEW_W, VIEW_H), source)
    elapsed = time.perf_counter() - t0
    painter.end()
    return elapsed * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_smoke_option(parser)
    args = parser.parse_args(argv)
    # Smoke keeps the image size (the zoom windows are placed for it) and every zoom and case.
    warm_runs, naive_runs = (1, 1) if args.smoke else (5, 3)
    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    doc = Document(image=image)
    doc.mask[1000:2000, 1000:3000] = 255
    view = CanvasView()
    view.set_document(doc)
    tiled_scene = view.scene()

    t0 = time.perf_counter()
    naive_scene = QGraphicsScene()
    item = QGraphicsPixmapItem(QPixmap.fromImage(qimage_from_pixels(image)))
    item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
    naive_scene.addItem(item)
    naive_setup = (time.perf_counter() - t0) * 1000

    zooms = {"fit (0.2x)": 0.2, "50 %": 0.5, "100 %": 1.0, "400 %": 4.0}
    rows = []
    for label, zoom in zooms.items():
        source = QRectF(1500, 1000, VIEW_W / zoom, VIEW_H / zoom)
        if zoom == 0.2:
            source = QRectF(0, 0, W, H)
        view._image_item.invalidate(None)
        view._mask_item.invalidate(None)
        cold = _render(tiled_scene, source)
        warm = statistics.median(_render(tiled_scene, source) for _ in range(warm_runs))
        naive = statistics.median(_render(naive_scene, source) for _ in range(naive_runs))
        rows.append((label, cold, warm, naive))

    # A brush dab invalidates its tiles; the next repaint rebuilds just those.
    source = QRectF(1500, 1000, VIEW_W, VIEW_H)
    _render(tiled_scene, source)
    dab = Rect(2000, 1400, 100, 100)
    doc.mask[dab.slices] = 128
    doc.notify("mask", dab)
    after_dab = _render(tiled_scene, source)

    if args.smoke:
        announce_smoke()
    print(f"Canvas repaint of a {VIEW_W}x{VIEW_H} view of a {W}x{H} RGB image (ms, median)\n")
    print("| zoom | tiled, cold | tiled, warm | baseline: one QPixmap | warm speed-up |")
    print("|---|---:|---:|---:|---:|")
    for label, cold, warm, naive in rows:
        print(f"| {label} | {cold:.1f} | {warm:.1f} | {naive:.1f} | {naive / warm:.1f}x |")
    print(
        f"\nBaseline setup (whole image to QPixmap): {naive_setup:.0f} ms, paid again on every"
        f" change; tiled repaint after a 100 px dab at 100 %: {after_dab:.1f} ms."
    )
    app.quit()


if __name__ == "__main__":
    main()
