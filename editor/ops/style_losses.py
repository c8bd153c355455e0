"""Perceptual losses for style transfer and texture synthesis, on feature maps of any network.

Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016:
content = feature maps at one layer, style = Gram matrices (channel correlations) at several
layers. Gatys et al., "Controlling Perceptual Factors in Neural Style Transfer", CVPR 2017:
spatial control by masked Gram matrices (each region's statistics computed on its own pixels)
and colour control (luminance-only transfer, or the style's colours matched to the content's).

Every function takes feature maps (B, C, H, W) float32 from whatever extractor the caller uses
(the engine's VGG19 `FeatureExtractor` hands in RGB 0..1 and converts it once), so nothing here
knows about input conventions. Images, where they appear, are RGB 0..1 (B, 3, H, W).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

# -------------------------------------------------------------------------------------- Gram


def gram_matrix(feat: Tensor, mask: Tensor | None = None) -> Tensor:
    """Channel correlations of a feature map: (B, C, H, W) -> (B, C, C).

    Normalised by the number of positions (the masked area when `mask` is given), so a Gram
    matrix does not depend on the image's size and a region's matrix is comparable with one
    of the whole style image. mask: (B or 1, 1, H, W) weights in 0..1 at this layer's size
    (see `mask_at`); the features are weighted by it (Gatys et al. 2017, "guided Gram
    matrices").
    """
    b, c, h, w = feat.shape
    flat = feat.reshape(b, c, h * w)
    if mask is None:
        return flat @ flat.transpose(1, 2) / float(h * w)
    weights = mask.reshape(mask.shape[0], 1, h * w).to(feat.dtype)
    weighted = flat * weights
    area = weights.sum(dim=2, keepdim=True).clamp_min(1.0)
    return weighted @ flat.transpose(1, 2) / area


def mask_at(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """A (B, 1, H, W) 0..1 mask at a layer's (h, w): the covered share of each cell.

    Area-downsampling (rather than nearest) keeps thin regions from vanishing at deep layers.
    """
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    if mask.shape[-2] >= size[0] and mask.shape[-1] >= size[1]:
        return F.adaptive_avg_pool2d(mask, size)
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False)


def style_loss(
    feats: Mapping[str, Tensor],
    target_grams: Mapping[str, Tensor],
    mask: Tensor | None = None,
    layer_weights: Mapping[str, float] | None = None,
) -> Tensor:
    """Mean over layers of the squared Gram difference, each layer scaled by its target's size.

    feats: {layer: (B, C, H, W)} of the image being made; target_grams: {layer: (1 or B, C, C)}
    from `gram_matrix` of the style. Each layer's term is |G - T|^2 / |T|^2 (relative), so
    shallow layers with large activations do not drown the deep ones and the loss reads as
    "fraction of the style statistics still missing" (1.0 ≈ a random image).
    mask: optional (B, 1, H, W) region at image resolution; each layer uses `mask_at` of it.
    """
    total = 0.0
    weights = layer_weights or {}
    for name, target in target_grams.items():
        feat = feats[name]
        m = None if mask is None else mask_at(mask, feat.shape[-2:])
        gram = gram_matrix(feat, m)
        term = (gram - target).square().sum(dim=(1, 2)) / target.square().sum(dim=(1, 2)).clamp_min(
            1e-12
        )
        total = total + weights.get(name, 1.0) * term.mean()
    return total / max(1, len(target_grams))


def content_loss(feat: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared feature difference relative to the target's mean square (scale-free).

    feat, target: (B, C, H, W); mask: optional (B, 1, H, W) at image or layer size — only the
    region counts.
    """
    diff = (feat - target).square()
    scale = target.square().mean().clamp_min(1e-12)
    if mask is None:
        return diff.mean() / scale
    m = mask_at(mask, feat.shape[-2:])
    return (diff * m).sum() / (m.sum() * feat.shape[1]).clamp_min(1.0) / scale


def tv_loss(image: Tensor) -> Tensor:
    """Total variation of (B, C, H, W): mean squared difference of neighbouring pixels."""
    dy = (image[:, :, 1:, :] - image[:, :, :-1, :]).square().mean()
    dx = (image[:, :, :, 1:] - image[:, :, :, :-1]).square().mean()
    return dx + dy


# ------------------------------------------------------------------------------------ colour

_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]]
)


