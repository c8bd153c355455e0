"""The Models dialog: which weights are present, where they are, and a way to get the rest.

One row per registry model (title and id, status, size, licence, folder). Download runs the
`fetch_model` job on the shared engine, so the window stays responsive and the engine's one-at-a-
time queue is respected; Import copies a file the user already has (identified by its bytes, not
its name) through the engine too, since hashing hundreds of megabytes takes seconds. Errors are
one line in the dialog, never a popup: a missing model is a normal state, not an accident.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from editor.engine.edits import fetch_model
from editor.engine.jobs import RunFactory
from editor.engine.models.manager import Models
from editor.engine.store import ENV_MODELS_DIR, ModelInfo, ModelStore
from editor.engine.worker import Engine

COLUMNS = ("Model", "Status", "Size", "Licence", "Where")
COL_MODEL, COL_STATUS, COL_SIZE, COL_LICENCE, COL_WHERE = range(len(COLUMNS))
IMPORT_FILTER = "Model weights (*.pth *.pt *.safetensors *.bin);;All files (*)"


def _size_words(info: ModelInfo) -> str:
    sizes = [f.size for f in info.files]
    if None in sizes:
        return "unknown"
    total = sum(s for s in sizes if s is not None)
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if total >= scale:
            return f"{total / scale:.1f} {unit}"
    return f"{total} bytes"


class ModelsDialog(QDialog):
    """Status of every registry model, with Download (via the engine) and Import….

    Closing the dialog cancels a running download; its `.part` file is kept, and the next
    Download resumes from it.
    """

    def __init__(self, store: ModelStore, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(900, 360)
        self.store = store
        self.engine = engine
        self.job_id: int | None = None
        self._job_kind = ""  # "download" | "import" while a job of this dialog is live
        self._job_model = ""

        self.folders_label = QLabel(self._folders_text())
        self.folders_label.setWordWrap(True)
        self.folders_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)  # one line a model; long cells elide, tooltips have it all
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_LICENCE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_WHERE, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(COL_LICENCE, 180)  # licences run long: the tooltip has it all
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Download the selected model into the user data folder")
        self.download_button.clicked.connect(self.download)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.clicked.connect(self.cancel)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Copy a weights file you already have into the store")
        self.import_button.clicked.connect(self.import_dialog)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.job_label = QLabel()
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        actions = QHBoxLayout()
        for button in (self.download_button, self.cancel_button, self.import_button):
            actions.addWidget(button)
        actions.addWidget(self.progress, 1)
        actions.addStretch()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.folders_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.job_label)
        layout.addWidget(self.error_label)
        layout.addWidget(close)

        engine.started.connect(self._on_started)
        engine.progress.connect(self._on_progress)
        engine.finished.connect(self._on_finished)
        engine.failed.connect(self._on_failed)
        engine.cancelled.connect(self._on_cancelled)
        self.refresh()

    # --- table ---------------------------------------------------------------------------------

    def _folders_text(self) -> str:
        user = f"the user data folder {self.store.user_dir}, where downloads and imports go"
        if self.store.models_dir is None:
            return (
                f"Models are looked for in {user}. Set a models folder in Preferences (or the"
                f" {ENV_MODELS_DIR} variable) to use weights kept elsewhere."
            )
        return (
            f"Models are looked for in the models folder {self.store.models_dir} (Preferences"
            f" or {ENV_MODELS_DIR}), then in {user}."
        )

    def refresh(self) -> None:
        """Re-check every model on disk and redraw the table, keeping the selection."""
        selected = self.selected_id()
        self.table.setRowCount(0)
        for info, state, where in self.store.status():
            row = self.table.rowCount()
            self.table.insertRow(row)
            files = "\n".join(f.name for f in info.files)
            cells = (
                f"{info.title} ({info.id})",
                state,
                _size_words(info),
                info.licence,
                str(where) if where is not None else "—",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, info.id)
                if column in (COL_LICENCE, COL_WHERE):
                    item.setToolTip(text)
                else:
                    item.setToolTip(f"{info.source}\n{files}" if info.source else files)
                self.table.setItem(row, column, item)
            if info.id == selected:
                self.table.selectRow(row)
        self._update_buttons()

    def _row(self, model_id: str) -> int:
        for row in range(self.table.rowCount()):
            if self.table.item(row, COL_MODEL).data(Qt.ItemDataRole.UserRole) == model_id:
                return row
        raise KeyError(model_id)

    def status_of(self, model_id: str) -> str:
        """The status cell of a model's row ('present', 'missing', 'corrupt')."""
        return self.table.item(self._row(model_id), COL_STATUS).text()

    def select(self, model_id: str) -> None:
        self.table.selectRow(self._row(model_id))

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.table.item(rows[0].row(), COL_MODEL).data(Qt.ItemDataRole.UserRole)

    def _can_download(self, model_id: str | None) -> bool:
        """A missing (or damaged) model whose every file has a download source (URL or wheel)."""
        if model_id is None:
            return False
        info = self.store.registry[model_id]
        return self.status_of(model_id) != "present" and all(f.downloadable for f in info.files)

    def _update_buttons(self) -> None:
        busy = self.job_id is not None
        model_id = self.selected_id()
        self.download_button.setEnabled(not busy and self._can_download(model_id))
        self.import_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy and self._job_kind == "download")
        self.cancel_button.setVisible(busy and self._job_kind == "download")
        if model_id is not None and not busy and not self._can_download(model_id):
            if self.status_of(model_id) != "present":
                self.download_button.setToolTip(
                    "No download source is known for this model: use Import… with a copy of it"
                )
                return
        self.download_button.setToolTip("Download the selected model into the user data folder")

    # --- jobs ----------------------------------------------------------------------------------

    def download(self) -> int | None:
        """Start downloading the selected model on the engine; returns the job id."""
        model_id = self.selected_id()
        if self.job_id is not None or not self._can_download(model_id):
            return None
        assert model_id is not None
        request = fetch_model.FetchRequest(model_id)
        self._start("download", model_id, f"Download {model_id}", partial(fetch_model.run, request))
        return self.job_id

    def import_dialog(self) -> int | None:
        """Ask for a weights file and import it on the engine; returns the job id."""
        if self.job_id is not None:
            return None
        name, _ = QFileDialog.getOpenFileName(
            self, "Import a model file", str(Path.home()), IMPORT_FILTER
        )
        if not name:
            return None
        request = fetch_model.ImportRequest(Path(name))
        self._start(
            "import", "", f"Import {request.path.name}", partial(fetch_model.run_import, request)
        )
        return self.job_id

    def _start(self, kind: str, model_id: str, name: str, factory: RunFactory) -> None:
        queued = self.engine.busy
        self._job_kind, self._job_model = kind, model_id
        self.error_label.clear()
        self.job_id = self.engine.submit(name, factory, models=Models(self.store))
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.job_label.setText(
            f"{name}: waiting for the running edit to finish…" if queued else f"{name}…"
        )
        self._update_buttons()

    def cancel(self) -> None:
        """Stop the running download; the partial file stays for a later resume."""
        if self.job_id is not None:
            self.engine.cancel(self.job_id)

    def done(self, result: int) -> None:
        # Every way of closing (Close, Esc, the title bar) ends here: stop our download with it.
        self.cancel()
        super().done(result)

    def _end(self) -> None:
        self.job_id = None
        self._job_kind = self._job_model = ""
        self.refresh()

    @Slot(int, str)
    def _on_started(self, job_id: int, name: str) -> None:
        if job_id == self.job_id:
            self.job_label.setText(f"{name}…")

    @Slot(int, float, str)
    def _on_progress(self, job_id: int, fraction: float, message: str) -> None:
        if job_id != self.job_id:
            return
        if fraction < 0:
            self.progress.setRange(0, 0)  # size unknown: a busy indicator
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(fraction * 1000))
        if message:
            self.job_label.setText(message)

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: object) -> None:
        if job_id != self.job_id:
            return
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        if self._job_kind == "import":
            model_id, dest = result  # type: ignore[misc]
            self.job_label.setText(f"Imported as {model_id}: {dest}")
        else:
            self.job_label.setText(f"{self._job_model} downloaded and verified in {result}")
        self._end()

    @Slot(int, str)
    def _on_failed(self, job_id: int, text: str) -> None:
        if job_id != self.job_id:
            return
        self.progress.setVisible(False)
        self.job_label.clear()
        what = "Import" if self._job_kind == "import" else "Download"
        self.error_label.setText(f"{what} failed: {text}")
        self._end()

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        if job_id != self.job_id:
            return
        self.progress.setVisible(False)
        self.job_label.setText("Download cancelled; it resumes where it stopped next time")
        self._end()


__all__ = ["ModelsDialog"]
