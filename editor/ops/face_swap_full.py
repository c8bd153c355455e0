"""Face swap, full mode: an optimisation in the style of Korshunova et al. 2017 ("Fast Face-swap
Using Convolutional Neural Networks"), run per image instead of trained into a network.

Everything happens in a square frame round the input face (`face_frame`), into which the input
and every photo of the new identity are aligned by a similarity transform on their 68 landmarks.
The frame's pixels x are optimised (Adam, from the quick mode's warp) to minimise

    content_weight * |VGG(x) - VGG(input)|^2 / |VGG(input)|^2      (relu4_1: pose, expression)
  + patch_weight   * sum over facial regions r of the CNNMRF loss of x's patches in r against
                     the identity photos' patches in r only, across all photos   (relu3_1, relu4_1)
  + light_weight   * |blur(luma(x)) - blur(luma(input))|^2          (the input's illumination)
  + tv_weight      * TV(x)  +  chroma_tv_weight * TV(colour-opponent channels of x)
  + identity_weight * (1 - cos(MobileFaceNet(x), MobileFaceNet(identity photos)))   (optional)

The regions (`region_labels`: brows, eyes, nose, mouth, the rest of the face) restrict the patch
search as the paper does: a patch near the eyes is only matched with eye patches. Pure torch:
the VGG feature callable arrives as an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from editor.ops.face_embedding import unit_embedding
from editor.ops.face_region import hull_mask
from editor.ops.face_swap import face_mask, face_outline
from editor.ops.neural_patch import PatchBank, chroma_tv
from editor.ops.style_losses import content_loss, rgb_to_yiq, tv_loss

SKIN, BROWS, EYES, NOSE, MOUTH = 1, 2, 3, 4, 5
REGIONS = (SKIN, BROWS, EYES, NOSE, MOUTH)
FEATURES = (BROWS, EYES, NOSE)
"""The regions `FullSettings.features_weight` weights: where most of who someone is shows."""


@dataclass(frozen=True)
class FullSettings:
    """Frame side in pixels, Adam steps and rate, the loss weights, and how often matches are
    refreshed and previews sent. On the six pairs of benchmarks/bench_faceswap.py (relu4_1 from
    the wct16x aux heads): content 2 brings the new identity to a mean dlib distance of 0.387,
    3 to 0.407, 5 to 0.415; the landmarks stay within 5 % on 3 or 4 of 6 whatever the weight
    (their error hovers at 4.7-6.1 % on half the pairs). lr 0.01 with TV 0.5 left pink speckle,
    as did relu4_1 until the colour-only TV."""

    size: int = 128
    iterations: int = 60
    lr: float = 0.008
    content_weight: float = 3.0
    patch_weight: float = 2.0
    light_weight: float = 20.0
    tv_weight: float = 2.0
    chroma_tv_weight: float = 10.0
    """Total variation on colour only: the patch term's pixel gradients leave colour speckle."""
    identity_weight: float = 4.0
    """1 - cosine of the MobileFaceNet embeddings of x and of the identity photos (when the
    caller gives the network: the engine does when its weights are installed); 0 = off. On the
    seven tuning people of benchmarks/held_out_faces.py, 0 / 1 / 4: mean dlib distance to the new
    person 0.457 / 0.426 / 0.415, within 0.6 on 6 / 7 / 7 pairs, landmarks within 5 % on all."""
    features_weight: float = 1.0
    """The patch term on brows, eyes and nose, relative to the cheeks and mouth (per pixel). On
    the seven tuning people 2 gave a mean 0.400 against 0.403 at 1, and one pair's landmarks at
    5.3 %: left at 1."""
    rematch_every: int = 5
    preview_every: int = 10
    deep_layers: bool = True
    """relu4_1 for content and patches when the features have it (slower on a CPU)."""


def face_frame(landmarks: np.ndarray, size: int, margin: float = 0.15) -> np.ndarray:
    """(2, 3) matrix taking image coordinates to a size x size frame round the face outline
    (a square of the outline's larger side plus `margin` on each side)."""
    outline = face_outline(landmarks)
    (x0, y0), (x1, y1) = outline.min(0), outline.max(0)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = size / side
    return np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]])


