"""A QGraphicsItem that draws a large array in cached tiles with mipmaps.

Why not one QPixmap: a 24 MP photo would be converted whole on every change and scaled whole on
every repaint when zoomed out. Here only the tiles under the viewport are converted, a change
invalidates only its tiles, and zoomed-out views read a pre-shrunk level (crisp nearest-neighbour
pixels above 100 %, smooth area-averaged ones below).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from editor.core.geometry import Rect

TILE = 256  # tile edge in level pixels
MAX_LEVEL = 6  # 1/64 zoom is the coarsest cached level
CACHE_TILES = 768  # ~192 MB of tiles at most

Renderer = Callable[[np.ndarray], "QImage | None"]
"""Turns a (possibly shrunk) block of the source array into a QImage; None draws nothing."""


class TiledArrayItem(QGraphicsItem):
    """Draws `source()` (an (H, W[, C]) array in scene pixel units) through `render`."""

    def __init__(self, source: Callable[[], np.ndarray], render: Renderer, parent=None) -> None:
        super().__init__(parent)
        self._source = source
        self._render = render
        self._cache: OrderedDict[tuple[int, int, int], QImage | None] = OrderedDict()
        self._clip_right: float | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    # --- geometry ----------------------------------------------------------------------------

    def boundingRect(self) -> QRectF:
        h, w = self._source().shape[:2]
        return QRectF(0, 0, w, h)

    def set_clip_right(self, x: float | None) -> None:
        """Draw only the part left of scene x (None: everything): the before side of a split."""
        self._clip_right = x
        self.update()

    # --- cache -------------------------------------------------------------------------------

    def invalidate(self, rect: Rect | None = None) -> None:
        """Forget the tiles that `rect` touches at every level (None: all) and repaint them."""
        if rect is None:
            self._cache.clear()
            self.prepareGeometryChange()
            self.update()
            return
        for key in [k for k in self._cache if _tile_rect(*k).intersect(rect).area > 0]:
            del self._cache[key]
        self.update(QRectF(rect.x, rect.y, rect.w, rect.h))

    def _tile(self, level: int, row: int, col: int) -> QImage | None:
        key = (level, row, col)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        src = self._source()
        rect = _tile_rect(level, row, col).clip(src.shape[1], src.shape[0])
        block = src[rect.slices]
        if level > 0:
            size = (max(1, math.ceil(rect.w / 2**level)), max(1, math.ceil(rect.h / 2**level)))
            block = cv2.resize(block, size, interpolation=cv2.INTER_AREA)
            if src.ndim == 3 and block.ndim == 2:
                block = block[..., None]
        image = self._render(block)
        self._cache[key] = image
        if len(self._cache) > CACHE_TILES:
            self._cache.popitem(last=False)
        return image

    # --- drawing -----------------------------------------------------------------------------

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        src = self._source()
        h, w = src.shape[:2]
        exposed = option.exposedRect.intersected(QRectF(0, 0, w, h))
        if self._clip_right is not None:
            exposed = exposed.intersected(QRectF(0, 0, max(0.0, self._clip_right), h))
        if exposed.isEmpty():
            return
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        scale = painter.worldTransform().m11() * dpr
        level = 0 if scale >= 1 else min(MAX_LEVEL, int(math.floor(math.log2(1.0 / scale))))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1)
        painter.save()
        painter.setClipRect(exposed)
        span = TILE * 2**level
        r0, r1 = int(exposed.top() // span), int(math.ceil(exposed.bottom() / span))
        c0, c1 = int(exposed.left() // span), int(math.ceil(exposed.right() / span))
        for row in range(r0, r1):
            for col in range(c0, c1):
                image = self._tile(level, row, col)
                if image is None:
                    continue
                tile = _tile_rect(level, row, col).clip(w, h)
                painter.drawImage(QRectF(tile.x, tile.y, tile.w, tile.h), image)
        painter.restore()


def _tile_rect(level: int, row: int, col: int) -> Rect:
    span = TILE * 2**level
    return Rect(col * span, row * span, span, span)
