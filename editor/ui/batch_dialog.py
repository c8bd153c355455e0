"""File ▸ Batch…: one edit over a folder (or several files) into an output folder.

The same batches as `semedit upscale|remove|style|faceswap FOLDER -o OUT` (`editor.engine.batch`,
the plan from `editor.core.batch_plan`): outputs named like the inputs, a format or the input's,
Skip existing to continue a stopped batch, worker processes. The batch runs on the engine as one
job: progress over the files, one line per failed file as it fails, the summary at the end;
Cancel stops it between (or, with workers, inside) files and every output written is complete.

The dialog is not modal and only draws; closing it hides it while the batch goes on.
"""

from __future__ import annotations

import os
import shlex
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from editor.core.batch_plan import BatchPlan, BatchPlanError, plan_batch
from editor.core.imageio import OPEN_FILTER
from editor.engine import file_edits
from editor.engine.batch import BatchReport, FileResult, run_batch
from editor.engine.edits import remove
from editor.engine.models.fast_styles import list_fast_styles
from editor.engine.worker import Engine
from editor.ui.form_rows import field_row
from editor.ui.job_bar import JobClock
from editor.ui.upscale_edits import UPSCALE_LOOKS

EDITS = (
    ("upscale", "Upscale"),
    ("remove", "Remove object (masks by name)"),
    ("style", "Fast style"),
    ("faceswap", "Face swap"),
)
FORMATS = ("png", "jpg", "webp", "tiff", "bmp")
"""`batch_plan.OUTPUT_FORMATS`, one name for each."""


