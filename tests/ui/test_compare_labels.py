"""The compare split names its sides: "Before" left of the line, "After" right of it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage

from editor.core.document import Document
from editor.ui.canvas import CanvasView


@pytest.fixture
def canvas(qtbot):
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(420, 320)
    view.show()
    qtbot.waitExposed(view)
    image = np.full((300, 400, 3), 128, np.uint8)  # flat grey: the original looks the same
    view.set_document(Document(image=image))
    return view


def grab(view: CanvasView) -> np.ndarray:
    """The viewport as drawn now, (H, W, 4) uint8 in viewport (logical) pixels."""
    image = view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    image = image.scaled(view.viewport().size())  # one pixel per logical pixel on high DPI
    ptr = image.constBits()
    return (
        np.frombuffer(ptr, np.uint8)
        .reshape(image.height(), image.bytesPerLine())[:, : image.width() * 4]
        .reshape(image.height(), image.width(), 4)
        .copy()
    )


def changed_pixels(a: np.ndarray, b: np.ndarray, rect: QRectF) -> int:
    x0, y0 = int(rect.left()), int(rect.top())
    x1, y1 = int(rect.right()), int(rect.bottom())
    return int((np.abs(a[y0:y1, x0:x1].astype(int) - b[y0:y1, x0:x1]).sum(axis=2) > 60).sum())


def split_x(view: CanvasView) -> float:
    doc = view.document
    return view.mapFromScene(view.compare_split * doc.width, 0).x()


def test_labels_drawn_either_side_of_the_split_only_while_comparing(canvas):
    plain = grab(canvas)
    assert canvas.compare_label_rects() == {}
    canvas.set_compare(0.5)
    shown = grab(canvas)
    x = split_x(canvas)
    # where the labels belong, whatever draws them: the band at the top next to the line
    top = canvas.mapFromScene(0, 0).y()
    before_band = QRectF(x - 80, top + 4, 76, 30)
    after_band = QRectF(x + 4, top + 4, 76, 30)
    assert changed_pixels(plain, shown, before_band) > 40
    assert changed_pixels(plain, shown, after_band) > 40
    rects = canvas.compare_label_rects()
    assert set(rects) == {"Before", "After"}
    assert rects["Before"].right() <= x <= rects["After"].left()
    for rect in rects.values():
        assert changed_pixels(plain, shown, rect) > 40  # text and its backing were drawn
    canvas.set_compare(None)
    assert canvas.compare_label_rects() == {}
    assert changed_pixels(plain, grab(canvas), before_band.united(after_band)) == 0


def test_labels_keep_their_screen_size_at_any_zoom(canvas):
    canvas.set_compare(0.5)
    fitted = canvas.compare_label_rects()
    canvas.set_zoom(8.0)  # zoomed in around the centre: the split line stays in view
    zoomed = canvas.compare_label_rects()
    assert set(zoomed) == {"Before", "After"}
    for text in zoomed:
        assert zoomed[text].size() == fitted[text].size()
        assert QRectF(canvas.viewport().rect()).contains(zoomed[text])
    shown = grab(canvas)
    canvas.set_compare(None)
    plain = grab(canvas)
    for rect in zoomed.values():
        assert changed_pixels(plain, shown, rect) > 40


def test_only_the_side_on_screen_is_labelled(canvas):
    canvas.set_compare(0.5)
    canvas.set_zoom(8.0)
    # the image's left edge at the view's left: the split is far to the right
    half = canvas.viewport().width() / 2 / canvas.transform().m11()
    canvas.centerOn(QPointF(half, canvas.document.height / 2))
    rects = canvas.compare_label_rects()
    assert set(rects) == {"Before"}
    shown = grab(canvas)
    canvas.set_compare(None)
    assert changed_pixels(grab(canvas), shown, rects["Before"]) > 40
