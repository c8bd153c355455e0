"""Image > Upscale Model: Faithful (default) or Sharp (GAN), kept in the settings; Sharp without
Real-ESRGAN takes the built-in SemEdit GAN, and without either says how to fetch one."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from safetensors.torch import save_file

from editor.core.imageio import save_image
from editor.ops.sr_compact import CompactSR
from editor.ui.main_window import MainWindow


def _window(qtbot, settings_path, models_dir):
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    win.settings.set_models_dir(str(models_dir))
    win.show()
    qtbot.waitExposed(win)
    return win


def _record_submits(win, monkeypatch) -> list[str]:
    """The model ids of the upscale jobs the window submits (none of them runs)."""
    submitted: list[str] = []
    monkeypatch.setattr(
        win.session,
        "submit",
        lambda title, factory, **kw: submitted.append(factory.args[0].model.id) or 1,
    )
    return submitted


def _looks(win) -> dict[str, object]:
    return {act.data(): act for act in win.upscale_edits.looks.actions()}


@pytest.fixture
def photo(tmp_path, rgb_image):
    path = tmp_path / "photo.png"
    save_image(path, rgb_image[:24, :32])
    return path


def test_the_choice_is_kept_and_sharp_submits_real_esrgan(
    qtbot, tmp_path, photo, shared_models, monkeypatch
):
    win = _window(qtbot, tmp_path / "s.ini", shared_models)
    looks = _looks(win)
    assert looks["faithful"].isChecked() and not looks["sharp"].isChecked()
    assert [a.text() for a in win.upscale_edits.looks.actions()] == ["Faithful", "Sharp (GAN)"]
    looks["sharp"].trigger()
    assert win.settings.upscale_look() == "sharp"
    win.open_path(photo)
    submitted = _record_submits(win, monkeypatch)
    assert win.run_upscale(2) == 1
    assert submitted == ["realesrgan-x4plus"]
    assert "Real-ESRGAN ×2 via ×4" in win.statusBar().currentMessage()
    looks["faithful"].trigger()
    assert win.run_upscale(2) == 1 and submitted[-1] == "carn-m"
    monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
    win.close()
    again = _window(qtbot, tmp_path / "s.ini", shared_models)
    assert _looks(again)["faithful"].isChecked()
    _looks(again)["sharp"].trigger()
    again.close()
    third = _window(qtbot, tmp_path / "s.ini", shared_models)
    assert _looks(third)["sharp"].isChecked()
    third.close()


def test_sharp_without_real_esrgan_submits_the_built_in_gan(qtbot, tmp_path, photo, monkeypatch):
    weights = tmp_path / "semedit-gan-x4.safetensors"
    save_file(CompactSR(channels=8, convs=2).state_dict(), str(weights))
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_gan_path", lambda: weights)
    win = _window(qtbot, tmp_path / "s.ini", tmp_path / "no-models")
    _looks(win)["sharp"].trigger()
    win.open_path(photo)
    submitted = _record_submits(win, monkeypatch)
    assert win.run_upscale(3) == 1
    assert submitted == ["semedit-gan-x4"]
    assert "SemEdit GAN ×3 via ×4" in win.statusBar().currentMessage()
    monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
    win.close()


def test_sharp_without_any_gan_names_the_fetch_command(qtbot, tmp_path, photo, monkeypatch):
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_gan_path", lambda: None)
    win = _window(qtbot, tmp_path / "s.ini", tmp_path / "no-models")
    _looks(win)["sharp"].trigger()
    win.open_path(photo)
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(win, "show_error", lambda title, text: errors.append((title, text)))
    assert win.run_upscale(4) is None
    assert len(errors) == 1 and "semedit models fetch realesrgan-x4plus" in errors[0][1]
    assert "semedit models fetch realesrgan-x4plus" in win.statusBar().currentMessage()
    assert win.session.pending is None
    win.close()
