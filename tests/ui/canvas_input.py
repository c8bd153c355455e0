"""Mouse input on the canvas for UI tests: drags and brush strokes in image coordinates."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

NO_MODIFIERS = Qt.KeyboardModifier(0)


def drag(win, points, modifiers=NO_MODIFIERS) -> None:
    """Press at the first (x, y) image point, move through the rest, release at the last."""

    def send(kind, x, y):
        pos = QPointF(win.canvas.mapFromScene(QPointF(x, y)))
        moving = kind == QMouseEvent.Type.MouseMove
        button = Qt.MouseButton.NoButton if moving else Qt.MouseButton.LeftButton
        released = kind == QMouseEvent.Type.MouseButtonRelease
        held = Qt.MouseButton.NoButton if released else Qt.MouseButton.LeftButton
        viewport = win.canvas.viewport()
        event = QMouseEvent(kind, pos, viewport.mapToGlobal(pos), button, held, modifiers)
        QApplication.sendEvent(viewport, event)

    (x0, y0), *rest = points
    send(QMouseEvent.Type.MouseButtonPress, x0, y0)
    for x, y in rest:
        send(QMouseEvent.Type.MouseMove, x, y)
    send(QMouseEvent.Type.MouseButtonRelease, *points[-1])


def paint(win, points, size: float = 10) -> None:
    """A hard, opaque brush stroke of `size` px along `points` (one undo step)."""
    win.set_brush(replace(win.tools["brush"].brush, size=size, hardness=1.0, opacity=1.0))
    win.set_tool("brush")
    drag(win, points)
