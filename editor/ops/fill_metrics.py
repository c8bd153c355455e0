"""How good is a hole fill: a perceptual distance to the original and a sharpness ratio.

PSNR and SSIM reward blur: on object-sized holes a smooth Telea smear scores higher PSNR than a
sharp, plausible texture. Issue 6 therefore judges fills by

- `perceptual_distance`: VGG features (relu1_2, relu2_2, relu3_3) of the original and the result,
  each unit-normalised along channels, squared difference summed over channels, averaged over
  the hole cells of each layer, averaged over layers; lower is better. It is the LPIPS recipe
  (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR
  2018) without its learned channel weights, restricted to the hole.
- `sharpness_ratio`: mean gradient magnitude inside the hole over that in a ring around it;
  near 1 = as sharp as the surroundings, Telea gives about 0.2.

Pure functions; the feature network arrives as an argument (the engine's FeatureExtractor).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

PERCEPTUAL_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3")


def _as_mask4(hole: Tensor | np.ndarray, like: Tensor) -> Tensor:
    """Any (H, W) / (1, 1, H, W) 0/1 mask -> (1, 1, H, W) float on `like`'s device."""
    mask = torch.as_tensor(np.asarray(hole) if isinstance(hole, np.ndarray) else hole)
    mask = (mask.float() > 0.5).float()
    while mask.ndim < 4:
        mask = mask.unsqueeze(0)
    return mask.to(like.device)


@torch.no_grad()
def perceptual_distance(
    features: Callable[[Tensor, Sequence[str]], dict[str, Tensor]],
    original01: Tensor,
    result01: Tensor,
    hole: Tensor | np.ndarray,
    layers: Sequence[str] = PERCEPTUAL_LAYERS,
) -> float:
    """Mean over layers of the hole-averaged channel-normalised squared feature difference.

    original01, result01: (1, 3, H, W) float RGB 0..1. hole: (H, W) or (1, 1, H, W), 1 = filled.
    At each layer the hole is area-downsampled to the feature grid and cells more than half
    covered count (any covered cell when none is, so tiny holes still measure something).
    Each per-cell value lies in 0..4 (two unit vectors); lower is better.
    """
    mask = _as_mask4(hole, original01)
    f_orig = features(original01, layers)
    f_res = features(result01, layers)
    values: list[float] = []
    for name in layers:
        a = F.normalize(f_orig[name], dim=1, eps=1e-10)
        b = F.normalize(f_res[name], dim=1, eps=1e-10)
        dist = (a - b).pow(2).sum(dim=1, keepdim=True)
        cover = F.interpolate(mask, size=dist.shape[-2:], mode="area")
        cells = cover > 0.5
        if not bool(cells.any()):
            cells = cover > 0
        if bool(cells.any()):
            values.append(float(dist[cells].mean()))
    return float(np.mean(values)) if values else 0.0


def _gray01(image: np.ndarray | Tensor) -> np.ndarray:
    """(H, W, 3) uint8/float or (1, 3, H, W) tensor 0..1 -> (H, W) float32 luma 0..1."""
    if isinstance(image, Tensor):
        arr = image.detach().cpu().float()[0].permute(1, 2, 0).numpy()
    else:
        arr = np.asarray(image)
        arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    if arr.ndim == 3:
        arr = arr[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return arr


def sharpness_ratio(image: np.ndarray | Tensor, hole: np.ndarray | Tensor, ring: int = 10) -> float:
    """Mean gradient magnitude inside the hole / mean in a `ring`-px band around it.

    image: (H, W, 3) uint8 or float 0..1, or a (1, 3, H, W) tensor 0..1. hole: (H, W) or
    (1, 1, H, W), nonzero = filled. Gradients are central differences of the luma. Returns
    nan when the ring is empty or flat (a ratio is meaningless there).
    """
    gray = _gray01(image)
    mask = np.asarray(hole.detach().cpu() if isinstance(hole, Tensor) else hole)
    mask = mask.reshape(gray.shape) > 0.5
    gy, gx = np.gradient(gray)
    magnitude = np.hypot(gx, gy)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1, 2 * ring + 1))
    band = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool) & ~mask
    if not mask.any() or not band.any():
        return float("nan")
    outside = float(magnitude[band].mean())
    return float(magnitude[mask].mean()) / outside if outside > 0 else float("nan")


__all__ = ["PERCEPTUAL_LAYERS", "perceptual_distance", "sharpness_ratio"]
