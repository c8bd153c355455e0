"""The `semedit` launcher: `semedit [FILE]` opens the editor; `semedit <command> …` runs headless.

Headless commands (remove, models, …) live in editor.cli and never import Qt, so batch use needs
no display.
"""

from __future__ import annotations

import argparse
import os
import sys

from editor import __version__


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from editor.cli import COMMANDS

    if argv and argv[0] in COMMANDS:
        from editor.cli import main as cli_main

        return cli_main(argv)
    parser = argparse.ArgumentParser(
        prog="semedit",
        description="SemEdit image editor. Headless commands: "
        + ", ".join(sorted(COMMANDS))
        + " (semedit COMMAND --help).",
    )
    parser.add_argument("file", nargs="?", help="image to open")
    parser.add_argument("--version", action="version", version=f"semedit {__version__}")
    args, qt_args = parser.parse_known_args(argv)
    problem = _no_display()
    if problem:
        print(f"semedit: error: {problem}", file=sys.stderr)
        return 1
    from editor.ui.main_window import run_app

    return run_app([sys.argv[0], *qt_args], args.file)


def _no_display() -> str | None:
    """On Linux without X11/Wayland, Qt would abort with a long plugin message: say it plainly."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    from editor.cli import COMMANDS

    return (
        "no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset); run it in a "
        f"desktop session, or use a headless command: semedit {{{','.join(sorted(COMMANDS))}}} …"
    )


if __name__ == "__main__":
    sys.exit(main())
