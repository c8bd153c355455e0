"""A learned content stage for object removal: an inpainting network predicts what the hole
holds (Yang et al. 2017's content network; here LaMa, Suvorov et al. 2022), at a working size,
before the neural-patch texture stage puts the photo's own high-resolution detail on it.

Pure: the network arrives as an argument, any callable ``net(image, mask) -> image`` on
(1, 3, H, W) RGB 0..1 and a (1, 1, H, W) mask (1 = fill) whose sides are multiples of `PAD`.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

NETWORK_SIDE = 512
"""The long side the network sees: LaMa was trained on 256-512 px crops and works best near
that size; a larger crop is area-downscaled for it and its prediction enlarged back (the texture
stage then restores the detail, the point of Yang et al.'s two stages)."""
PAD = 8
"""LaMa's sides must be multiples of 8 (three stride-2 stages); inputs are edge-padded."""

Network = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def network_fill(
    net: Network, rgb8: np.ndarray, hole: np.ndarray, device: str = "cpu",
    max_side: int = NETWORK_SIDE,
) -> np.ndarray:  # fmt: skip
    """(H, W, 3) uint8: `rgb8` with the (H, W) bool `hole` filled by `net`, the known pixels
    untouched. Raises ValueError for a prediction of the wrong shape."""
    h, w = hole.shape
    scale = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if scale < 1.0:
        small = cv2.resize(rgb8, size, interpolation=cv2.INTER_AREA)
        # any part of a pixel in the hole makes it a hole pixel: no old object at its edge
        small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    else:
        small, small_hole = rgb8, hole
    image = torch.from_numpy(np.ascontiguousarray(small)).permute(2, 0, 1)[None].float() / 255
    mask = torch.from_numpy(small_hole.astype(np.float32))[None, None]
    sh, sw = small_hole.shape
    pad = (0, (-sw) % PAD, 0, (-sh) % PAD)
    image, mask = F.pad(image, pad, mode="replicate"), F.pad(mask, pad, mode="replicate")
    with torch.inference_mode():
        out = net(image.to(device), mask.to(device))
    if tuple(out.shape) != tuple(image.shape):
        raise ValueError(
            f"the inpainting network returned {tuple(out.shape)} for {tuple(image.shape)}"
        )
    out = out[0, :, :sh, :sw].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    predicted = np.rint(out * 255).astype(np.uint8)
    if scale < 1.0:
        predicted = cv2.resize(predicted, (w, h), interpolation=cv2.INTER_CUBIC)
    result = rgb8.copy()
    result[hole] = predicted[hole]
    return result
