"""File ▸ Batch…: the dialog runs the CLI's batches on the engine; outputs, failures listed,
summary, Skip existing, masks by name, worker processes, Cancel, and quitting while one runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from shown_window import shown_window

from editor.core.batch_plan import OUTPUT_FORMATS
from editor.core.imageio import load_image, save_image
from editor.engine.file_edits import Prepared
from editor.engine.jobs import Update
from editor.engine.models.manager import Models
from editor.engine.models.upscalers import LOOKS
from editor.engine.worker import Engine
from editor.ui.batch_dialog import FORMATS, BatchDialog


def photos(folder: Path, count: int, broken: tuple[int, ...] = ()) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"p{i}.png"
        if i in broken:
            path.write_bytes(b"not a picture" * 20)
        else:
            yy, xx = np.mgrid[0:32, 0:40]
            rgb = np.stack([xx * 6, yy * 7, np.full_like(xx, 40 * i)], -1) % 256
            Image.fromarray(rgb.astype(np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def dialog(qtbot, tmp_path):
    engine = Engine(device="cpu")
    dialog = BatchDialog(engine, fast_styles_dir=tmp_path / "styles")
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog
    engine.shutdown()


def run_to_end(qtbot, dialog: BatchDialog, timeout: int = 60_000) -> None:
    assert dialog.start() is not None, dialog.status.text()
    assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.running, timeout=timeout)


def test_a_folder_upscales_with_each_failure_listed_and_a_summary(qtbot, dialog, tmp_path):
    photos(tmp_path / "in", 4, broken=(2,))
    dialog.set_edit("upscale")
    dialog.inputs_edit.setText(str(tmp_path / "in"))
    dialog.output_edit.setText(str(tmp_path / "out"))
    progress = []
    dialog.engine.progress.connect(lambda job, fraction, text: progress.append(fraction))
    run_to_end(qtbot, dialog)

    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["p0.png", "p1.png", "p3.png"]
    for name in written:
        assert load_image(tmp_path / "out" / name).pixels.shape == (64, 80, 3)
    (line,) = dialog.log.toPlainText().splitlines()
    assert line.startswith("p2.png: ")
    assert "3 of 4 files upscaled" in dialog.status.text() and "1 failed" in dialog.status.text()
    assert dialog.progress.value() == 1000 and progress == sorted(progress)
    assert dialog.report is not None and len(dialog.report.failed) == 1

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    dialog.skip_box.setChecked(True)  # the rerun tries the broken file only
    run_to_end(qtbot, dialog)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == stamps
    assert "0 of 4 files upscaled" in dialog.status.text() and "1 failed" in dialog.status.text()
    assert "3 already there" in dialog.status.text()


def test_remove_matches_masks_by_name_and_writes_the_chosen_format(qtbot, dialog, tmp_path):
    sources = photos(tmp_path / "in", 2)
    (tmp_path / "masks").mkdir()
    for source in sources:
        mask = np.zeros((32, 40), np.uint8)
        mask[10:20, 12:24] = 255
        Image.fromarray(mask).save(tmp_path / "masks" / f"{source.stem}.png")
    dialog.set_edit("remove")
    assert dialog.options.currentIndex() == 1  # the remove options are the ones shown
    dialog.inputs_edit.setText(" ".join(f'"{p}"' for p in sources))  # as Files… writes them
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.mask_edit.setText(str(tmp_path / "masks"))
    dialog.method_combo.setCurrentIndex(dialog.method_combo.findData("telea"))
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("webp"))
    run_to_end(qtbot, dialog)

    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.webp", "p1.webp"]
    for source in sources:
        before = load_image(source).pixels.astype(int)
        after = load_image(tmp_path / "out" / f"{source.stem}.webp").pixels.astype(int)
        inside = np.abs(after[12:18, 14:22] - before[12:18, 14:22]).mean()
        outside = np.abs(after[:6] - before[:6]).mean()
        assert inside > 3 * max(outside, 1.0)  # the hole was filled, the rest kept (lossy webp)
    assert dialog.log.toPlainText() == ""


def test_two_worker_processes_from_the_engine_thread(qtbot, dialog, tmp_path):
    photos(tmp_path / "in", 3)
    dialog.set_edit("upscale")
    dialog.inputs_edit.setText(str(tmp_path / "in"))
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.jobs_box.setMaximum(2)
    dialog.jobs_box.setValue(2)
    run_to_end(qtbot, dialog, timeout=120_000)
    assert len(list((tmp_path / "out").iterdir())) == 3
    assert "3 of 3 files upscaled" in dialog.status.text()


def test_what_is_missing_is_said_and_nothing_runs(dialog, tmp_path):
    dialog.set_edit("remove")
    assert dialog.start() is None and "folder of images" in dialog.status.text()
    photos(tmp_path / "in", 1)
    dialog.inputs_edit.setText(str(tmp_path / "in"))
    assert dialog.start() is None and "output folder" in dialog.status.text()
    dialog.output_edit.setText(str(tmp_path / "out"))
    assert dialog.start() is None and "masks" in dialog.status.text()
    dialog.set_edit("faceswap")
    assert dialog.start() is None and "new face" in dialog.status.text()
    assert not dialog.running and not (tmp_path / "out").exists()


def test_the_dialog_offers_what_the_cli_does(dialog):
    assert set(FORMATS) <= set(OUTPUT_FORMATS)
    dialog.set_edit("style")
    shipped = {dialog.style_combo.itemText(i) for i in range(dialog.style_combo.count())}
    assert {"starry_night", "shipwreck"} <= shipped  # the shipped fast styles
    looks = [dialog.look_combo.itemData(i) for i in range(dialog.look_combo.count())]
    assert looks == list(LOOKS)  # every look `semedit upscale --look` takes, in the same order
    assert dialog.look_combo.itemText(1) == "Sharp (GAN)" and dialog.look_combo.itemData(
        1, Qt.ItemDataRole.ToolTipRole
    )


@dataclass(frozen=True)
class GatedEdit:
    """Writes the first file at once, then holds the second until cancelled."""

    verb = "gated"
    first_done = threading.Event()

    def check(self, item) -> None: ...

    def prepare(self) -> Prepared:
        def run(item, ctx):
            if item.source.stem == "p0":
                save_image(item.output, load_image(item.source).pixels)
                return None
            self.first_done.set()
            while True:
                ctx.check_cancelled()
                yield Update(message="waiting")
                threading.Event().wait(0.01)

        return Prepared(run, Models())


def test_cancel_keeps_what_was_written_and_quitting_asks_first(
    qtbot, monkeypatch, tmp_path, rgb_image
):
    photos(tmp_path / "in", 3)
    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    with shown_window(qtbot, monkeypatch, tmp_path) as window:
        window.open_path(path)
        assert window.act_batch in window.menuBar().actions()[0].menu().actions()
        window.act_batch.trigger()
        dialog = window._batch_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.inputs_edit.text() == str(tmp_path)  # the open image's folder
        dialog.inputs_edit.setText(str(tmp_path / "in"))
        dialog.output_edit.setText(str(tmp_path / "out"))
        edit = GatedEdit()
        monkeypatch.setattr(dialog, "file_edit", lambda: edit)
        dialog.start()
        qtbot.waitUntil(edit.first_done.is_set, timeout=10_000)

        asked = []
        monkeypatch.setattr(
            QMessageBox, "question", lambda *a: asked.append(a) or QMessageBox.StandardButton.No
        )
        window.close()
        assert asked and window.isVisible() and dialog.running  # "No": nothing stops

        dialog.cancel()
        qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
        assert "Cancelled" in dialog.status.text()
        assert [p.name for p in (tmp_path / "out").iterdir()] == ["p0.png"]
        assert dialog.start_button.isEnabled()
