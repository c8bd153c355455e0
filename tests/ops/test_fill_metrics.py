"""Fill quality metrics of issue 6: perceptual distance in the hole and the sharpness ratio."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from editor.ops.fill_metrics import perceptual_distance, sharpness_ratio


def _noise(size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def _square(size: int = 64, a: int = 20, b: int = 44) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[a:b, a:b] = 255
    return mask


def _t(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


def test_sharpness_is_one_for_uniform_texture_and_low_for_telea():
    image, mask = _noise(), _square()
    assert sharpness_ratio(image, mask) == pytest.approx(1.0, abs=0.15)
    telea = cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)
    assert sharpness_ratio(telea, mask) < 0.4
    # tensors and (1, 1, H, W) masks give the same number
    hole = torch.from_numpy(mask > 0)[None, None].float()
    assert sharpness_ratio(_t(telea), hole) == pytest.approx(sharpness_ratio(telea, mask), 1e-4)


def _channels(x, layers):
    """A stand-in feature network: the image itself at every 'layer' (pixel-exact locality)."""
    return {name: x + 0.1 for name in layers}


def test_perceptual_distance_only_sees_the_hole():
    original = _t(_noise())
    mask = _square()
    assert perceptual_distance(_channels, original, original, mask) == 0.0
    outside = original.clone()
    outside[..., :10, :10] = 0
    assert perceptual_distance(_channels, original, outside, mask) == 0.0
    inside = original.clone()
    inside[..., 25:40, 25:40] = torch.rand(1, 3, 15, 15)
    assert perceptual_distance(_channels, original, inside, mask) > 0.01


def test_perceptual_distance_ranks_telea_worse_than_the_original(shared_models):
    from editor.engine.models.vgg import FeatureExtractor
    from editor.engine.store import ModelStore

    vgg = FeatureExtractor.from_store(ModelStore(models_dir=shared_models), "cpu")
    image, mask = _noise(), _square()
    telea = cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)
    same = perceptual_distance(vgg, _t(image), _t(image), mask)
    worse = perceptual_distance(vgg, _t(image), _t(telea), torch.from_numpy(mask))
    assert same < 1e-6 and 0.1 < worse <= 4.0
