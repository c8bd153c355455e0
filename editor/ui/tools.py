"""Canvas tools: the brush and eraser, the region tools, the magic wand and the face picker.

A tool turns pointer events (in image pixels) into mask changes and hands each finished change
to its host as one undoable patch. The pixel work lives in editor.core.mask_ops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPainterPath, QPen, QPolygonF

from editor.core.document import Document, Layer
from editor.core.geometry import Rect
from editor.core.mask_ops import (
    Brush,
    Combine,
    MaskStroke,
    combine,
    ellipse_region,
    magic_wand,
    polygon_region,
    rect_region,
)
from editor.core.patch import ArrayPatch

CLOSE_DISTANCE_PX = 8  # screen pixels: clicking this near the first polygon point closes it


class ToolHost(Protocol):
    document: Document | None

    def push_patch(self, layer: Layer, patch: ArrayPatch, text: str, *, applied: bool) -> None: ...


def combine_mode(modifiers: Qt.KeyboardModifier, default: Combine) -> Combine:
    """Shift adds, Alt subtracts, both intersect; otherwise the tool's own mode."""
    shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
    alt = bool(modifiers & Qt.KeyboardModifier.AltModifier)
    if shift and alt:
        return Combine.INTERSECT
    if shift:
        return Combine.ADD
    if alt:
        return Combine.SUBTRACT
    return default


def _outline_pen(color: QColor) -> QPen:
    pen = QPen(color, 0)  # cosmetic: one screen pixel wide at any zoom
    return pen


def _draw_outline(painter: QPainter, draw) -> None:
    """Black then dashed white: visible over any image."""
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(_outline_pen(QColor(0, 0, 0, 200)))
    draw()
    pen = _outline_pen(QColor(255, 255, 255, 230))
    pen.setStyle(Qt.PenStyle.DashLine)
    painter.setPen(pen)
    draw()