def rgb_to_yiq(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) RGB 0..1 -> YIQ (Y 0..1; I, Q about -0.6..0.6)."""
    return torch.einsum("ij,bjhw->bihw", _RGB_TO_YIQ.to(rgb), rgb)


def yiq_to_rgb(yiq: Tensor) -> Tensor:
    """Inverse of `rgb_to_yiq` (not clamped)."""
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_RGB_TO_YIQ).to(yiq), yiq)


def keep_luminance_only(result: Tensor, content: Tensor, contrast: bool = False) -> Tensor:
    """The result's luminance with the content's chrominance (Gatys et al. 2017, luminance-only
    transfer, done as a post-step): the strokes of the style, the colours of the photo. The
    luminance is shifted to the content's mean, so a dark painting does not darken the photo
    (with `contrast`, scaled to its spread too: WCT's whitened luminance has none of its own).

    Both (B, 3, H, W) RGB 0..1 of the same size; returns RGB 0..1 (clamped).
    """
    y = rgb_to_yiq(result)[:, :1]
    content_yiq = rgb_to_yiq(content)
    y_content = content_yiq[:, :1]
    if contrast:
        y = (y - y.mean()) * (y_content.std() / y.std().clamp_min(1e-6)) + y_content.mean()
    else:
        y = y - y.mean() + y_content.mean()  # and the photo's overall brightness
    iq = content_yiq[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0.0, 1.0)


def match_colour(source: Tensor, reference: Tensor, eps: float = 1e-5) -> Tensor:
    """Recolour `source` so its pixels' mean and covariance equal `reference`'s.

    Gatys et al. 2017's colour-matching variant: applied to the style image before the
    transfer it makes the style's palette the content's. The linear map A = Σr^½ Σs^-½ uses
    symmetric matrix square roots (the "image analogies" transform). Shapes (1, 3, H, W) and
    (1, 3, H', W') RGB 0..1; returns the recoloured source, clamped to 0..1.
    """
    s = source.reshape(3, -1).double()
    r = reference.reshape(3, -1).double()
    mu_s, mu_r = s.mean(dim=1, keepdim=True), r.mean(dim=1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64)
    cov_s = torch.cov(s) + eps * eye
    cov_r = torch.cov(r) + eps * eye

    def sqrtm(m: Tensor, power: float) -> Tensor:
        vals, vecs = torch.linalg.eigh(m)
        return vecs @ torch.diag(vals.clamp_min(eps) ** power) @ vecs.T

    transform = sqrtm(cov_r, 0.5) @ sqrtm(cov_s, -0.5)
    out = transform @ (s - mu_s) + mu_r
    return out.float().reshape(source.shape).clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------- pyramid


def pyramid_sizes(
    height: int, width: int, coarsest: int = 128, factor: float = 2.0
) -> list[tuple[int, int]]:
    """(h, w) of a coarse-to-fine pyramid ending at (height, width), coarsest first.

    Each level is `factor` smaller than the next; stops once the long side is <= `coarsest`
    (a level is never made smaller than that, so a small image is a single level). The missing
    deep VGG layers see large structures only at the coarse levels, which is what the pyramid
    is for.
    """
    sizes = [(height, width)]
    while max(sizes[-1]) / factor >= coarsest:
        h, w = sizes[-1]
        sizes.append((max(1, round(h / factor)), max(1, round(w / factor))))
    return sizes[::-1]


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize (B, C, H, W) to size (h, w): area when shrinking (no aliasing), bicubic else."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    if size[0] <= image.shape[-2] and size[1] <= image.shape[-1]:
        return F.interpolate(image, size=size, mode="area")
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False)
