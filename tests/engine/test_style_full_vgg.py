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


def _run(gen) -> torch.Tensor:
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def _stylise(features, content, style, iterations=16) -> torch.Tensor:
    settings = gatys_settings(features.available_layers, iterations=iterations)
    return _run(synthesise(features, features.available_layers, [StyleTarget(style)], settings,
                           content=content))  # fmt: skip


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


def test_the_full_networks_defaults_keep_the_photos_detail_between_levels(models, shared_data):
    """Gatys on the full network: each finer level starts from the coarser result plus the
    photo's detail, so the finest level starts sharp (the photo's edges) and nearer the
    painting's statistics than from a blurred enlargement of the coarse result."""
    from dataclasses import replace

    from editor.engine.edits.style import default_iterations

    features = style_features(models, "cpu", prefer=FULL_FIRST)
    assert default_iterations(features.available_layers) < default_iterations(("relu3_1",))
    settings = gatys_settings(features.available_layers)
    assert settings.keep_detail and settings.iterations == default_iterations(
        features.available_layers
    )
    assert not gatys_settings(features.available_layers, method="mrf").keep_detail
    content = _picture(shared_data / "content" / "tubingen.jpg", 192)
    style = _picture(shared_data / "style" / "starry_night.jpg", 192)
    judge = shared_features(models, "cpu", prefer=("vgg19-full",))
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    small = replace(settings, coarsest=96, iterations=16)
    gains, edges = {}, {}
    for keep in (True, False):
        steps = synthesise(features, features.available_layers, [StyleTarget(style)],
                           replace(small, keep_detail=keep), content=content)  # fmt: skip
        start = next(step for step in steps if step.level == 1).image  # its first preview
        gains[keep] = style_distance(judge, content, style, layers) / style_distance(
            judge, start, style, layers
        )
        edges[keep] = float(np.corrcoef(_edges(start), _edges(content))[0, 1])
    assert gains[True] > 1.2 * gains[False], gains
    assert edges[True] > edges[False] + 0.08, edges


def test_the_full_networks_content_layer_follows_the_regions_size(models):
    """relu4_2's map is too coarse to hold a small region (see FULL_SMALL_SIDE): the full
    network keeps the photo at relu3_2, and below FULL_SMALL_SIDE at relu2_2 with less style."""
    from editor.engine.edits.style import FULL_SMALL_SIDE, GATYS_PREFER

    features = style_features(models, "cpu", prefer=GATYS_PREFER)
    assert "relu4_2" in features.available_layers  # the default network is the full one
    large = gatys_settings(features.available_layers, long_side=512)
    small = gatys_settings(features.available_layers, long_side=FULL_SMALL_SIDE - 1)
    assert large.layers.content == "relu3_2" and small.layers.content == "relu2_2"
    assert small.style_weight < large.style_weight
    assert large.layers.style[-1] == "relu5_1" and small.layers.style[-1] == "relu5_1"
