"""The canvas: a QGraphicsView showing the document, its mask overlay, edit previews and tools.

Scene units are image pixels (scene (x, y) is pixel column x, row y), so tools, previews and
undo rectangles all speak the same coordinates. Zoom is the view's transform; 100 % means one
image pixel per physical screen pixel, so high-DPI screens show pixels 1:1 too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

from editor.core.document import Document, Layer
from editor.core.geometry import Rect
from editor.ui.qimage import overlay_rgba, qimage_from_pixels, qimage_from_rgba
from editor.ui.tiles import TiledArrayItem

if TYPE_CHECKING:
    from editor.ui.tools import Tool

MIN_ZOOM, MAX_ZOOM = 1 / 64, 64.0
ZOOM_STEP = 1.25
CHECKER = 8  # checkerboard square, screen pixels
# The scene reaches this many image sizes beyond each side of the image (a pasteboard), so the
# view never has to centre a scene smaller than itself: panels and the job bar appearing or a
# window resize leave the image where it is on screen.
PASTEBOARD = 64
EMPTY_HINT = "Open an image (Ctrl+O) or drop one here"
COMPARE_LABELS = ("Before", "After")  # left and right of the compare split
LABEL_MARGIN, LABEL_PADDING = 8, 5  # screen pixels


def _checker_brush() -> QBrush:
    pix = QPixmap(2 * CHECKER, 2 * CHECKER)
    pix.fill(QColor(204, 204, 204))
    p = QPainter(pix)
    p.fillRect(0, 0, CHECKER, CHECKER, QColor(153, 153, 153))
    p.fillRect(CHECKER, CHECKER, CHECKER, CHECKER, QColor(153, 153, 153))
    p.end()
    return QBrush(pix)


class CanvasView(QGraphicsView):
    """Zoomable, pannable view of one document; tools receive image-pixel coordinates."""

    cursorMoved = Signal(int, int)  # image pixel under the cursor, (-1, -1) outside
    zoomChanged = Signal(float)  # image px -> physical px
    viewportChanged = Signal(object)  # Rect of the image visible now (for tile priorities)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        # The image stays put on screen when the view changes size (a dock or the job bar
        # appears), and no scroll bar pops in to shift it: panning is Space+drag, the middle
        # button or a horizontal scroll.
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # drops go to the main window
        self.viewport().setAcceptDrops(False)
        self._checker = _checker_brush()
        self.document: Document | None = None
        self._image_item: TiledArrayItem | None = None
        self._original_item: TiledArrayItem | None = None
        self._mask_item: TiledArrayItem | None = None
        self._preview_item = QGraphicsPixmapItem()
        self._preview_item.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self._preview_item.setZValue(2)
        self.scene().addItem(self._preview_item)
        self._preview_item.hide()
        self._result_item: TiledArrayItem | None = None
        self.mask_color = QColor(255, 40, 60)
        self.mask_opacity = 0.5
        self.mask_visible = True
        self.tool: Tool | None = None
        self._space_down = False
        self._pan_anchor: QPointF | None = None
        self._compare_split: float | None = None  # fraction of width showing the original
        self._hover: QPointF | None = None

    # --- document --------------------------------------------------------------------------

    def set_document(self, document: Document | None) -> None:
        if self.document is not None:
            self.document.remove_listener(self._on_document_changed)
        for item in (self._image_item, self._original_item, self._mask_item):
            if item is not None:
                self.scene().removeItem(item)
        self._image_item = self._original_item = self._mask_item = None
        self.clear_preview()
        self.document = document
        if document is None:
            self.scene().setSceneRect(QRectF())
            self.viewport().update()
            return
        self._image_item = TiledArrayItem(lambda: document.image, qimage_from_pixels)
        self._original_item = TiledArrayItem(lambda: document.original, qimage_from_pixels)
        self._original_item.setZValue(2.5)  # above previews: the split compares with them too
        self._original_item.hide()
        self._mask_item = TiledArrayItem(lambda: document.mask, self._render_mask)
        self._mask_item.setZValue(3)
        self._mask_item.setVisible(self.mask_visible)
        for item in (self._image_item, self._original_item, self._mask_item):
            self.scene().addItem(item)
        margin = PASTEBOARD * max(document.width, document.height)
        self.scene().setSceneRect(
            QRectF(-margin, -margin, document.width + 2 * margin, document.height + 2 * margin)
        )
        document.add_listener(self._on_document_changed)
        self._apply_compare()
        self.fit()

    def _on_document_changed(self, layer: Layer, rect: Rect | None) -> None:
        item = self._image_item if layer == "image" else self._mask_item
        if item is not None:
            item.invalidate(rect)

    def _render_mask(self, block: np.ndarray):
        if not block.any():
            return None
        color = (self.mask_color.red(), self.mask_color.green(), self.mask_color.blue())
        return qimage_from_rgba(overlay_rgba(block, color, self.mask_opacity))

    def set_mask_style(
        self, color: QColor | None = None, opacity: float | None = None, visible: bool | None = None
    ) -> None:
        if color is not None:
            self.mask_color = QColor(color)
        if opacity is not None:
            self.mask_opacity = float(min(1.0, max(0.0, opacity)))
        if visible is not None:
            self.mask_visible = bool(visible)
        if self._mask_item is not None:
            self._mask_item.setVisible(self.mask_visible and not self.preview_visible)
            if color is not None or opacity is not None:
                self._mask_item.invalidate(None)

    # --- previews and comparison -------------------------------------------------------------

    def show_preview(self, pixels: np.ndarray, rect: Rect | None = None) -> None:
        """Draw an edit's in-progress pixels stretched over `rect` of the image (None: all of it).

        Pixels at a higher resolution than the document (an upscaling preview) are drawn smaller,
        so they line up with the image they came from.
        """
        if self.document is None:
            return
        self._drop_result_tiles()
        rect = rect or self.document.bounds
        factor = rect.w / max(1, pixels.shape[1])
        self._preview_item.setPixmap(QPixmap.fromImage(qimage_from_pixels(pixels)))
        self._preview_item.setTransformationMode(
            Qt.TransformationMode.SmoothTransformation
            if factor < 1
            else Qt.TransformationMode.FastTransformation
        )
        self._preview_item.setScale(factor)
        self._preview_item.setPos(rect.x, rect.y)
        self._preview_item.show()
        self._hide_mask_for_preview()

    def show_result_tiles(self, pixels: np.ndarray, scale: int = 1) -> None:
        """Show a whole (possibly huge, higher-resolution) result, drawn lazily tile by tile."""
        self._preview_item.hide()
        self._preview_item.setPixmap(QPixmap())
        self._drop_result_tiles()
        item = TiledArrayItem(lambda: pixels, qimage_from_pixels)
        item.setScale(1.0 / scale)
        item.setZValue(2)
        self.scene().addItem(item)
        self._result_item = item
        self._hide_mask_for_preview()

    def _drop_result_tiles(self) -> None:
        if self._result_item is not None:
            self.scene().removeItem(self._result_item)
            self._result_item = None

    def _hide_mask_for_preview(self) -> None:
        if self._mask_item is not None:
            self._mask_item.hide()  # the user wants to see the result, not the mask over it

    def clear_preview(self) -> None:
        self._preview_item.hide()
        self._preview_item.setPixmap(QPixmap())
        self._drop_result_tiles()
        if self._mask_item is not None:
            self._mask_item.setVisible(self.mask_visible)

    @property
    def preview_visible(self) -> bool:
        return self._preview_item.isVisible() or self._result_item is not None

    def set_compare(self, split: float | None) -> None:
        """Show the image as opened left of `split` (fraction of the width); None turns it off."""
        self._compare_split = None if split is None else min(1.0, max(0.0, split))
        self._apply_compare()

    @property
    def compare_split(self) -> float | None:
        return self._compare_split

    def _apply_compare(self) -> None:
        if self._original_item is None or self.document is None:
            return
        if self._compare_split is None:
            self._original_item.hide()
        else:
            self._original_item.set_clip_right(self._compare_split * self.document.width)
            self._original_item.show()
        self.viewport().update()

    # --- zoom and pan --------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """Image pixels to physical screen pixels."""
        return self.transform().m11() * self.devicePixelRatioF()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        factor = zoom / self.zoom
        if anchor is None:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(factor, factor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self._zoom_changed()

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / ZOOM_STEP)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        if self.document is None:
            return
        self.resetTransform()
        self.fitInView(
            QRectF(0, 0, self.document.width, self.document.height),
            Qt.AspectRatioMode.KeepAspectRatio,
        )
        self._zoom_changed()

    def _zoom_changed(self) -> None:
        self.zoomChanged.emit(self.zoom)
        self._emit_viewport()
        self.viewport().update()

    def visible_image_rect(self) -> Rect | None:
        if self.document is None:
            return None
        area = self.mapToScene(self.viewport().rect()).boundingRect()
        rect = Rect.from_bounds(
            int(area.left()), int(area.top()), int(area.right()) + 1, int(area.bottom()) + 1
        )
        return rect.clip(self.document.width, self.document.height)

    def _emit_viewport(self) -> None:
        rect = self.visible_image_rect()
        if rect is not None:
            self.viewportChanged.emit(rect)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self._emit_viewport()
        if self._compare_split is not None:
            self.viewport().update()  # the labels are not scrolled pixels: redraw them

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.document is None:
            return
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            return super().wheelEvent(event)
        self.set_zoom(self.zoom * ZOOM_STEP**steps, anchor=event.position())

    def _start_pan(self, pos: QPointF) -> None:
        self._pan_anchor = pos
        self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def _pan_to(self, pos: QPointF) -> None:
        delta = pos - self._pan_anchor
        self._pan_anchor = pos
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))

    def _end_pan(self) -> None:
        self._pan_anchor = None
        self._update_cursor()

    # --- tools ----------------------------------------------------------------------------------

    def set_tool(self, tool: Tool | None) -> None:
        if self.tool is not None:
            self.tool.cancel()
        self.tool = tool
        self._update_cursor()
        self.viewport().update()

    def _update_cursor(self) -> None:
        if self._space_down:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif self.tool is not None:
            self.viewport().setCursor(self.tool.cursor)
        else:
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)

    def image_pos(self, event: QMouseEvent) -> QPointF:
        """The cursor in image pixels, with sub-pixel precision (mapToScene rounds to a point)."""
        inverse, _ok = self.viewportTransform().inverted()
        return inverse.map(event.position())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
            self._space_down and event.button() == Qt.MouseButton.LeftButton
        ):
            self._start_pan(event.position())
            return
        if (
            self.document is not None
            and self.tool is not None
            and event.button() == Qt.MouseButton.LeftButton
        ):
            self.tool.press(self.image_pos(event), event.modifiers())
            self.viewport().update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_anchor is not None:
            self._pan_to(event.position())
            return
        pos = self.image_pos(event)
        self._hover = pos
        if self.document is not None:
            x, y = int(pos.x() // 1), int(pos.y() // 1)
            inside = 0 <= x < self.document.width and 0 <= y < self.document.height
            self.cursorMoved.emit(x if inside else -1, y if inside else -1)
            if self.tool is not None:
                if event.buttons() & Qt.MouseButton.LeftButton:
                    self.tool.move(pos, event.modifiers())
                else:
                    self.tool.hover(pos)
        self.viewport().update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_anchor is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._end_pan()
            return
        if (
            self.document is not None
            and self.tool is not None
            and event.button() == Qt.MouseButton.LeftButton
        ):
            self.tool.release(self.image_pos(event), event.modifiers())
            self.viewport().update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if (
            self.document is not None
            and self.tool is not None
            and event.button() == Qt.MouseButton.LeftButton
        ):
            self.tool.double_click(self.image_pos(event), event.modifiers())
            self.viewport().update()

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.cursorMoved.emit(-1, -1)
        self.viewport().update()
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self._update_cursor()
            return
        if self.tool is not None and self.tool.key_press(event):
            self.viewport().update()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            if self._pan_anchor is not None:
                self._end_pan()
            self._update_cursor()
            return
        super().keyReleaseEvent(event)

    # --- drawing --------------------------------------------------------------------------------

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, QColor(48, 48, 52))
        if self.document is None:
            self._draw_empty_hint(painter)
            return
        image = QRectF(0, 0, self.document.width, self.document.height).intersected(rect)
        if image.isEmpty():
            return
        # The checker squares stay the same size on screen whatever the zoom.
        painter.save()
        painter.resetTransform()
        painter.fillRect(self.viewportTransform().mapRect(image), self._checker)
        painter.restore()

    def _draw_empty_hint(self, painter: QPainter) -> None:
        """What to do first, on the empty canvas."""
        painter.save()
        painter.resetTransform()
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        painter.setFont(font)
        painter.setPen(QColor(170, 170, 178))
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, EMPTY_HINT)
        painter.restore()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.document is None:
            return
        if self._compare_split is not None:
            x = self._compare_split * self.document.width
            pen = QPen(QColor(255, 255, 255), 0)
            painter.setPen(pen)
            painter.drawLine(QPointF(x, 0), QPointF(x, self.document.height))
            self._draw_compare_labels(painter)
        if self.tool is not None:
            self.tool.paint_overlay(painter, self._hover, self.transform().m11())

    # --- compare labels ---------------------------------------------------------------------------

    def _label_font(self) -> QFont:
        font = QFont(self.font())
        font.setBold(True)
        return font

    def compare_label_rects(self) -> dict[str, QRectF]:
        """Where "Before" and "After" go, in viewport pixels (the same size at any zoom).

        Each sits at the top of the visible image, against the split line on its own side (pushed
        inwards when the line is off screen); a side too small for its label gets none, and so
        does everything while compare is off.
        """
        if self.document is None or self._compare_split is None:
            return {}
        to_view = self.viewportTransform()
        doc = self.document
        image = to_view.mapRect(QRectF(0, 0, doc.width, doc.height))
        image = image.intersected(QRectF(self.viewport().rect()))
        split = to_view.map(QPointF(self._compare_split * doc.width, 0)).x()
        metrics = QFontMetricsF(self._label_font())
        height = metrics.height() + LABEL_PADDING
        top = image.top() + LABEL_MARGIN
        sides = {
            COMPARE_LABELS[0]: (image.left(), min(split, image.right()), True),
            COMPARE_LABELS[1]: (max(split, image.left()), image.right(), False),
        }
        rects: dict[str, QRectF] = {}
        for text, (left, right, against_right) in sides.items():
            width = metrics.horizontalAdvance(text) + 2 * LABEL_PADDING
            fits = right - left >= width + 2 * LABEL_MARGIN
            if not fits or image.height() < height + 2 * LABEL_MARGIN:
                continue
            x = right - LABEL_MARGIN - width if against_right else left + LABEL_MARGIN
            rects[text] = QRectF(x, top, width, height)
        return rects

    def _draw_compare_labels(self, painter: QPainter) -> None:
        """Screen-space labels, so they stay readable at any zoom."""
        rects = self.compare_label_rects()
        if not rects:
            return
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(self._label_font())
        for text, rect in rects.items():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 170))
            painter.drawRoundedRect(rect, 4, 4)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
