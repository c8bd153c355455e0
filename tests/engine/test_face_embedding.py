"""MobileFaceNet from the model store: the published weights load strictly, one person's photos
embed close together and different people's apart, and gradients reach the pixels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from editor.engine.models.faces import detect_faces, load_mobilefacenet
from editor.engine.store import ModelMissing
from editor.ops.face_embedding import aligned_112, unit_embedding


def _face(path):
    image = np.asarray(Image.open(path).convert("RGB"))
    face = max(detect_faces(image), key=lambda f: f.box[2] * f.box[3])
    return torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None], face


def test_same_person_is_closer_than_different_people(shared_models, shared_data):
    net = load_mobilefacenet(shared_models)
    people = {
        name: [_face(p) for p in sorted((shared_data / "faces" / name).glob("*.jp*g"))[:2]]
        for name in ("obama", "biden", "kit_harington")
    }
    with torch.no_grad():
        embedded = {
            (name, i): unit_embedding(net, image, face.landmarks)
            for name, faces in people.items()
            for i, (image, face) in enumerate(faces)
        }
    same, different = [], []
    for (a, ea), (b, eb) in itertools.combinations(embedded.items(), 2):
        (same if a[0] == b[0] else different).append(float(ea @ eb))
    assert min(same) > 0.5 and max(different) < 0.25, (same, different)


def test_alignment_is_differentiable_in_the_pixels(shared_models, shared_data):
    net = load_mobilefacenet(shared_models)
    image, face = _face(shared_data / "faces" / "obama" / "obama.jpg")
    image.requires_grad_(True)
    assert aligned_112(image, face.landmarks).shape == (1, 3, 112, 112)
    unit_embedding(net, image, face.landmarks).sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_missing_weights_name_the_model(tmp_path):
    with pytest.raises(ModelMissing, match="mobilefacenet"):
        load_mobilefacenet(tmp_path)
