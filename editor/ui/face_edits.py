"""Face swap in the window: finding the image's faces for the Face tool, looking at a face set's
new photos once, and submitting the swap of the chosen face.

All detection runs on the engine (`editor.engine.edits.faceswap.find_faces` and
`find_photo_faces`); this object only keeps what came back: the faces of the current image (for
the revision they were found on) and, through the library, each set photo's landmarks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject

from editor.core.face_sets import FaceSetError, FaceSetLibrary
from editor.engine.edits import faceswap
from editor.engine.models.vgg import vgg_available
from editor.ui.canvas import CanvasView
from editor.ui.edit_session import EditSession
from editor.ui.face_panel import FacePanel
from editor.ui.tools import FacePickTool, ToolHost


class FaceEdits(QObject):
    """The window's face-swap state: outlines of the current image, pending photo checks, and
    the swap request built from the panel's set and the Face tool's choice."""

    def __init__(
        self,
        session: EditSession,
        canvas: CanvasView,
        panel: FacePanel,
        host: ToolHost,
        status: Callable[[str], None],
        models_dir: Callable[[], Path | None],
    ) -> None:
        super().__init__()
        self.session = session
        self.canvas = canvas
        self.panel = panel
        self.tool = FacePickTool(host, on_pick=self._picked)  # the window's Face tool
        self._status = status
        self._models_dir = models_dir
        self.document = None
        self._faces_revision: int | None = None  # the image revision the outlines belong to
        self._find_job: int | None = None
        self._find_revision: int | None = None
        self._clicked = False
        self._set_jobs: dict[int, tuple[str, dict[str, str]]] = {}  # job -> (set, path -> file)
        self._swap_after: set[str] = set()  # sets whose swap waits for their photos' check
        engine = session.engine
        engine.finished.connect(self._on_finished)
        engine.failed.connect(self._on_failed)
        engine.cancelled.connect(self._on_cancelled)
        panel.photosAdded.connect(self.check_set)
        panel.swapRequested.connect(self.swap)
        session.bar.stateChanged.connect(self._on_bar_state)

    def _on_bar_state(self, state: str) -> None:
        """The outlines would hide the swapped face: off while a result is running or offered."""
        self.tool.outlines_shown = state in ("idle", "message")
        self.canvas.viewport().update()

    def set_document(self, document) -> None:
        if self.document is not None:
            self.document.remove_listener(self._on_document_changed)
        self.document = document
        if document is not None:
            document.add_listener(self._on_document_changed)
        self._outlines_stale()

    def _on_document_changed(self, layer: str, rect) -> None:
        if layer == "image" and self._faces_revision is not None and not self.faces_current():
            self._outlines_stale()
            if self.canvas.tool is self.tool:
                self.find_faces()

    # --- the image's faces -------------------------------------------------------------------

    def faces_current(self) -> bool:
        doc = self.document
        return doc is not None and self._faces_revision == doc.image_revision

    def find_faces(self) -> int | None:
        """Look for the image's faces (unless the outlines shown are of this very image)."""
        doc = self.document
        if doc is None or self.faces_current() or self._find_job is not None:
            return None
        self._find_job = self.session.engine.submit(
            "Finding faces",
            partial(faceswap.find_faces, faceswap.FindFacesRequest(doc.image.copy())),
        )
        self._find_revision = doc.image_revision
        return self._find_job

    def _outlines_stale(self) -> None:
        """A new document or new pixels: the outlines no longer fit."""
        self._faces_revision = None
        self._clicked = False  # a click chooses; until then the mask, else the largest
        self.tool.set_faces([])
        self.panel.set_target_text(None, None)
        self.canvas.viewport().update()

    def _picked(self, index: int) -> None:
        self._clicked = True
        self.panel.set_target_text(index, len(self.tool.faces))
        self.canvas.viewport().update()

    # --- face sets ---------------------------------------------------------------------------

    def check_set(self, set_id: str) -> int | None:
        """Find the face in each of the set's photos not looked at yet."""
        face_set = self.panel.library.get(set_id)
        if face_set is None or not face_set.unchecked:
            return None
        for job, (owner, _) in self._set_jobs.items():
            if owner == set_id:
                return job  # already being looked at; the job re-checks when it ends
        library: FaceSetLibrary = self.panel.library
        files = {str(library.path(p)): p.file for p in face_set.unchecked}
        paths = tuple(Path(p) for p in files)
        job = self.session.engine.submit(
            f"Looking at {face_set.name}",
            partial(faceswap.find_photo_faces, faceswap.PhotoFacesRequest(paths)),
        )
        self._set_jobs[job] = (set_id, files)
        self._status(f"Looking for the face in {len(paths)} photo(s) of {face_set.name}…")
        return job

    # --- the swap ----------------------------------------------------------------------------

    def swap(self) -> int | None:
        """Swap the chosen face (else the one under the mask, else the largest) for the selected
        set. A set with photos not looked at yet is looked at first (that job's id is returned)
        and the swap follows when it ends."""
        doc = self.document
        face_set = self.panel.current_set()
        if doc is None:
            return None
        if face_set is None:
            self._status("Make a face set first: drop photos of the new face on the Faces panel")
            return None
        if face_set.unchecked:
            self._swap_after.add(face_set.id)
            return self.check_set(face_set.id)
        ready = face_set.ready
        if not ready:
            self._status(f"No face was found in the photos of {face_set.name}")
            return None
        point = None
        if self.faces_current() and self._clicked and self.tool.chosen is not None:
            point = tuple(self.tool.faces[self.tool.chosen].mean(axis=0))
        elif doc.mask.any():
            ys, xs = np.nonzero(doc.mask)
            point = (float(xs.mean()), float(ys.mean()))
        models_dir = self._models_dir()
        quick = self.panel.quick()
        if not quick and not vgg_available(models_dir):
            quick = True
            self._status("The full face swap needs VGG19 feature weights (Edit ▸ Models…); quick")
        library = self.panel.library
        snapshot = doc.image.copy()
        request = faceswap.FaceSwapRequest(
            snapshot,
            tuple(library.path(p) for p in ready),
            quick=quick,
            target_point=point,
            photo_landmarks=tuple(p.landmark_array() for p in ready),
        )
        name = f"Face swap ({face_set.name}{', quick' if quick else ''})"
        return self.session.submit(name, partial(faceswap.run, request), before=snapshot)

    # --- engine signals ----------------------------------------------------------------------

    def _on_finished(self, job_id: int, value) -> None:
        if job_id == self._find_job:
            self._find_job = None
            doc = self.document
            if doc is None or doc.image_revision != self._find_revision:
                return  # the image changed meanwhile: look again when asked
            self._faces_revision = doc.image_revision
            faces = [face.landmarks for face in value]
            chosen = faceswap.largest_face(value) if faces else None  # the CLI's default
            self.tool.set_faces(faces, chosen)
            self.panel.set_target_text(chosen, len(faces))
            self.canvas.viewport().update()
            return
        if job_id not in self._set_jobs:
            return
        set_id, files = self._set_jobs.pop(job_id)
        try:
            face_set = self.panel.library.set_landmarks(
                set_id, {files[path]: marks for path, marks in value.items()}
            )
        except FaceSetError as error:  # removed meanwhile, or the index is not writable
            self._status(str(error))
            return
        names = {p.file: p.name or Path(p.file).name for p in face_set.photos}
        missing = [
            names.get(files[path], Path(path).name)
            for path, marks in value.items()
            if marks is None
        ]
        for path, marks in value.items():
            if marks is None:
                face_set = self.panel.library.remove_photo(set_id, files[path])
        self.panel.refresh(select=set_id)
        if missing:
            self._status(
                f"No face found in {', '.join(missing)}: left out of {face_set.name} "
                f"({len(face_set.ready)} photo(s) ready)"
            )
        else:
            self._status(f"{face_set.name}: {len(face_set.ready)} photo(s) ready")
        if face_set.unchecked:
            self.check_set(set_id)  # photos added while the job ran
        elif set_id in self._swap_after:
            self._swap_after.discard(set_id)
            current = self.panel.current_set()
            if current is not None and current.id == set_id:
                self.swap()

    def _on_failed(self, job_id: int, text: str) -> None:
        if job_id == self._find_job:
            self._find_job = None
            self._status(f"Finding faces failed: {text}")
        elif job_id in self._set_jobs:
            set_id, _ = self._set_jobs.pop(job_id)
            self._swap_after.discard(set_id)
            self._status(f"Looking at the face photos failed: {text}")

    def _on_cancelled(self, job_id: int) -> None:
        if job_id == self._find_job:
            self._find_job = None
        elif job_id in self._set_jobs:
            set_id, _ = self._set_jobs.pop(job_id)
            self._swap_after.discard(set_id)
