"""Fast styles in the window, with the real engine: the Styles dock lists them (badged), a brush
stroke shows a live preview without blocking, Apply renders it at full size as one undo step;
image styles offer Fast (universal) with the same live preview; the Train Fast Style dialog
trains a tiny network that then appears in the dock, and Stop leaves nothing half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from canvas_input import paint
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox
from safetensors.torch import save_file

from editor.core.imageio import save_image
from editor.core.style_library import StyleLibrary
from editor.engine.edits import train_style_job
from editor.engine.models.fast_styles import list_fast_styles
from editor.ops.transform_net import TransformNet, metadata_for
from editor.ui.main_window import MainWindow
from editor.ui.style_panel import FAST_PREFIX


def _user_style(folder, name):
    folder.mkdir(parents=True, exist_ok=True)
    net = TransformNet((8, 8, 8), 1)
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(folder / f"{name}.safetensors"), metadata=metadata_for(net))


@pytest.fixture
def fast_dir(tmp_path):
    folder = tmp_path / "fast"
    _user_style(folder, "my_style")
    return folder


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, rgb_image, fast_dir):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    library = StyleLibrary(tmp_path / "styles")
    yy, xx = np.mgrid[0:40, 0:40]
    stripes = np.stack([np.sin(xx / 2.0), np.cos(yy / 3.0), np.sin((xx + yy) / 4.0)], -1)
    library.add_pixels(((stripes + 1) * 127.5).astype(np.uint8), "stripes")
    win = MainWindow(settings=settings, style_library=library, fast_styles_dir=fast_dir)
    win.errors = []
    monkeypatch.setattr(win, "show_error", lambda title, text: win.errors.append(text))
    win.resize(1100, 780)
    win.show()
    qtbot.waitExposed(win)
    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    assert win.open_path(path)
    yield win
    win.engine.cancel_all()
    monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
    if win._train_dialog is not None:
        win._train_dialog.close()
    win.close()
    win.deleteLater()


def _select(window, style_id):
    panel = window.style_panel
    panel.select(style_id)
    assert panel.current_entry() is not None and panel.current_entry().id == style_id


def _paint(win, points, size=12):
    paint(win, points, size)


def test_the_styles_dock_lists_fast_styles_badged_after_the_pictures(window):
    panel = window.style_panel
    ids = [panel.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(panel.list.count())]
    names = [panel.list.item(r).text() for r in range(panel.list.count())]
    assert names[0] == "stripes" and not ids[0].startswith(FAST_PREFIX)
    assert FAST_PREFIX + "starry_night" in ids and FAST_PREFIX + "my_style" in ids
    shipped = {s.name for s in list_fast_styles(window.fast_styles_dir) if s.shipped}
    assert {i[len(FAST_PREFIX) :] for i in ids if i.startswith(FAST_PREFIX)} == shipped | {
        "my_style"
    }
    row = ids.index(FAST_PREFIX + "starry_night")
    item = panel.list.item(row)
    assert item.toolTip().startswith("Fast style (shipped with SemEdit)")
    assert not item.icon().isNull()
    assert not (item.flags() & Qt.ItemFlag.ItemIsEditable)
    mine = panel.list.item(ids.index(FAST_PREFIX + "my_style"))
    assert "trained by you" in mine.toolTip()
    # picking a fast style: its own one-pass method, no iterations
    combo = window.style_options.method_combo
    combo.setCurrentIndex(combo.findData("mrf"))
    _select(window, FAST_PREFIX + "starry_night")
    assert not combo.isEnabled() and combo.currentText() == "Fast style network"
    assert window.style_options.effective_method() == "fast"
    assert window.settings.style_method() == "mrf"  # showing "fast" is not a stored choice
    _select(window, panel.entries()[0].id)
    assert combo.isEnabled() and combo.currentData() == "mrf" and combo.findData("fast") < 0
    assert combo.itemText(combo.findData("wct")) == "Fast (universal)"


def test_a_stroke_shows_a_live_preview_and_apply_commits_one_undo_step(window, qtbot, rgb_image):
    _select(window, FAST_PREFIX + "starry_night")
    window.style_options.strength_slider.setValue(100)
    commands = window.undo_stack.count()
    _paint(window, [(20, 50), (100, 50)])
    assert window.undo_stack.count() == commands + 1  # the stroke itself
    # the stroke returned at once: the preview is computed on the engine, not yet shown
    job = window.style_edits._latest_preview
    assert job is not None and not window.canvas.preview_visible
    assert window.session.offering and window.job_bar.apply_button.isVisible()
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=10000)
    assert "Live preview (starry_night)" in window.job_bar.label.text()
    assert np.array_equal(window.document.image, rgb_image)  # nothing changes before Apply
    mask = window.document.mask.copy()

    with qtbot.waitSignal(window.session.applied, timeout=20000):
        window.act_apply.trigger()
    assert window.undo_stack.count() == commands + 2
    image = window.document.image
    inside = mask > 0
    assert np.abs(image[inside].astype(int) - rgb_image[inside]).mean() > 10
    far = np.ones(inside.shape, bool)
    far[30:70, 0:125] = False
    assert np.array_equal(image[far], rgb_image[far])
    assert not window.canvas.preview_visible and not window.job_bar.isVisible()
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, rgb_image)


def test_a_new_stroke_replaces_the_previous_preview(window, qtbot):
    _select(window, FAST_PREFIX + "my_style")
    _paint(window, [(20, 30), (40, 30)])
    first = window.style_edits._latest_preview
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=10000)
    _paint(window, [(60, 70), (110, 70)])
    second = window.style_edits._latest_preview
    assert second != first and not window.canvas.preview_visible  # the old one stepped aside
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=10000)
    rect = window.canvas._preview_item.pos()
    assert rect.y() <= 30  # the box of both strokes
    window.job_bar.discard_button.click()
    assert not window.canvas.preview_visible and not window.session.offering


def test_a_first_mask_stays_a_mask_until_a_style_is_chosen(window, qtbot):
    # Fresh settings: no style is chosen for the user, so painting (say, to remove something)
    # starts no live preview; choosing a style makes the brush a style brush.
    assert window.style_panel.current_entry() is None
    _paint(window, [(20, 50), (60, 50)])
    assert window.document.mask.any()
    assert window.style_edits._latest_preview is None and not window.session.offering
    _select(window, FAST_PREFIX + "starry_night")
    _paint(window, [(20, 70), (60, 70)])
    assert window.style_edits._latest_preview is not None


def test_live_preview_can_be_turned_off(window, qtbot):
    _select(window, FAST_PREFIX + "starry_night")
    window.style_options.live_box.setChecked(False)
    _paint(window, [(20, 50), (60, 50)])
    assert window.style_edits._latest_preview is None and not window.session.offering


def test_fast_universal_previews_an_image_style_live(window, qtbot, shared_models):
    window.settings.set_models_dir(str(shared_models))
    _select(window, window.style_panel.entries()[0].id)
    combo = window.style_options.method_combo
    combo.setCurrentIndex(combo.findData("wct"))
    _paint(window, [(20, 50), (100, 50)])
    assert window.style_edits._latest_preview is not None
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=20000)
    with qtbot.waitSignal(window.session.applied, timeout=30000):
        window.act_apply.trigger()
    assert window.undo_stack.count() == 2 and window.errors == []


def _tiny_photos(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        img = np.kron(rng.random((6, 8, 3)), np.ones((12, 12, 1)))
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def _dialog(window, tmp_path, name, steps):
    dialog = window.show_train_style()
    picture = window.style_library.path(window.style_panel.entries()[0])
    assert dialog.picture_edit.text() == str(picture)  # the selected library picture
    dialog.photos_edit.setText(str(_tiny_photos(tmp_path / f"photos_{name}")))
    dialog.name_edit.setText(name)
    dialog.steps_box.setValue(steps)
    dialog.size_box.setValue(64)
    return dialog


def test_train_dialog_tiny_run_adds_the_style_to_the_dock(window, qtbot, tmp_path, shared_models):
    window.settings.set_models_dir(str(shared_models))
    _select(window, window.style_panel.entries()[0].id)
    dialog = _dialog(window, tmp_path, "tiny", 3)
    with qtbot.waitSignal(dialog.trained, timeout=120000):
        assert dialog.start() is not None
        assert dialog.stop_button.isEnabled() and not dialog.train_button.isEnabled()
    out = window.fast_styles_dir / "tiny.safetensors"
    assert dialog.result == out and out.is_file()
    assert dialog.preview_label.pixmap() is not None and not dialog.preview_label.pixmap().isNull()
    entry = window.style_panel.current_entry()
    assert entry is not None and entry.id == FAST_PREFIX + "tiny"  # listed and selected
    assert "trained by you" in window.style_panel.list.currentItem().toolTip()


def test_stop_keeps_a_checkpoint_and_reopening_offers_resume(
    window, qtbot, tmp_path, shared_models
):
    window.settings.set_models_dir(str(shared_models))
    _select(window, window.style_panel.entries()[0].id)
    dialog = _dialog(window, tmp_path, "stopped", 10_000)
    job = dialog.start()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("step "), timeout=60000)
    with qtbot.waitSignal(window.engine.cancelled, timeout=30000):
        dialog.stop()
    folder = window.fast_styles_dir
    assert job is not None and not (folder / "stopped.safetensors").exists()
    assert not list(folder.rglob("*.tmp*"))
    assert "Resume continues" in dialog.status.text()
    ids = [window.style_panel.list.item(r).data(Qt.ItemDataRole.UserRole)
           for r in range(window.style_panel.list.count())]  # fmt: skip
    assert FAST_PREFIX + "stopped" not in ids
    dialog.close()
    window._train_dialog = None
    again = window.show_train_style()
    found = again.checkpoint()
    assert found is not None and found.name == "stopped" and found.step >= 5
    assert again.train_button.text() == "Resume" and not again.name_edit.isEnabled()
    assert train_style_job.checkpoint_path(folder, "stopped").is_file()


def test_esc_cancels_a_waiting_live_preview(window, qtbot):
    import threading

    from editor.engine.jobs import Update

    release = threading.Event()

    def blocker(ctx):  # keeps the engine busy so the preview job waits in the queue
        while not release.wait(0.01):
            ctx.check_cancelled()
        yield Update(progress=1.0)

    busy = window.engine.submit("busy", blocker)
    _select(window, FAST_PREFIX + "starry_night")
    _paint(window, [(20, 50), (100, 50)])
    job = window.style_edits._latest_preview
    assert job is not None
    with qtbot.waitSignal(window.engine.cancelled, timeout=5000) as cancelled:
        window.cancel()  # Esc
    assert cancelled.args == [job]
    release.set()
    window.engine.cancel(busy)
    assert not window.canvas.preview_visible


def test_fast_styles_and_pictures_keep_their_own_strength(window):
    slider = window.style_options.strength_slider
    pictures = [e for e in window.style_panel.entries() if not e.id.startswith(FAST_PREFIX)]
    _select(window, pictures[0].id)
    slider.setValue(40)
    _select(window, FAST_PREFIX + "starry_night")
    assert slider.value() == 100  # a fast style runs as trained by default
    slider.setValue(70)
    _select(window, pictures[0].id)
    assert slider.value() == 40
    _select(window, FAST_PREFIX + "starry_night")
    assert slider.value() == 70


def test_the_photo_folder_starts_where_the_user_chose_last(window, tmp_path, monkeypatch):
    """Not the repository's training photos: the folder chosen last, else Pictures, else home."""
    from PySide6.QtCore import QStandardPaths

    from editor.ui import train_style_dialog

    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    monkeypatch.setattr(QStandardPaths, "writableLocation", lambda _where: str(pictures))
    dialog = window.show_train_style()
    assert dialog.photos_edit.text() == str(pictures)
    chosen = _tiny_photos(tmp_path / "chosen")
    monkeypatch.setattr(
        train_style_dialog.QFileDialog, "getExistingDirectory", lambda *_: str(chosen)
    )
    dialog.browse_photos()
    assert window.settings.train_photos_dir() == chosen
    typed = _tiny_photos(tmp_path / "typed")
    dialog.photos_edit.setText(str(typed))
    dialog.name_edit.setText("")  # refused before the photos are looked at: nothing stored
    assert dialog.start() is None and window.settings.train_photos_dir() == chosen
    second = train_style_dialog.TrainStyleDialog(
        window.engine, window.fast_styles_dir, settings=window.settings
    )
    assert second.photos_edit.text() == str(chosen)
    second.close()
    chosen.rename(tmp_path / "gone")  # the stored folder is gone: Pictures again
    assert window.settings.train_photos_dir() == pictures
    monkeypatch.setattr(QStandardPaths, "writableLocation", lambda _where: "")  # and no Pictures
    assert window.settings.train_photos_dir() == Path.home()
