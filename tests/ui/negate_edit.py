"""A stand-in edit for UI tests: negates the image, so any applied result is easy to check."""

from __future__ import annotations

from editor.engine.jobs import Update


def apply_negate(window, qtbot, image) -> None:
    """Run the negate edit through the window's session and Apply it (one undo command)."""

    def negate(ctx):
        yield Update(progress=0.5)
        return 255 - image

    window.session.submit("Negate", negate)
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    assert window.session.apply()
