"""Neural-patch texture refinement of a filled hole (stage 2 of object removal).

Yang, Lu, Lin, Shechtman, Wang, Li, "High-Resolution Image Inpainting using Multi-Scale Neural
Patch Synthesis", CVPR 2017: a first stage predicts the hole's content (here any fill: Telea,
PatchMatch, a content network); the second stage keeps that structure and re-synthesises the
texture by gradient descent on the hole's pixels, minimising

    content_weight * |pool(x) - pool(content)|^2         (stay close to stage 1 at coarse scale)
  + texture_weight * sum_layers nearest_patch_loss(...)  (each neural patch in the hole is pulled
                                                          to its nearest patch of the known region)
  + tv_weight * TV(x)                                    (smoothness)

coarse to fine. The texture term is the MRF loss of Li & Wand, "Combining Markov Random Fields
and Convolutional Neural Networks for Image Synthesis" (CNNMRF), CVPR 2016: 3x3 patches of VGG
feature maps, matched by normalised cross-correlation, then an L2 pull towards the match.

Everything here is pure torch: the feature network arrives as a callable
`features(rgb01 (B, 3, H, W), layers) -> {layer: (B, C, h, w)}` (the engine's FeatureExtractor).

Cost (measured on one CPU thread, torch 2.13, vgg19-conv3): one iteration is one VGG forward and
backward up to relu3_1 over the hole's bounding box plus a margin (not the whole crop) plus the
patch matching, which is redone every `rematch_every` iterations against source patches
precomputed once per scale. See `refine_hole` for the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

Features = Callable[[Tensor, Sequence[str]], dict[str, Tensor]]
"""features(rgb01 (B, 3, H, W), layers) -> {layer: activation (B, C, h, w)}."""

_CHUNK_ELEMENTS = 1 << 23
"""Largest score matrix (hole patches x source patches) built at once: 8 M floats = 32 MB."""


# ----------------------------------------------------------------------------------- patches


def _patches(feat: Tensor, patch: int) -> Tensor:
    """(1, C, H, W) -> (N, C*patch*patch): every patch fully inside the map, row-major by centre."""
    return F.unfold(feat, patch).squeeze(0).t()


def _patches_at(feat: Tensor, patch: int, keep: Tensor) -> Tensor:
    """`_patches(feat, patch)[keep]` without unfolding the whole map: only the kept patches
    are gathered (the same values in the same layout; a 1 MP crop's full unfold at relu2_1 is
    ~600 MB). keep: (N,) bool over the unfold's positions."""
    _, c, h, w = feat.shape
    gw = w - patch + 1
    pos = keep.nonzero().squeeze(1)
    ys, xs = pos // gw, pos % gw
    rows = [
        feat[0, :, ys + dy, xs + dx] for dy in range(patch) for dx in range(patch)
    ]  # each (C, N); the unfold's row order is channel-major, then dy, then dx
    return torch.stack(rows, dim=1).reshape(c * patch * patch, -1).t()


def _centres_in(mask: Tensor, patch: int) -> Tensor:
    """(1, 1, H, W) 0/1 -> (N,) bool: which unfolded patches have their centre in the mask."""
    r = patch // 2
    h, w = mask.shape[-2:]
    return (mask[0, 0, r : h - r, r : w - r] > 0.5).reshape(-1)


def _fully_in(mask: Tensor, patch: int) -> Tensor:
    """(1, 1, H, W) 0/1 -> (N,) bool: which unfolded patches lie entirely inside the mask."""
    eroded = -F.max_pool2d(-mask.float(), patch, stride=1)
    return (eroded[0, 0] > 0.5).reshape(-1)


def _thinned(valid: Tensor, feat: Tensor, patch: int, max_patches: int) -> Tensor:
    """`valid` (N,) bool over feat's patch grid, kept only on a regular grid of the stride that
    leaves at most about `max_patches` of them (matching costs grow with every candidate)."""
    stride = max(1, math.ceil(math.sqrt(int(valid.sum()) / max_patches)))
    if stride == 1:
        return valid
    gh, gw = feat.shape[-2] - patch + 1, feat.shape[-1] - patch + 1
    grid = torch.zeros(gh, gw, dtype=torch.bool, device=valid.device)
    grid[::stride, ::stride] = True
    return valid & grid.reshape(-1)


