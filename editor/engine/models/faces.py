"""dlib's face detector, 68-point landmarks and face-recognition embedding, located and loaded once.

The model files come from PyPI (`face-recognition-models`, CC0 / Davis King's dlib models); the
package's `__init__` needs `pkg_resources`, so it is never imported: its folder is found with
`importlib.util.find_spec`. dlib itself comes as `dlib-bin` (a prebuilt wheel).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from editor.engine.models.base import ModelFamily
from editor.engine.store import ModelError

LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"
EMBEDDING_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SAME_PERSON = 0.6
"""dlib's threshold: embeddings closer than this are the same person."""
DETECT_MAX_PIXELS = 6_000_000
"""Bigger images are searched for faces on a shrunk copy: dlib's HOG detector scans every
position (after doubling the image), ~10 s on 24 MP against ~2.5 s on 6 MP, while the faces it
then misses are under ~80 px in the original (too small to swap well). Landmarks are always
fitted at full size; an image where the copy shows no face is searched again at full size."""


class FaceModelsMissing(ModelError):
    """dlib or its model files are not installed; the message says what to install."""


@dataclass(frozen=True)
class Face:
    """One detected face: box (x, y, w, h) in pixels and its 68 landmarks (68, 2) float (x, y)."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray


def models_folder() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelsMissing(
            "face swap needs dlib's models: pip install dlib-bin face-recognition-models"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


_lock = threading.Lock()


@cache
def _dlib():
    try:
        import dlib
    except ImportError as exc:
        raise FaceModelsMissing("face swap needs dlib: pip install dlib-bin") from exc
    folder = models_folder()
    for name in (LANDMARKS_FILE, EMBEDDING_FILE):
        if not (folder / name).is_file():
            raise FaceModelsMissing(
                f"{folder / name} is missing: reinstall face-recognition-models"
            )
    return (
        dlib,
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(folder / LANDMARKS_FILE)),
        dlib.face_recognition_model_v1(str(folder / EMBEDDING_FILE)),
    )


def detect_faces(rgb: np.ndarray, upsample: int = 1) -> list[Face]:
    """Faces in an (H, W, 3) uint8 RGB image, left to right (by the box's centre)."""
    dlib, detector, predictor, _ = _dlib()
    image = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    height, width = image.shape[:2]
    scale = min(1.0, (DETECT_MAX_PIXELS / (height * width)) ** 0.5)
    with _lock:  # dlib's objects are not documented as thread-safe
        boxes = []
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            boxes = [
                dlib.rectangle(
                    round(r.left() / scale),
                    round(r.top() / scale),
                    round(r.right() / scale),
                    round(r.bottom() / scale),
                )
                for r in detector(small, upsample)
            ]
        if not boxes:
            boxes = list(detector(image, upsample))
        faces = []
        for r in boxes:
            shape = predictor(image, r)
            points = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
            faces.append(Face((r.left(), r.top(), r.width(), r.height()), points))
    return sorted(faces, key=lambda f: f.box[0] + f.box[2] / 2)


class FaceLandmarks(ModelFamily):
    """dlib's face detector and 68-point landmark model (from the face-recognition-models
    wheel, installed with SemEdit; not in the registry). `load()` returns `detect_faces`."""

    id = "face-landmarks"
    title = "Face landmarks (dlib)"

    def available(self, **_: object) -> bool:
        try:
            _dlib()
        except FaceModelsMissing:
            return False
        return True

    def load(self):
        _dlib()  # FaceModelsMissing now, with what to install, rather than at the first face
        return detect_faces


def embedding(rgb: np.ndarray, face: Face) -> np.ndarray:
    """dlib's 128-d face-recognition embedding of `face` in `rgb` (distances < 0.6: same
    person)."""
    dlib, _, predictor, recogniser = _dlib()
    image = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    x, y, w, h = face.box
    with _lock:
        shape = predictor(image, dlib.rectangle(x, y, x + w, y + h))
        return np.array(recogniser.compute_face_descriptor(image, shape))


def load_mobilefacenet(models_dir: Path | None, device: str = "cpu"):
    """`FaceIdentity.load` for a models folder (tests and benchmarks, which have no run)."""
    from editor.engine.store import ModelStore

    return FaceIdentity(ModelStore(models_dir=models_dir), device).load()


_identity_cache: dict[tuple[Path, str], object] = {}


class FaceIdentity(ModelFamily):
    """MobileFaceNet, the face swap's identity term (`mobilefacenet` in the store)."""

    id = "face-identity"
    title = "Face identity (MobileFaceNet)"

    def available(self, **_: object) -> bool:
        return self.store.locate("mobilefacenet") is not None

    def load(self):
        """MobileFaceNet with its verified weights, in eval mode with frozen parameters;
        ModelMissing names the file and `semedit models fetch`."""
        import torch

        from editor.ops.face_embedding import MobileFaceNet

        path = self.store.file_path("mobilefacenet")
        key = (path, self.device)
        with _lock:
            if key in _identity_cache:
                return _identity_cache[key]
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = MobileFaceNet()
        net.load_state_dict(state, strict=True)
        net.eval().requires_grad_(False)
        with _lock:
            return _identity_cache.setdefault(key, net.to(self.device))
