"""Gatys on the full VGG19 (issue #19): the paper's layers, and the painting's deep statistics
are matched far better than with conv1-3 + the wct16x aux heads, the photo's edges kept."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from editor.core.imageio import load_image
from editor.engine.edits.pixels import to_rgb01
from editor.engine.edits.style import gatys_settings
from editor.engine.features import CONV3_ONLY, FULL_FIRST, shared_features, style_features
from editor.ops.style_losses import resize
from editor.ops.style_transfer import StyleTarget, layer_plan, style_distance, synthesise

FULL = "vgg19_full/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
DEEP = ("relu4_1", "relu5_1")


@pytest.fixture
def models(shared_models: Path) -> Path:
    if not (shared_models / FULL).is_file():
        pytest.skip("../shared/models has no vgg19_full")
    return shared_models


def _picture(path: Path, long_side: int) -> torch.Tensor:
    image = to_rgb01(load_image(path).pixels)
    h, w = image.shape[-2:]
    f = long_side / max(h, w)
    return resize(image, (round(h * f), round(w * f)))


def _edges(x: torch.Tensor) -> np.ndarray:
    y = (0.299 * x[0, 0] + 0.587 * x[0, 1] + 0.114 * x[0, 2]).numpy().astype(np.float32)
    return np.hypot(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1)).ravel()


def _stylise(features, content, style, iterations=16) -> torch.Tensor:
    settings = gatys_settings(features.available_layers, iterations=iterations)
    gen = synthesise(features, features.available_layers, [StyleTarget(style)], settings,
                     content=content)  # fmt: skip
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def test_full_network_uses_the_papers_layers(models):
    features = style_features(models, "cpu", prefer=FULL_FIRST)
    plan = layer_plan(features.available_layers)
    assert plan.style == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert plan.content == "relu4_2"
    assert plan.patch == ("relu3_1", "relu4_1")  # CNNMRF's layers, real ones


def test_full_network_matches_the_paintings_deep_statistics_better(models, shared_data):
    content = _picture(shared_data / "content" / "tubingen.jpg", 96)
    style = _picture(shared_data / "style" / "starry_night.jpg", 96)
    judge = shared_features(models, "cpu", prefer=("vgg19-full",))
    before = style_distance(judge, content, style, DEEP)
    full = _stylise(style_features(models, "cpu", prefer=FULL_FIRST), content, style)
    old = _stylise(style_features(models, "cpu", prefer=CONV3_ONLY), content, style)
    gain_full = before / style_distance(judge, full, style, DEEP)
    gain_old = before / style_distance(judge, old, style, DEEP)
    assert gain_full > 1.5 * gain_old, (gain_full, gain_old)
    edges = float(np.corrcoef(_edges(full), _edges(content))[0, 1])
    assert edges > 0.3, edges  # the town is still there