def _normalised(patches: Tensor) -> Tensor:
    """Unit-L2 rows, so a dot product with them is the cross-correlation CNNMRF maximises."""
    return patches / patches.norm(dim=1, keepdim=True).clamp_min(1e-8)


@torch.no_grad()
def _best_match(gen: Tensor, src_unit: Tensor, chunk_elements: int = _CHUNK_ELEMENTS) -> Tensor:
    """Index into `src_unit` (Ns, D) of the best match of each row of `gen` (Ng, D).

    argmax_j <g, s_j> / |s_j| (normalising g does not change the argmax). This is CNNMRF's
    conv2d of the generated map with the normalised source patches as filters, evaluated only
    at the hole's patch centres (a matmul on unfolded patches), chunked over sources to bound
    memory at `chunk_elements` scores.
    """
    n_gen = gen.shape[0]
    best = torch.full((n_gen,), -math.inf, device=gen.device, dtype=gen.dtype)
    index = torch.zeros(n_gen, dtype=torch.long, device=gen.device)
    step = max(1, chunk_elements // max(1, n_gen))
    for start in range(0, src_unit.shape[0], step):
        score, where = (gen @ src_unit[start : start + step].t()).max(dim=1)
        better = score > best
        best = torch.where(better, score, best)
        index = torch.where(better, where + start, index)
    return index


class NoTextureSource(ValueError):
    """The image or its known region is too small to give the texture stage a source patch:
    the caller keeps its stage-1 fill (a tiny image has no texture worth re-synthesising)."""


def nearest_patch_indices(
    gen_feat: Tensor, src_feat: Tensor, gen_mask: Tensor, src_valid: Tensor, patch: int = 3
) -> tuple[Tensor, Tensor]:
    """The CNNMRF matching, for inspection: (hole patch positions, their source positions).

    Positions are flat indices into the (H - patch + 1) x (W - patch + 1) grid of patch top-left
    corners of the respective map (centre = corner + patch // 2). Shapes as `nearest_patch_loss`.
    """
    gen_pos = _centres_in(gen_mask, patch).nonzero().squeeze(1)
    src_pos = _fully_in(src_valid, patch).nonzero().squeeze(1)
    if src_pos.numel() == 0:
        raise ValueError("no source patch lies entirely in the known region")
    gen = _patches(gen_feat.detach(), patch)[gen_pos]
    src = _patches(src_feat.detach(), patch)[src_pos]
    return gen_pos, src_pos[_best_match(gen, _normalised(src))]


def nearest_patch_loss(
    gen_feat: Tensor, src_feat: Tensor, gen_mask: Tensor, src_valid: Tensor, patch: int = 3
) -> Tensor:
    """CNNMRF texture loss of the hole: mean squared distance of each hole patch to its match.

    gen_feat: (1, C, H, W) features of the image being optimised (gradients flow through it).
    src_feat: (1, C, Hs, Ws) features the texture is taken from (usually the same image; only
        used detached).
    gen_mask: (1, 1, H, W) 0/1, the hole at this layer's resolution; every `patch` x `patch`
        patch of gen_feat whose centre is in it is matched (patches must fit inside the map).
    src_valid: (1, 1, Hs, Ws) 0/1, 1 where src_feat is known; only source patches lying
        entirely in it are candidates, so the hole never copies itself.
    Returns a scalar: mean over hole patches and patch elements of (g - s_match)^2, 0 when every
    hole patch exists in the source. The matching (normalised cross-correlation argmax) is
    detached, as in CNNMRF; zero (with a gradient path) when no patch centre is in the hole.
    """
    gen_pos, src_idx = nearest_patch_indices(gen_feat, src_feat, gen_mask, src_valid, patch)
    if gen_pos.numel() == 0:
        return gen_feat.sum() * 0.0
    gen = _patches(gen_feat, patch)[gen_pos]
    target = _patches(src_feat.detach(), patch)[src_idx]
    return F.mse_loss(gen, target)


# ------------------------------------------------------------------------------- refinement


@dataclass
class _LayerSource:
    """Per scale and layer: the known region's patches, fixed while that scale is optimised."""

    raw: Tensor  # (Ns, D) source patches, to pull towards
    unit: Tensor  # (Ns, D) the same, unit-normalised, for matching
    scale: float  # mean squared source feature: makes texture_weight layer-independent


def _auto_scales(height: int, width: int, coarsest: int = 160) -> tuple[float, ...]:
    """Halve until the long side is <= `coarsest` px: 256 -> (0.5, 1), 512 -> (0.25, 0.5, 1)."""
    scales = [1.0]
    while max(height, width) * scales[0] > coarsest:
        scales.insert(0, scales[0] / 2)
    return tuple(scales)


def _window(hole: Tensor, margin: int, align: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the hole's bounding box grown by `margin`, on an `align` grid."""
    h, w = hole.shape[-2:]
    ys, xs = (hole[0, 0] > 0.5).nonzero(as_tuple=True)
    y0 = max(0, (int(ys.min()) - margin) // align * align)
    x0 = max(0, (int(xs.min()) - margin) // align * align)
    y1 = min(h, -(-(int(ys.max()) + 1 + margin) // align) * align)
    x1 = min(w, -(-(int(xs.max()) + 1 + margin) // align) * align)
    return y0, y1, x0, x1


def _layer_hole(hole: Tensor, size: tuple[int, int]) -> Tensor:
    """0/1 hole at a feature map's size: any covered cell counts as hole."""
    return (F.interpolate(hole, size=size, mode="area") > 1e-6).float()


def _sources(
    features: Features,
    image: Tensor,
    hole: Tensor,
    layers: Sequence[str],
    patch: int,
    max_patches: int,
    band: int | None = None,
) -> dict[str, _LayerSource]:
    """Source patches of the known region at each layer.

    The hole is dilated by one cell per layer so that no source patch's receptive field sees
    much of the (blurry) stage-1 fill; above `max_patches` the candidates are thinned on a
    regular grid, which bounds the matching cost at fine scales. With `band` (pixels of `image`)
    only patches centred within that distance of the hole are candidates (all of them if that
    leaves none).
    """
    with torch.no_grad():
        feats = features(image, layers)
    out: dict[str, _LayerSource] = {}
    for name in layers:
        feat = feats[name]
        lhole = F.max_pool2d(_layer_hole(hole, feat.shape[-2:]), 3, stride=1, padding=1)
        valid = _fully_in(1.0 - lhole, patch)
        if band is not None:
            cells = max(1, math.ceil(band * feat.shape[-1] / image.shape[-1]))
            near = F.max_pool2d(lhole, 2 * cells + 1, stride=1, padding=cells)
            banded = valid & _centres_in(near, patch)
            valid = banded if bool(banded.any()) else valid
        raw = _patches_at(feat, patch, _thinned(valid, feat, patch, max_patches))
        if raw.shape[0] == 0:
            raise NoTextureSource(f"no known region left around the hole at {name}")
        out[name] = _LayerSource(raw, _normalised(raw), float(raw.pow(2).mean().clamp_min(1e-8)))
    return out


def _tv(x: Tensor) -> Tensor:
    """Mean squared neighbour difference (anisotropic total variation, squared)."""
    return (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() + (x[..., 1:] - x[..., :-1]).pow(2).mean()


def chroma_tv(x: Tensor) -> Tensor:
    """`_tv` of the colour-opponent channels only (red-green, blue-yellow): it removes colour
    speckle without blurring the luminance, where sharpness is seen."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return _tv(torch.cat([r - g, 0.5 * (r + g) - b], dim=1))


def refine_hole(
    image01: Tensor,
    hole: Tensor,
    features: Features,
    *,
    content01: Tensor | None = None,
    content_pool: int | Sequence[int] = 4,
    layers: Sequence[str] = ("relu3_1", "relu2_1"),
    finest_layers: Sequence[str] = (),
    finest_detail01: Tensor | None = None,
    content_weight: float = 1.0,
    texture_weight: float = 0.05,
    tv_weight: float = 0.0,
    chroma_tv_weight: float = 0.0,
    scales: Sequence[float] | None = None,
    iterations_per_scale: int | Sequence[int] = (40, 25, 15),
    lr: float = 0.03,
    adam_eps: float = 1e-8,
    patch: int = 3,
    rematch_every: int = 4,
    max_source_patches: int = 6000,
    source_band: int | None = None,
    preview_every: int = 5,
    cancel: Callable[[], None] | None = None,
) -> Generator[tuple[float, Tensor], None, Tensor]:
    """Re-synthesise the texture of a filled hole; yields (progress, preview), returns the result.

    image01: (1, 3, H, W) float RGB 0..1, the stage-1 fill (hole already filled, e.g. Telea or
        PatchMatch); the known pixels are never changed: the result equals image01 bit for bit
        outside the hole.
    hole: (1, 1, H, W) 0/1, 1 = pixels to refine.
    features: the VGG feature callable (see `Features`); must provide `layers`.
    content01: (1, 3, H, W) float RGB 0..1, the content target and the coarsest scale's start;
        None = image01. Object removal passes the mean of several PatchMatch fills blended with
        Telea's: the texture term restores the detail, the blend hedges the uncertain layout.
        Only its hole pixels matter; the known pixels always come from image01.
    content_pool: side of the average pooling before the content MSE (Yang et al. compare at a
        coarse scale; smaller = the layout of content01 is held more tightly); one number or
        one per scale (coarse first, the last entry repeats). A larger pool at the fine scales
        lets the texture term own the detail there while the layout stays anchored.
    layers: texture layers (Yang et al. use relu3_1 and relu4_1; the offline VGG stops at
        relu3_4, so relu3_1 for structure-scale texture and relu2_1 for fine grain).
    finest_layers: extra texture layers used only at the finest scale (e.g. relu1_1: the
        pixel-scale grain that makes a fill as sharp as its surroundings; too costly and too
        local to help at the coarse scales).
    finest_detail01: (1, 3, H, W) float, a zero-mean high-frequency layer (e.g. a sharp fill
        minus its Gaussian blur) added inside the hole to the finest scale's start: the
        upsampled coarse result has no pixel-scale detail, and a few fine steps cannot grow it
        from nothing, but they can correct detail that is already there.
    content_weight: MSE to content01 after `content_pool` average pooling (keeps its structure).
    texture_weight: weight of each layer's nearest_patch_loss, divided by that layer's mean
        squared source feature so one weight fits every layer and image.
    tv_weight: total variation of the hole window (0 by default: the texture term is sharp
        and the content term already damps noise). chroma_tv_weight: the same on colour
        only (`chroma_tv`), against the red/blue speckle pixel-level VGG gradients leave.
    scales: coarse to fine image scales ending in 1.0; None = halve until the long side is
        <= 160 px (256 px -> (0.5, 1), 512 px -> (0.25, 0.5, 1)). Each scale starts from the
        previous one's result, upsampled, inside the hole.
    iterations_per_scale: Adam steps per scale, one number or one per scale (coarse first; the
        last entry repeats if there are more scales). Fewer at fine scales, where a step costs
        more and the coarse scales have already placed the texture.
    lr: Adam step on pixel values (0..1 units). adam_eps: Adam's epsilon (torch's 1e-8 by
        default); larger, a pixel whose gradient is tiny takes a step as tiny, instead of the
        full `lr` Adam's normalisation gives every pixel (grain all over a flat sky).
        rematch_every: iterations between re-matching
        the hole's patches (matching is the expensive part; matches move slowly).
    max_source_patches: source patches per layer above which candidates are thinned on a grid.
    source_band: if given, texture is copied only from patches centred within this many pixels
        (of each scale's image) of the hole: what lies next to a hole is what continues into it,
        and a distant, differently coloured object can no longer win the match and be painted in.
    preview_every: iterations between yields. cancel: called every iteration; it raises to stop.

    Yields (progress in 0..1, current image (1, 3, H, W) clamped to 0..1, known pixels exact);
    the last yield is (1.0, final image), and the final image is also the generator's return
    value (StopIteration.value), so `for p, img in refine_hole(...)` leaves `img` = the result.

    Cost, measured on one CPU thread (torch 2.13, vgg19-conv3, a second process busy on the
    other core), ~10 % ellipse hole, defaults: 256x192 px: 65 iterations (40 at 128 px, 25 at
    256 px) in ~5.6 s, i.e. ~0.085 s per iteration on average; 512x384 px: 80 iterations over
    three scales in ~14.6 s. Sharpness ratio of a Telea fill 0.15-0.54 -> 0.83-1.55 after
    refinement; see benchmarks/bench_neural_patch.py.
    """
    if image01.ndim != 4 or image01.shape[:2] != (1, 3):
        raise ValueError(f"expected image01 of shape (1, 3, H, W), got {tuple(image01.shape)}")
    if hole.shape != (1, 1, *image01.shape[-2:]):
        raise ValueError(f"hole must be (1, 1, H, W) matching the image, got {tuple(hole.shape)}")
    full_h, full_w = image01.shape[-2:]
    hole_full = (hole > 0.5).to(image01.dtype)
    stage1 = image01.detach()
    content_full = stage1 if content01 is None else content01.detach().to(stage1)
    if content_full.shape != stage1.shape:
        raise ValueError(f"content01 must be shaped like image01, got {tuple(content_full.shape)}")

    def composite(x: Tensor) -> Tensor:
        """Full-size result: x (any scale, upsampled) in the hole, image01 exactly elsewhere."""
        if x.shape[-2:] != (full_h, full_w):
            x = F.interpolate(x, size=(full_h, full_w), mode="bilinear", align_corners=False)
        return torch.where(hole_full > 0.5, x.detach().clamp(0.0, 1.0), stage1)

    if not bool(hole_full.any()):
        yield 1.0, stage1.clone()
        return stage1.clone()

    scale_list = tuple(scales) if scales is not None else _auto_scales(full_h, full_w)
    if isinstance(iterations_per_scale, int):
        iters = [iterations_per_scale] * len(scale_list)
    else:
        given = list(iterations_per_scale)
        iters = [given[min(i, len(given) - 1)] for i in range(len(scale_list))]
    given_pools = [content_pool] if isinstance(content_pool, int) else list(content_pool)
    pools = [given_pools[min(i, len(given_pools) - 1)] for i in range(len(scale_list))]
    total = max(1, sum(iters))
    done = 0
    x_prev: Tensor | None = None
    # Features at relu{b}_* are 2**(b-1) times smaller: the window is aligned to that grid, and
    # its margin gives the deepest layer's patches a ring of context around the hole.
    depth = max(2 ** (int(name[4]) - 1) if name[4].isdigit() else 1 for name in layers)
    margin = depth * (patch // 2 + 2)
    if min(full_h, full_w) < depth * (patch + 1):
        raise NoTextureSource(
            f"{full_w}×{full_h} px is too small for patches at {max(layers)}: "
            f"at least {depth * (patch + 1)} px a side"
        )

    for scale, n_iter, pool in zip(scale_list, iters, pools, strict=True):
        finest = scale >= 1.0
        scale_layers = tuple(layers) + (tuple(finest_layers) if finest else ())
        if scale >= 1.0:
            size = (full_h, full_w)
            img_s, hole_s, content_s = stage1, hole_full, content_full
        else:
            size = (
                max(depth * patch, round(full_h * scale)),
                max(depth * patch, round(full_w * scale)),
            )
            img_s = F.interpolate(stage1, size=size, mode="area")
            content_s = F.interpolate(content_full, size=size, mode="area")
            hole_s = _layer_hole(hole_full, size)
        start = (
            content_s
            if x_prev is None
            else F.interpolate(x_prev, size=size, mode="bilinear", align_corners=False)
        )
        if finest and finest_detail01 is not None:
            start = (start + finest_detail01.detach().to(start) * hole_s).clamp(0.0, 1.0)
        known = img_s * (1.0 - hole_s)
        srcs = _sources(
            features, img_s, hole_s, scale_layers, patch, max_source_patches, source_band
        )
        y0, y1, x0, x1 = _window(hole_s, margin, depth)
        hole_w = hole_s[..., y0:y1, x0:x1]
        pooled_target = F.avg_pool2d(content_s[..., y0:y1, x0:x1], pool, ceil_mode=True)
        pooled_hole = F.avg_pool2d(hole_w, pool, ceil_mode=True) > 0
        param = start.detach().clone().requires_grad_(True)
        optimiser = torch.optim.Adam([param], lr=lr, eps=adam_eps)
        matches: dict[str, tuple[Tensor, Tensor]] = {}

        for it in range(n_iter):
            if cancel is not None:
                cancel()
            x = known + param * hole_s
            xw = x[..., y0:y1, x0:x1]
            feats = features(xw, scale_layers)
            texture = xw.new_zeros(())
            for name in scale_layers:
                feat = feats[name]
                src = srcs[name]
                if name not in matches or it % rematch_every == 0:
                    pos = _centres_in(_layer_hole(hole_w, feat.shape[-2:]), patch).nonzero()
                    pos = pos.squeeze(1)
                    gen = _patches(feat.detach(), patch)[pos]
                    matches[name] = (pos, _best_match(gen, src.unit))
                pos, idx = matches[name]
                if pos.numel():
                    gen = _patches(feat, patch)[pos]
                    texture = texture + F.mse_loss(gen, src.raw[idx]) / src.scale
            diff = (F.avg_pool2d(xw, pool, ceil_mode=True) - pooled_target).pow(2)
            content = diff.mean(dim=1, keepdim=True)[pooled_hole].mean()
            loss = texture_weight * texture + content_weight * content
            if tv_weight:
                loss = loss + tv_weight * _tv(xw)
            if chroma_tv_weight:
                loss = loss + chroma_tv_weight * chroma_tv(xw)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                param.clamp_(0.0, 1.0)
            done += 1
            if done % preview_every == 0 and done < total:
                yield done / total, composite(known + param.detach() * hole_s)
        x_prev = (known + param.detach() * hole_s).clamp(0.0, 1.0)

    assert x_prev is not None
    result = composite(x_prev)
    yield 1.0, result
    return result


__all__ = ["Features", "nearest_patch_indices", "nearest_patch_loss", "refine_hole"]


# ------------------------------------------------------------------------------ patch bank


class PatchBank:
    """The patches of one or more source feature maps, held fixed while an image is optimised
    to use them (CNNMRF's style patches, with their unit-normalised copies for matching).

    feats: (1, C, H, W) maps of the same layer (e.g. a style image at several scales or
    rotations, as Li & Wand augment it); every `patch` x `patch` patch fully inside a map is a
    candidate, thinned on a regular grid to at most `max_patches` per map (the matching costs
    hole patches x source patches x C * patch**2 multiply-adds). `masks` (one per map) keep only
    the patches centred in them (face swap: the patches of one facial region).
    """

    def __init__(
        self,
        feats: Sequence[Tensor],
        patch: int = 3,
        max_patches: int = 4096,
        masks: Sequence[Tensor] | None = None,
    ) -> None:
        rows = []
        for i, feat in enumerate(feats):
            raw = _patches(feat.detach(), patch)
            if masks is None:  # masks[i]: (1, 1, H, W) 0/1, only patches centred in it
                valid = torch.ones(raw.shape[0], dtype=torch.bool, device=feat.device)
            else:
                valid = _centres_in(masks[i].to(feat.device), patch)
            rows.append(raw[_thinned(valid, feat, patch, max_patches)])
        self.patch = patch
        self.raw = torch.cat(rows)
        if self.raw.shape[0] == 0:
            raise ValueError("the source is smaller than one patch at this layer")
        self.unit = _normalised(self.raw)
        self.scale = float(self.raw.pow(2).mean().clamp_min(1e-8))

    def __len__(self) -> int:
        return self.raw.shape[0]

    def match(self, gen_feat: Tensor, gen_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(positions of gen_feat's patches whose centre is in gen_mask (all if None), index of
        each one's best source patch by normalised cross-correlation)."""
        n = (gen_feat.shape[-2] - self.patch + 1) * (gen_feat.shape[-1] - self.patch + 1)
        if gen_mask is None:
            pos = torch.arange(n, device=gen_feat.device)
        else:
            pos = _centres_in(gen_mask, self.patch).nonzero().squeeze(1)
        gen = _patches(gen_feat.detach(), self.patch)[pos]
        return pos, _best_match(gen, self.unit)

    def loss(
        self,
        gen_feat: Tensor,
        gen_mask: Tensor | None = None,
        matches: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """Mean squared distance of gen_feat's patches (in gen_mask) to their matches, divided
        by the bank's mean squared feature, so one weight fits every layer. `matches` from an
        earlier `match` call may be reused (matches move slowly between iterations)."""
        pos, idx = matches if matches is not None else self.match(gen_feat, gen_mask)
        if pos.numel() == 0:
            return gen_feat.sum() * 0.0
        gen = _patches(gen_feat, self.patch)[pos]
        return F.mse_loss(gen, self.raw[idx]) / self.scale
