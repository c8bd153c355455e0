"""The `semedit` launcher and the layering rule that keeps batch use free of Qt."""

from __future__ import annotations

import subprocess
import sys

import pytest

from editor import __version__, app


def test_version_flag_prints_the_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        app.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"semedit {__version__}"


def test_a_file_argument_opens_the_gui_with_it(monkeypatch):
    import editor.ui.main_window as main_window

    calls = []
    monkeypatch.setattr(main_window, "run_app", lambda argv, path: calls.append(path) or 0)
    assert app.main(["photo.png"]) == 0
    assert app.main([]) == 0
    assert calls == ["photo.png", None]


def test_headless_commands_route_to_the_cli(monkeypatch):
    import editor.cli as cli

    seen = []
    monkeypatch.setattr(cli, "main", lambda argv: seen.append(argv) or 0)
    assert app.main(["models", "list"]) == 0
    assert seen == [["models", "list"]]


def test_console_script_reports_its_version():
    exe = subprocess.run(
        [sys.executable, "-m", "editor", "--version"], capture_output=True, text=True, timeout=60
    )
    assert exe.returncode == 0 and exe.stdout.strip() == f"semedit {__version__}"


def test_core_ops_engine_jobs_and_cli_import_without_qt():
    code = (
        "import sys, importlib\n"
        "for m in ['editor.core.document', 'editor.core.imageio', 'editor.core.mask_ops',\n"
        "          'editor.core.patch', 'editor.ops.region', 'editor.ops.tiling',\n"
        "          'editor.ops.inpaint.classic', 'editor.ops.vgg', 'editor.engine.jobs',\n"
        "          'editor.engine.store', 'editor.engine.edits.remove', 'editor.cli']:\n"
        "    importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.startswith('PySide6')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_without_a_display_the_gui_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert app.main([]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no display" in err[0] and "semedit" in err[0]