def region_labels(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8: 0 outside the face, SKIN inside, BROWS / EYES / NOSE / MOUTH on the
    hulls of those landmarks (grown a little, so each holds whole patches)."""
    labels = np.where(face_mask(landmarks, (size, size)) > 0, SKIN, 0).astype(np.uint8)
    grow = max(2, size // 40)
    parts = (
        (BROWS, [slice(17, 22), slice(22, 27)]),
        (NOSE, [slice(27, 36)]),
        (EYES, [slice(36, 42), slice(42, 48)]),
        (MOUTH, [slice(48, 68)]),
    )
    for label, groups in parts:
        layer = np.bitwise_or.reduce([hull_mask(landmarks[g], (size, size), 1) for g in groups])
        layer = cv2.dilate(layer, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
        labels[(layer > 0) & (labels > 0)] = label
    return labels


def _luma_blur(x: Tensor, sigma: float) -> Tensor:
    luma = rgb_to_yiq(x)[:, :1]
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    luma = F.conv2d(F.pad(luma, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(luma, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))


def _at(labels: np.ndarray, size: tuple[int, int], device) -> Tensor:
    small = cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return torch.from_numpy(small).to(device)


def swap_full(
    features: Callable[[Tensor, Sequence[str]], dict[str, Tensor]],
    available: Sequence[str],
    content: Tensor,
    identities: Sequence[Tensor],
    content_labels: np.ndarray,
    identity_labels: Sequence[np.ndarray],
    init: Tensor,
    settings: FullSettings = FullSettings(),
    cancel: Callable[[], None] | None = None,
    identity: tuple[nn.Module, Tensor, np.ndarray] | None = None,
) -> Generator[tuple[float, Tensor], None, Tensor]:
    """Optimise the aligned face; yields (progress, current frame) every `preview_every` steps
    and returns the result. content, identities, init: (1, 3, S, S) RGB 0..1 in the frame;
    labels: (S, S) region maps from `region_labels`. identity: (MobileFaceNet, the identity
    photos' mean unit embedding, the input's 68 landmarks in the frame) for the identity term."""
    have = set(available)
    if not settings.deep_layers:
        have.discard("relu4_1")
    content_layer = "relu4_1" if "relu4_1" in have else "relu3_1"
    patch_layers = [n for n in ("relu3_1", "relu4_1") if n in have]
    layers = list(dict.fromkeys([content_layer, *patch_layers]))
    device = content.device
    with torch.no_grad():
        target = features(content, [content_layer])[content_layer]
        light = _luma_blur(content, content.shape[-1] / 24)
        banks: dict[tuple[str, int], PatchBank] = {}
        gen_masks: dict[tuple[str, int], Tensor] = {}
        identity_feats = [features(photo, patch_layers) for photo in identities]
        for name in patch_layers:
            shape = identity_feats[0][name].shape[-2:]
            gen_regions = _at(content_labels, tuple(shape), device)
            for region in REGIONS:
                masks = [
                    (_at(lab, tuple(shape), device) == region).float()[None, None]
                    for lab in identity_labels
                ]
                gen_mask = (gen_regions == region).float()[None, None]
                if gen_mask.sum() < 1 or sum(float(m.sum()) for m in masks) < 1:
                    continue
                try:
                    banks[(name, region)] = PatchBank(
                        [f[name] for f in identity_feats], masks=masks, max_patches=2048
                    )
                except ValueError:  # no whole patch of this region at this layer
                    continue
                gen_masks[(name, region)] = gen_mask
    area = sum(float(m.sum()) for m in gen_masks.values()) or 1.0
    shares = {
        key: float(m.sum()) / area * (settings.features_weight if key[1] in FEATURES else 1.0)
        for key, m in gen_masks.items()
    }
    x = init.detach().clone().to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=settings.lr)
    matches: dict[tuple[str, int], tuple[Tensor, Tensor]] = {}
    for step in range(settings.iterations):
        if cancel is not None:
            cancel()
        feats = features(x, layers)
        patch = x.new_zeros(())
        for key, bank in banks.items():
            name, _ = key
            if key not in matches or step % settings.rematch_every == 0:
                matches[key] = bank.match(feats[name], gen_masks[key])
            patch = patch + shares[key] * bank.loss(feats[name], matches=matches[key])
        loss = (
            settings.content_weight * content_loss(feats[content_layer], target)
            + settings.patch_weight * patch
            + settings.light_weight * F.mse_loss(_luma_blur(x, content.shape[-1] / 24), light)
            + settings.tv_weight * tv_loss(x)
            + settings.chroma_tv_weight * chroma_tv(x)
        )
        if identity is not None and settings.identity_weight:
            net, wanted, frame_landmarks = identity
            cosine = unit_embedding(net, x, frame_landmarks) @ wanted
            loss = loss + settings.identity_weight * (1.0 - cosine)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
        done = step + 1
        if done % settings.preview_every == 0 and done < settings.iterations:
            yield done / settings.iterations, x.detach().clone()
    result = x.detach()
    yield 1.0, result.clone()
    return result
