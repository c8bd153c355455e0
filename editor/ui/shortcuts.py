"""Key sequences for actions, each listed once.

Qt treats a key sequence that reaches its shortcut map twice as ambiguous and then runs neither
entry: on X11 the platform's Redo is already Ctrl+Shift+Z, so "Redo + Ctrl+Shift+Z" silenced Redo
there while the offscreen platform (whose Redo is Ctrl+Y) hid the problem from the tests.
"""

from __future__ import annotations

from PySide6.QtGui import QKeySequence

Key = QKeySequence.StandardKey | str


def key_sequences(*keys: Key) -> list[QKeySequence]:
    """Every platform binding of the standard keys and the given strings, in order, each once."""
    found: list[QKeySequence] = []
    seen: set[str] = set()
    for key in keys:
        candidates = (
            QKeySequence.keyBindings(key)
            if isinstance(key, QKeySequence.StandardKey)
            else [QKeySequence(key)]
        )
        for sequence in candidates:
            text = sequence.toString(QKeySequence.SequenceFormat.PortableText)
            if text and text not in seen:
                seen.add(text)
                found.append(sequence)
    return found