class BatchDialog(QDialog):
    """The batch's settings, Start, Cancel, progress, failures and summary."""

    file_done = Signal(object)  # FileResult, emitted on the engine thread, drawn here
    notes_said = Signal(object)  # tuple[str, ...]

    def __init__(
        self,
        engine: Engine,
        *,
        fast_styles_dir: Path | None = None,
        models_dir: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch")
        self.setModal(False)
        self.setMinimumWidth(560)
        self.engine = engine
        self.models_dir = models_dir
        self.job_id: int | None = None
        self.plan: BatchPlan | None = None
        self.report: BatchReport | None = None
        self._verb = ""
        self._failures = 0

        self.edit_combo = QComboBox()
        for key, label in EDITS:
            self.edit_combo.addItem(label, key)
        self.inputs_edit = QLineEdit()
        self.inputs_edit.setPlaceholderText('a folder, or files: "a.jpg" "b.png"')
        self.folder_button = QPushButton("Folder…")
        self.files_button = QPushButton("Files…")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("the folder the results go into")
        self.output_button = QPushButton("Browse…")

        self.options = QStackedWidget()
        self.scale_combo = QComboBox()
        for scale in (2, 3, 4):
            self.scale_combo.addItem(f"×{scale}", scale)
        self.look_combo = QComboBox()
        for index, (look, label, tip) in enumerate(UPSCALE_LOOKS):  # as Image ▸ Upscale Model
            self.look_combo.addItem(label, look)
            self.look_combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self.mask_edit = QLineEdit()
        self.mask_edit.setPlaceholderText("a folder of masks named like the photos, or one mask")
        self.mask_button = QPushButton("Browse…")
        self.method_combo = QComboBox()
        for method in remove.METHODS:
            self.method_combo.addItem(method, method)
        self.style_combo = QComboBox()
        for fast in list_fast_styles(fast_styles_dir):
            self.style_combo.addItem(fast.name, str(fast.path))
        self.faces_edit = QLineEdit()
        self.faces_edit.setPlaceholderText("photos of the new face (several help)")
        self.faces_button = QPushButton("Browse…")
        self.quick_box = QCheckBox("Quick (warp and blend only)")
        for rows in (
            [("Scale", self.scale_combo), ("Look", self.look_combo)],
            [("Masks", field_row(self.mask_edit, self.mask_button)), ("Method", self.method_combo)],
            [("Style", self.style_combo)],
            [("New face", field_row(self.faces_edit, self.faces_button)), ("", self.quick_box)],
        ):
            page = QWidget()
            form = QFormLayout(page)
            form.setContentsMargins(0, 0, 0, 0)
            for label, widget in rows:
                form.addRow(label, widget)
            self.options.addWidget(page)

        self.format_combo = QComboBox()
        self.format_combo.addItem("Same as each input", None)
        for fmt in FORMATS:
            self.format_combo.addItem(fmt.upper(), fmt)
        self.skip_box = QCheckBox("Skip files already in the output folder")
        self.skip_box.setToolTip("Continue a stopped batch where it stopped")
        self.jobs_box = QSpinBox()
        self.jobs_box.setRange(1, max(1, os.cpu_count() or 1))
        self.jobs_box.setToolTip("Worker processes, each with its own copy of the model")

        form = QFormLayout()
        form.addRow("Edit", self.edit_combo)
        form.addRow("Images", field_row(self.inputs_edit, self.folder_button, self.files_button))
        form.addRow("Output folder", field_row(self.output_edit, self.output_button))
        form.addRow(self.options)
        form.addRow("Format", self.format_combo)
        form.addRow("", self.skip_box)
        form.addRow("Worker processes", self.jobs_box)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.time_label = QLabel("")
        self.clock = JobClock(self.time_label)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setPlaceholderText("Files that fail are listed here; the others are written")
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Hide this window; the batch goes on")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.time_label)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(progress_row)
        layout.addWidget(self.status)
        layout.addWidget(self.log, 1)
        layout.addLayout(buttons)

        self.edit_combo.currentIndexChanged.connect(self.options.setCurrentIndex)
        self.folder_button.clicked.connect(self.browse_folder)
        self.files_button.clicked.connect(self.browse_files)
        self.output_button.clicked.connect(partial(self._browse_dir, self.output_edit, "Output"))
        self.mask_button.clicked.connect(partial(self._browse_dir, self.mask_edit, "Masks"))
        self.faces_button.clicked.connect(self.browse_faces)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.hide)
        self.file_done.connect(self._on_file)
        self.notes_said.connect(self._on_notes)
        engine.started.connect(self._on_started)
        engine.progress.connect(self._on_progress)
        engine.finished.connect(self._on_finished)
        engine.failed.connect(self._on_failed)
        engine.cancelled.connect(self._on_cancelled)
        self._set_running(False)

    @property
    def running(self) -> bool:
        return self.job_id is not None

    def edit_key(self) -> str:
        return str(self.edit_combo.currentData())

    def set_edit(self, key: str) -> None:
        self.edit_combo.setCurrentIndex(self.edit_combo.findData(key))

    # --- choosing ------------------------------------------------------------------------------

    def browse_folder(self) -> None:
        self._browse_dir(self.inputs_edit, "Folder of images")

    def browse_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Images", "", OPEN_FILTER)
        if paths:
            self.inputs_edit.setText(_quoted(paths))

    def browse_faces(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Photos of the new face", "", OPEN_FILTER)
        if paths:
            self.faces_edit.setText(_quoted(paths))

    def _browse_dir(self, edit: QLineEdit, title: str) -> None:
        path = QFileDialog.getExistingDirectory(self, title, edit.text())
        if path:
            edit.setText(path)

    # --- running -------------------------------------------------------------------------------

    def file_edit(self) -> file_edits.FileEdit:
        """The chosen edit with its options; ValueError (one line) for what is missing."""
        key = self.edit_key()
        if key == "upscale":
            look = str(self.look_combo.currentData())
            scale = int(self.scale_combo.currentData())
            return file_edits.UpscaleEdit(scale, look=look, models_dir=self.models_dir)
        if key == "remove":
            method = str(self.method_combo.currentData())
            return file_edits.RemoveEdit(method, models_dir=self.models_dir)
        if key == "style":
            if self.style_combo.currentData() is None:
                raise ValueError("No fast style is installed")
            model = str(self.style_combo.currentData())
            return file_edits.StyleEdit("fast", models=(model,), models_dir=self.models_dir)
        faces = _paths(self.faces_edit.text())
        if not faces:
            raise ValueError("Choose photos of the new face")
        file_edits.check_files(*faces)
        quick = self.quick_box.isChecked()
        return file_edits.FaceSwapEdit(faces, quick=quick, models_dir=self.models_dir)

    def make_plan(self) -> BatchPlan:
        """The files to edit (a folder listing, no decoding); ValueError for what cannot work."""
        images = _paths(self.inputs_edit.text())
        if not images:
            raise ValueError("Choose a folder of images, or image files")
        output = self.output_edit.text().strip()
        if not output:
            raise ValueError("Choose the output folder")
        masks: tuple[Path, ...] = ()
        if self.edit_key() == "remove":
            mask = self.mask_edit.text().strip()
            if not mask:
                raise ValueError("Choose the masks: a folder of masks named like the images")
            masks = (Path(mask).expanduser(),)
        fmt = self.format_combo.currentData()
        try:
            return plan_batch(
                images,
                Path(output).expanduser(),
                fmt=fmt,
                masks=masks,
                skip_existing=self.skip_box.isChecked(),
            )
        except BatchPlanError as exc:
            raise ValueError(str(exc)) from None

    def start(self) -> int | None:
        """Submit the batch; None (and the reason under the progress bar) when it cannot run."""
        if self.running:
            return None
        try:
            edit = self.file_edit()
            plan = self.make_plan()
            plan.output_dir.mkdir(parents=True, exist_ok=True)
        except (ValueError, OSError) as exc:
            self.status.setText(str(exc))
            return None
        self.plan, self.report, self._verb, self._failures = plan, None, edit.verb, 0
        self.log.clear()
        self.progress.setValue(0)
        jobs = int(self.jobs_box.value())
        factory = partial(
            run_batch,
            edit,
            plan,
            jobs=jobs,
            on_file=self.file_done.emit,
            on_notes=self.notes_said.emit,
        )
        self.job_id = self.engine.submit(f"Batch: {len(plan.items)} files", factory)
        queued = " (queued behind the running edit)" if self.engine.busy else ""
        skipped = f"; {len(plan.existing)} already there" if plan.existing else ""
        self.status.setText(f"{len(plan.items)} files to edit{skipped}…{queued}")
        self._set_running(True)
        return self.job_id

    def cancel(self) -> None:
        if self.job_id is not None:
            self.engine.cancel(self.job_id)
            self.status.setText("Stopping…")

    def _set_running(self, running: bool) -> None:
        if not running:
            self.clock.stop()
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for widget in (self.edit_combo, self.options, self.format_combo, self.jobs_box):
            widget.setEnabled(not running)
        for widget in (self.inputs_edit, self.output_edit, self.skip_box):
            widget.setEnabled(not running)
        for button in (self.folder_button, self.files_button, self.output_button):
            button.setEnabled(not running)

    def _on_file(self, result: FileResult) -> None:
        if not result.ok:
            self._failures += 1
            self.log.appendPlainText(f"{result.item.source.name}: {result.error}")

    def _on_notes(self, notes: tuple[str, ...]) -> None:
        for note in notes:
            self.log.appendPlainText(f"Note: {note}")

    def _on_started(self, job_id: int, name: str) -> None:
        if job_id == self.job_id:
            self.clock.start()

    def _on_progress(self, job_id: int, fraction: float, text: str) -> None:
        if job_id != self.job_id:
            return
        self.clock.sample(fraction)
        if fraction >= 0:
            self.progress.setValue(int(round(fraction * 1000)))
        if text:
            self.status.setText(text)

    def _on_finished(self, job_id: int, report) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        self.report = report
        self.progress.setValue(1000)
        self.status.setText(report.summary(self._verb))
        self._set_running(False)

    def _on_failed(self, job_id: int, text: str) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        self.status.setText(f"The batch did not run: {text}")
        self._set_running(False)

    def _on_cancelled(self, job_id: int) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        self.status.setText(
            "Cancelled: the files written so far are complete; Start again with "
            "“Skip files already in the output folder” to continue"
        )
        self._set_running(False)


def _paths(text: str) -> tuple[Path, ...]:
    """A folder, a file, or quoted file names ("a.jpg" "b.png") as paths."""
    text = text.strip()
    if not text:
        return ()
    if Path(text).expanduser().exists() or '"' not in text:
        return (Path(text).expanduser(),)
    return tuple(Path(part).expanduser() for part in shlex.split(text))


def _quoted(paths: list[str]) -> str:
    return " ".join(f'"{path}"' for path in paths)