class Tool:
    """Base: does nothing. Positions are image pixels (floats); pixel (x, y) covers [x, x+1)."""

    name = "tool"
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, host: ToolHost) -> None:
        self.host = host

    @property
    def document(self) -> Document | None:
        return self.host.document

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None: ...
    def move(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None: ...
    def release(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None: ...
    def double_click(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None: ...
    def hover(self, pos: QPointF) -> None: ...

    def key_press(self, event: QKeyEvent) -> bool:
        return False

    def cancel(self) -> None:
        """Abandon whatever is half-done (tool switch, Esc)."""

    def paint_overlay(self, painter: QPainter, hover: QPointF | None, scale: float) -> None: ...


class BrushTool(Tool):
    """Paints the mask with round dabs; the outline under the cursor shows the brush size.

    on_stroke: called with `erase` once a finished stroke is in the host's undo stack, so what
    follows a stroke (Remove on release, the live style preview) never keys on its label."""

    name = "Brush"
    erase = False

    def __init__(
        self,
        host: ToolHost,
        brush: Brush | None = None,
        *,
        on_stroke: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__(host)
        self.brush = brush or Brush()
        self.on_stroke = on_stroke
        self._stroke: MaskStroke | None = None

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        doc = self.document
        if doc is None:
            return
        self._stroke = MaskStroke(doc.mask, self.brush, erase=self.erase)
        self._changed(self._stroke.move_to(pos.x(), pos.y()))

    def move(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self._stroke is not None:
            self._changed(self._stroke.line_to(pos.x(), pos.y()))

    def release(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self._stroke is None:
            return
        self._changed(self._stroke.line_to(pos.x(), pos.y()))
        patch = self._stroke.finish()
        self._stroke = None
        self._changed(patch.rect)  # finish() may add a last dab under the pointer
        if not patch.empty:
            text = "Erase stroke" if self.erase else "Brush stroke"
            self.host.push_patch("mask", patch, text, applied=True)
            if self.on_stroke is not None:
                self.on_stroke(self.erase)

    def cancel(self) -> None:
        if self._stroke is not None and self.document is not None:
            self.document.apply_patch("mask", self._stroke.finish(), forward=False)
        self._stroke = None

    def _changed(self, rect: Rect | None) -> None:
        if rect is not None and self.document is not None:
            self.document.notify("mask", rect)

    def paint_overlay(self, painter: QPainter, hover: QPointF | None, scale: float) -> None:
        if hover is None:
            return
        r = self.brush.size / 2
        _draw_outline(painter, lambda: painter.drawEllipse(hover, r, r))


class EraserTool(BrushTool):
    name = "Eraser"
    erase = True


class RegionTool(Tool):
    """Base of the tools that build a shape and then combine it into the mask."""

    def __init__(self, host: ToolHost, mode: Combine = Combine.REPLACE) -> None:
        super().__init__(host)
        self.mode = mode
        self._active_mode = mode

    def commit_region(self, region, text: str) -> None:
        doc = self.document
        if doc is None:
            return
        patch = doc.diff("mask", combine(doc.mask, region, self._active_mode))
        if not patch.empty:
            self.host.push_patch("mask", patch, text, applied=False)


class DragShapeTool(RegionTool):
    """Rectangle or ellipse dragged from corner to corner."""

    name = "Rectangle"
    ellipse = False

    def __init__(self, host: ToolHost, mode: Combine = Combine.REPLACE) -> None:
        super().__init__(host, mode)
        self._start: QPointF | None = None
        self._end: QPointF | None = None

    def press(self, pos, modifiers) -> None:
        self._active_mode = combine_mode(modifiers, self.mode)
        self._start = self._end = pos

    def move(self, pos, modifiers) -> None:
        if self._start is not None:
            self._end = pos

    def release(self, pos, modifiers) -> None:
        if self._start is None or self.document is None:
            return
        rect = self._rect(pos)
        self._start = self._end = None
        if rect.empty:
            return
        shape = self.document.mask.shape
        region = ellipse_region(shape, rect) if self.ellipse else rect_region(shape, rect)
        self.commit_region(region, f"{self.name} selection")

    def _rect(self, end: QPointF) -> Rect:
        x0, x1 = sorted((self._start.x(), end.x()))
        y0, y1 = sorted((self._start.y(), end.y()))
        return Rect.from_bounds(round(x0), round(y0), round(x1), round(y1))

    def cancel(self) -> None:
        self._start = self._end = None

    def paint_overlay(self, painter: QPainter, hover, scale: float) -> None:
        if self._start is None or self._end is None:
            return
        r = self._rect(self._end)
        qr = QRectF(r.x, r.y, r.w, r.h)
        _draw_outline(
            painter, lambda: painter.drawEllipse(qr) if self.ellipse else painter.drawRect(qr)
        )


class RectangleTool(DragShapeTool):
    name = "Rectangle"


class EllipseTool(DragShapeTool):
    name = "Ellipse"
    ellipse = True


class LassoTool(RegionTool):
    """Freehand outline while the button is down; closes itself on release."""

    name = "Lasso"

    def __init__(self, host: ToolHost, mode: Combine = Combine.REPLACE) -> None:
        super().__init__(host, mode)
        self.points: list[tuple[float, float]] = []

    def press(self, pos, modifiers) -> None:
        self._active_mode = combine_mode(modifiers, self.mode)
        self.points = [(pos.x(), pos.y())]

    def move(self, pos, modifiers) -> None:
        if self.points:
            lx, ly = self.points[-1]
            if math.hypot(pos.x() - lx, pos.y() - ly) >= 0.5:
                self.points.append((pos.x(), pos.y()))

    def release(self, pos, modifiers) -> None:
        if self.document is None or not self.points:
            return
        self.move(pos, modifiers)
        points, self.points = self.points, []
        if len(points) >= 3:
            self.commit_region(polygon_region(self.document.mask.shape, points), "Lasso selection")

    def cancel(self) -> None:
        self.points = []

    def paint_overlay(self, painter: QPainter, hover, scale: float) -> None:
        if len(self.points) >= 2:
            poly = QPolygonF([QPointF(x, y) for x, y in self.points])
            _draw_outline(painter, lambda: painter.drawPolyline(poly))


class PolygonTool(RegionTool):
    """Click corner by corner; double-click, Enter or a click on the first corner closes it."""

    name = "Polygon"

    def __init__(self, host: ToolHost, mode: Combine = Combine.REPLACE) -> None:
        super().__init__(host, mode)
        self.points: list[tuple[float, float]] = []
        self._scale = 1.0

    def press(self, pos, modifiers) -> None:
        if not self.points:
            self._active_mode = combine_mode(modifiers, self.mode)
        elif len(self.points) >= 3:
            fx, fy = self.points[0]
            if math.hypot(pos.x() - fx, pos.y() - fy) * self._scale <= CLOSE_DISTANCE_PX:
                self.close()
                return
        self.points.append((pos.x(), pos.y()))

    def double_click(self, pos, modifiers) -> None:
        self.close()

    def key_press(self, event: QKeyEvent) -> bool:
        if not self.points:
            return False
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close()
            return True
        if event.key() == Qt.Key.Key_Escape:
            self.cancel()
            return True
        if event.key() == Qt.Key.Key_Backspace:
            self.points.pop()
            return True
        return False

    def close(self) -> None:
        points, self.points = self._dedupe(self.points), []
        if self.document is not None and len(points) >= 3:
            self.commit_region(
                polygon_region(self.document.mask.shape, points), "Polygon selection"
            )

    @staticmethod
    def _dedupe(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for p in points:
            if not out or math.hypot(p[0] - out[-1][0], p[1] - out[-1][1]) > 1e-6:
                out.append(p)
        return out

    def cancel(self) -> None:
        self.points = []

    def paint_overlay(self, painter: QPainter, hover, scale: float) -> None:
        self._scale = scale
        if not self.points:
            return
        path = QPainterPath(QPointF(*self.points[0]))
        for x, y in self.points[1:]:
            path.lineTo(x, y)
        if hover is not None:
            path.lineTo(hover)
        _draw_outline(painter, lambda: painter.drawPath(path))


class MagicWandTool(RegionTool):
    """Selects pixels of a similar colour to the one clicked."""

    name = "Magic wand"

    def __init__(
        self,
        host: ToolHost,
        mode: Combine = Combine.REPLACE,
        tolerance: float = 32.0,
        contiguous: bool = True,
    ) -> None:
        super().__init__(host, mode)
        self.tolerance = tolerance
        self.contiguous = contiguous

    def press(self, pos, modifiers) -> None:
        doc = self.document
        if doc is None:
            return
        x, y = int(pos.x() // 1), int(pos.y() // 1)
        if not (0 <= x < doc.width and 0 <= y < doc.height):
            return
        self._active_mode = combine_mode(modifiers, self.mode)
        region = magic_wand(doc.image, x, y, self.tolerance, contiguous=self.contiguous)
        self.commit_region(region, "Magic wand selection")


FACE_OUTLINE = [*range(17), *range(26, 16, -1)]
"""The 68-point layout's jaw (0-16), then the brows back (26-17): a closed face outline."""
CHOSEN_FACE = QColor(255, 150, 30)


class FacePickTool(Tool):
    """Click a face to choose it for face swap. The faces found (by the engine) are outlined
    and numbered left to right from 1, as the CLI's --target counts them (`faces` and `chosen`
    keep the engine's indices, from 0); the chosen one is orange."""

    name = "Face"
    cursor = Qt.CursorShape.PointingHandCursor

    def __init__(self, host: ToolHost, on_pick: Callable[[int], None]) -> None:
        super().__init__(host)
        self.on_pick = on_pick
        self.faces: list[np.ndarray] = []  # (68, 2) landmarks, left to right
        self._outlines: list[QPolygonF] = []  # made once per set of faces, drawn on every paint
        self.chosen: int | None = None
        self.outlines_shown = True  # off while an edit's preview is on the canvas

    def set_faces(self, faces: Sequence[np.ndarray], chosen: int | None = None) -> None:
        self.faces = [np.asarray(f, np.float64) for f in faces]
        self._outlines = [QPolygonF([QPointF(*m[i]) for i in FACE_OUTLINE]) for m in self.faces]
        self.chosen = chosen if chosen is not None and chosen < len(self.faces) else None

    def face_at(self, x: float, y: float) -> int | None:
        """The face whose outline holds (x, y), else the nearest within half a face's size."""
        best, best_distance = None, math.inf
        for index, (marks, outline) in enumerate(zip(self.faces, self._outlines, strict=True)):
            if outline.containsPoint(QPointF(x, y), Qt.FillRule.OddEvenFill):
                return index
            size = float(np.ptp(marks, axis=0).max())
            distance = float(np.hypot(*(marks.mean(axis=0) - (x, y))))
            if distance < size and distance < best_distance:
                best, best_distance = index, distance
        return best

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        index = self.face_at(pos.x(), pos.y())
        if index is not None:
            self.chosen = index
            self.on_pick(index)

    def paint_overlay(self, painter: QPainter, hover: QPointF | None, scale: float) -> None:
        if not self.outlines_shown:
            return
        hovered = self.face_at(hover.x(), hover.y()) if hover is not None else None
        font = painter.font()
        font.setPixelSize(max(1, round(14 / max(scale, 1e-6))))  # 14 screen pixels at any zoom
        font.setBold(True)
        painter.setFont(font)
        for index, outline in enumerate(self._outlines):
            if index == self.chosen:
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(CHOSEN_FACE, 3 / max(scale, 1e-6)))
                painter.drawPolygon(outline)
            else:
                _draw_outline(painter, lambda o=outline: painter.drawPolygon(o))
            if index == hovered and index != self.chosen:
                painter.setPen(QPen(QColor(255, 255, 255), 2 / max(scale, 1e-6)))
                painter.drawPolygon(outline)
            top = outline.boundingRect()
            label = QRectF(top.center().x() - 20 / scale, top.top() - 22 / scale, 40 / scale,
                           20 / scale)  # fmt: skip
            number = str(index + 1)
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(label.translated(1 / scale, 1 / scale), Qt.AlignmentFlag.AlignCenter,
                             number)  # fmt: skip
            painter.setPen(CHOSEN_FACE if index == self.chosen else QColor(255, 255, 255))
            painter.drawText(label, Qt.AlignmentFlag.AlignCenter, number)
