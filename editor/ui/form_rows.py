"""Widgets the dialogs' forms share."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QWidget


def field_row(*widgets: QWidget) -> QWidget:
    """One form field of several widgets: the first (a path's line edit) stretches, the rest
    (its Browse… buttons) keep their size."""
    widget = QWidget()
    row = QHBoxLayout(widget)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(widgets[0], 1)
    for other in widgets[1:]:
        row.addWidget(other)
    return widget
