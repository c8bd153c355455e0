"""Image ▸ Style ▸ Train Fast Style…: train a feed-forward style network for one painting.

The user picks the painting (the selected library picture by default), a folder of photos
(the one chosen last, else their Pictures folder, else home: `Settings.train_photos_dir`), a name,
the number of steps and the crop size. Training runs on the engine as an ordinary job
(`editor.engine.edits.train_style_job`): progress and a preview (a photo beside its current
stylisation) arrive as signals, Stop cancels (the job keeps a checkpoint), and re-opening the
dialog offers to resume any interrupted training. The finished network is saved into the user's
fast-styles folder and `trained` tells the window, which shows it in the Styles panel.

The dialog is not modal: closing it hides it while training goes on; it only draws.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from editor.core.imageio import OPEN_FILTER, ImageIOError, load_image
from editor.engine.edits import train_style_job
from editor.engine.models import fast_styles
from editor.engine.worker import Engine
from editor.ui.form_rows import field_row
from editor.ui.job_bar import JobClock
from editor.ui.qimage import qimage_from_pixels
from editor.ui.settings import Settings

PREVIEW_HEIGHT = 160


def painting_rgb(pixels: np.ndarray) -> np.ndarray:
    """Any loaded picture -> (h, w, 3) uint8 RGB (16-bit shifted down, grey spread, alpha cut)."""
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] < 3:
        pixels = np.repeat(pixels[..., :1], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3])


class TrainStyleDialog(QDialog):
    """Settings, Train/Resume, Stop, progress and a live preview of one training job."""

    trained = Signal(object)  # Path of the finished .safetensors

    def __init__(
        self,
        engine: Engine,
        folder: Path,
        *,
        picture: Path | None = None,
        picture_name: str = "",
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train Fast Style")
        self.setModal(False)
        self.setMinimumWidth(480)
        self.engine = engine
        self.folder = Path(folder)
        self.settings = settings if settings is not None else Settings()
        self.job_id: int | None = None
        self.result: Path | None = None

        self.start_combo = QComboBox()
        self.start_combo.setToolTip("Start a new style, or continue an interrupted training")
        self.picture_edit = QLineEdit(str(picture) if picture else "")
        self.picture_edit.setPlaceholderText("the painting whose style to learn")
        self.picture_button = QPushButton("Browse…")
        self.photos_edit = QLineEdit(str(self.settings.train_photos_dir()))
        self.photos_edit.setToolTip("A folder of natural photos (a few dozen varied scenes)")
        self.photos_button = QPushButton("Browse…")
        self.name_edit = QLineEdit(_suggest_name(picture_name or (picture.stem if picture else "")))
        self.steps_box = QSpinBox()
        self.steps_box.setRange(1, 200_000)
        self.steps_box.setSingleStep(250)
        self.steps_box.setValue(train_style_job.DEFAULT_STEPS)
        self.steps_box.setToolTip("1000 steps take roughly 15 minutes on two CPU cores")
        self.size_box = QSpinBox()
        self.size_box.setRange(32, 512)
        self.size_box.setSingleStep(32)
        self.size_box.setValue(train_style_job.DEFAULT_SIZE)
        self.size_box.setSuffix(" px")
        self.size_box.setToolTip("Side of the training crops; the painting is used at twice that")

        form = QFormLayout()
        form.addRow("Start", self.start_combo)
        form.addRow("Style picture", field_row(self.picture_edit, self.picture_button))
        form.addRow("Photos", field_row(self.photos_edit, self.photos_button))
        form.addRow("Name", self.name_edit)
        form.addRow("Steps", self.steps_box)
        form.addRow("Crop size", self.size_box)

        self.preview_label = QLabel()
        self.preview_label.setMinimumHeight(PREVIEW_HEIGHT)
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_label.setText("The preview shows a photo beside its stylisation")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.time_label = QLabel("")
        self.clock = JobClock(self.time_label)  # training runs for minutes to hours
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop training; a checkpoint is kept so Resume can continue")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Hide this window; training goes on")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.train_button, self.stop_button, self.close_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview_label, 1)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.time_label)
        layout.addLayout(progress_row)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        self.picture_button.clicked.connect(self.browse_picture)
        self.photos_button.clicked.connect(self.browse_photos)
        self.train_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.close_button.clicked.connect(self.hide)
        self.start_combo.currentIndexChanged.connect(self._start_changed)
        engine.started.connect(self._on_started)
        engine.progress.connect(self._on_progress)
        engine.preview.connect(self._on_preview)
        engine.finished.connect(self._on_finished)
        engine.failed.connect(self._on_failed)
        engine.cancelled.connect(self._on_cancelled)
        self.refresh_checkpoints()
        self._set_running(False)

    # --- state ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.job_id is not None

    def refresh_checkpoints(self) -> None:
        """Offer every interrupted training; the newest is preselected."""
        self.start_combo.blockSignals(True)
        self.start_combo.clear()
        self.start_combo.addItem("New style", None)
        for found in train_style_job.find_checkpoints(self.folder):
            self.start_combo.addItem(
                f"Resume {found.name} (step {found.step} of {found.total_steps})", found
            )
        self.start_combo.setCurrentIndex(1 if self.start_combo.count() > 1 else 0)
        self.start_combo.blockSignals(False)
        self._start_changed()

    def checkpoint(self) -> train_style_job.TrainingCheckpoint | None:
        return self.start_combo.currentData()

    def _start_changed(self, *_) -> None:
        found = self.checkpoint()
        new = found is None
        for widget in (self.picture_edit, self.picture_button, self.photos_edit):
            widget.setEnabled(new and not self.running)
        self.photos_button.setEnabled(new and not self.running)
        self.name_edit.setEnabled(new and not self.running)
        self.size_box.setEnabled(new and not self.running)
        self.train_button.setText("Train" if new else "Resume")
        if found is not None:
            self.name_edit.setText(found.name)
            self.photos_edit.setText(str(found.photos))
            self.size_box.setValue(found.size)
            self.steps_box.setValue(found.total_steps)
            self.picture_edit.setText(found.painting_label)

    def _set_running(self, running: bool) -> None:
        if not running:
            self.clock.stop()
        self.train_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.start_combo.setEnabled(not running)
        self.steps_box.setEnabled(not running)
        self._start_changed()

    # --- choosing ------------------------------------------------------------------------------

    def suggest_picture(self, picture: Path | None, name: str = "") -> None:
        """The window's selected library picture, for a new style (not while one trains)."""
        if picture is None or self.running or self.checkpoint() is not None:
            return
        self.picture_edit.setText(str(picture))
        self.name_edit.setText(_suggest_name(name or picture.stem))

    def browse_picture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Style picture", "", OPEN_FILTER)
        if path:
            self.picture_edit.setText(path)
            if not self.name_edit.text().strip():
                self.name_edit.setText(_suggest_name(Path(path).stem))

    def browse_photos(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of photos", self.photos_edit.text())
        if path:
            self.photos_edit.setText(path)
            self.settings.set_train_photos_dir(path)

    # --- running -------------------------------------------------------------------------------

    def start(self) -> int | None:
        """Submit the training job (new or resumed); None with a message when input is wrong."""
        if self.running:
            return None
        found = self.checkpoint()
        try:
            name = train_style_job.check_name(self.name_edit.text())
        except ValueError as error:
            return self._refuse(str(error))
        painting = None
        label = ""
        if found is None:
            shipped = {s.name for s in fast_styles.list_fast_styles(self.folder) if s.shipped}
            if name in shipped:
                return self._refuse(f"{name} is a style shipped with SemEdit; choose another name")
            picture = Path(self.picture_edit.text().strip())
            if not self.picture_edit.text().strip():
                return self._refuse("Choose the style picture first")
            try:
                painting = painting_rgb(load_image(picture).pixels)
            except ImageIOError as error:
                return self._refuse(f"Cannot read the style picture: {error}")
            label = picture.name
            photos = Path(self.photos_edit.text().strip())
            if not photos.is_dir():
                return self._refuse(f"{photos} is not a folder of photos")
            self.settings.set_train_photos_dir(photos)  # typed in, or browsed to
        else:
            photos = found.photos
        request = train_style_job.TrainStyleRequest(
            name=name,
            painting=painting,
            photos=photos,
            folder=self.folder,
            steps=int(self.steps_box.value()),
            size=int(self.size_box.value()),
            resume=found is not None,
            painting_label=label,
        )
        self.result = None
        self.job_id = self.engine.submit(
            f"Train style {name}", partial(train_style_job.run, request)
        )
        self.progress.setValue(0)
        verb = "Resuming" if found is not None else "Training"
        queued = " (queued behind the running edit)" if self.engine.busy else ""
        self.status.setText(f"{verb} {name}…{queued}")
        self._set_running(True)
        return self.job_id

    def stop(self) -> None:
        if self.job_id is not None:
            self.engine.cancel(self.job_id)
            self.status.setText("Stopping: saving a checkpoint…")

    def _refuse(self, text: str) -> None:
        self.status.setText(text)
        return None

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

    def _on_preview(self, job_id: int, update) -> None:
        if job_id != self.job_id or update.preview is None:
            return
        pixmap = QPixmap.fromImage(qimage_from_pixels(update.preview))
        self.preview_label.setPixmap(
            pixmap.scaledToHeight(PREVIEW_HEIGHT, Qt.TransformationMode.SmoothTransformation)
        )

    def _on_finished(self, job_id: int, path) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        self.result = Path(path)
        self.progress.setValue(1000)
        name = self.result.name[: -len(".safetensors")]
        self.status.setText(f"Saved {name}: pick it in the Styles panel (marked FAST)")
        self._set_running(False)
        self.refresh_checkpoints()
        self.trained.emit(self.result)

    def _on_failed(self, job_id: int, text: str) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        self.status.setText(f"Training failed: {text}")
        self._set_running(False)
        self.refresh_checkpoints()

    def _on_cancelled(self, job_id: int) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        self._set_running(False)
        self.refresh_checkpoints()
        found = self.checkpoint()
        if found is not None:
            self.status.setText(
                f"Stopped at step {found.step}; Resume continues from there (no style was saved)"
            )
        else:
            self.status.setText("Stopped before the first checkpoint; nothing was saved")


def _suggest_name(text: str) -> str:
    """A valid style name from a picture's name ("Starry Night.jpg" -> "Starry_Night")."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in text.strip())
    return cleaned.strip("_-")[:64]
