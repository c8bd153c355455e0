"""Apply a feed-forward style network (Johnson et al. 2016) to an image of any size.

One forward pass of a `TransformNet` stylises a picture; the only question is memory. A 24 MP
crop through even the slim network would hold several GB of activations, so large inputs go
through in overlapping tiles (`editor.ops.tiling`: cores of `tile` px reading `overlap` px of
context, stitched with linear cross-fades). Small inputs (the brush preview, a region of a few
hundred pixels) are one tile, i.e. one pass.

Instance normalisation would see one tile at a time, and tiles of a sky and of a street have very
different statistics: each tile would come out normalised on its own (a patchwork). So a tiled
run first passes the whole input, shrunk to `STATS_SIDE` px, through the network and records
every instance norm's per-channel mean and variance; the tiles then run with those statistics
fixed (`_FixedNorm`), as if the network saw the whole image at once. On a 1024 x 768 photo in
256 px tiles this brings the mean difference from the untiled result from 0.10 (per-tile
statistics) to 0.01; the cross-fade over 2 x `overlap` pixels hides the rest.

A region of a photo (the style brush) is stylised the same way: with `stats_image` = the whole
photo, the region comes out as that part of the whole photo's stylisation, not as a picture of
its own (a region of sky and tower normalised on its own gets another palette), and growing the
region stroke by stroke does not change the look of what is already painted.

Per tile, after the network: keep_colors (the stylised luminance on the photo's chrominance,
`editor.ops.style_losses.keep_luminance_only`) and strength (a blend with the input: 0 = the
photo, 1 = the network's output). `style_scale` resizes the input by 1 / style_scale before the
network and the output back, so > 1 gives larger brush strokes.

Pure numpy/torch: the network arrives as an argument (see `editor.engine.models.fast_styles`).
"""

from __future__ import annotations

import copy
from collections.abc import Generator

import cv2
import numpy as np
import torch
from torch import nn

from editor.core.geometry import Rect
from editor.ops.style_losses import keep_luminance_only
from editor.ops.tiling import TileBlender, plan_tiles

DEFAULT_TILE = 768
DEFAULT_OVERLAP = 48
"""Context read on each side of a tile's core, and the band of the cross-fade; raised to a
network's receptive radius (`TransformNet.context`) where that reaches farther."""
_GRID = 4
"""TransformNet's two stride-2 stages: tiles start on multiples of this."""
STATS_SIDE = 512
"""Long side of the whole-image pass that gives tiled runs their normalisation statistics."""


class _FixedNorm(nn.Module):
    """An affine instance norm with given statistics (those of the whole image) instead of the
    input's own: (x - mean) / sqrt(var + eps) * weight + bias."""

    def __init__(self, norm: nn.InstanceNorm2d, mean: torch.Tensor, var: torch.Tensor) -> None:
        super().__init__()
        self.norm = norm
        self.register_buffer("mean", mean)
        self.register_buffer("scale", torch.rsqrt(var + norm.eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = (x - self.mean) * self.scale
        if self.norm.affine:
            y = y * self.norm.weight.view(1, -1, 1, 1) + self.norm.bias.view(1, -1, 1, 1)
        return y


def whole_image_norms(net: nn.Module, rgb01: torch.Tensor) -> nn.Module:
    """A copy of `net` whose instance norms use the statistics they see on `rgb01`
    ((1, 3, H, W) RGB 0..1, typically the whole input shrunk to STATS_SIDE). A network without
    instance norms comes back as it is."""
    norms = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)]
    if not norms:
        return net
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def recorder(name: str):
        def hook(_module, inputs, _output) -> None:
            x = inputs[0]
            stats[name] = (
                x.mean((2, 3), keepdim=True),
                x.var((2, 3), keepdim=True, unbiased=False),
            )

        return hook

    hooks = [m.register_forward_hook(recorder(n)) for n, m in norms]
    try:
        with torch.inference_mode():
            net(rgb01)
    finally:
        for h in hooks:
            h.remove()
    fixed = copy.deepcopy(net)
    for name, _ in norms:
        parent_name, _, child = name.rpartition(".")
        parent = fixed.get_submodule(parent_name) if parent_name else fixed
        mean, var = stats[name]
        setattr(parent, child, _FixedNorm(getattr(parent, child), mean.clone(), var.clone()))
    return fixed.eval()


def with_statistics_of(
    net: nn.Module, rgb: np.ndarray, style_scale: float, device: str | torch.device
) -> nn.Module:
    """`net` with its instance norms fixed to what they see on `rgb` (at 1 / style_scale of its
    size, shrunk to at most STATS_SIDE px)."""
    h, w = rgb.shape[:2]
    factor = min(1.0 / style_scale, STATS_SIDE / max(h, w))
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    if size != (h, w):  # resized in its own dtype: a 24 MP photo is not converted to float
        mode = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_CUBIC
        rgb = cv2.resize(np.ascontiguousarray(rgb), (size[1], size[0]), interpolation=mode)
    small = np.clip(_to01(rgb), 0.0, 1.0)
    small_t = torch.from_numpy(np.ascontiguousarray(small)).permute(2, 0, 1)[None]
    return whole_image_norms(net, small_t.to(device))


def _to01(pixels: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8/uint16/float -> float32 0..1."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / 65535.0
    return pixels.astype(np.float32, copy=False)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) float32 to (h, w): area when shrinking, cubic when enlarging."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    shrink = h <= image.shape[0] and w <= image.shape[1]
    mode = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return np.clip(cv2.resize(image, (w, h), interpolation=mode), 0.0, 1.0)


def _run_tile(
    net: nn.Module,
    tile01: np.ndarray,
    strength: float,
    keep_colors: bool,
    device,
    origin: tuple[int, int] = (0, 0),
) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(tile01)).permute(2, 0, 1)[None].to(device)
    with torch.inference_mode():
        # A net with input noise takes the tile's place in the image (see `TransformNet`).
        y = net(x, origin) if getattr(net, "input_noise", 0.0) else net(x)
        if keep_colors:
            y = keep_luminance_only(y, x)
        if strength != 1.0:
            y = x + (y - x) * strength
    return y[0].clamp(0.0, 1.0).permute(1, 2, 0).cpu().numpy()


def iter_stylise_fast(
    net: nn.Module,
    rgb: np.ndarray,
    *,
    strength: float = 1.0,
    keep_colors: bool = False,
    style_scale: float = 1.0,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    device: str | torch.device = "cpu",
    viewport: Rect | None = None,
    stats_image: np.ndarray | None = None,
    origin: tuple[int, int] = (0, 0),
) -> Generator[float, None, np.ndarray]:
    """Stylise `rgb` with `net`, yielding the fraction done after each tile; returns the result.

    rgb: (H, W, 3) RGB, uint8/uint16 or float32 0..1. net: RGB 0..1 in and out (TransformNet).
    strength: 0..1 blend of the network's output over the input. keep_colors: the input's
    chrominance, the output's luminance. style_scale: the input is stylised at 1/style_scale
    of its size (larger strokes for > 1) and brought back. viewport: tiles meeting it first.
    stats_image: (h, w, 3) RGB the normalisation statistics come from (the whole photo when
    `rgb` is a region of it); None = `rgb` itself. origin: (x, y) of `rgb` in that photo (a
    net with input noise draws the same noise there as on the whole photo).
    Returns (H, W, 3) float32 RGB 0..1.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got {rgb.shape}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    if not 0.1 <= style_scale <= 10.0:
        raise ValueError(f"style_scale must be between 0.1 and 10, got {style_scale}")
    # Tiles read at least the network's receptive radius, or their seams would show (a deeper
    # net reads farther than the default).
    overlap = max(overlap, int(getattr(net, "context", 0)))
    height, width = rgb.shape[:2]
    work = (max(1, round(height / style_scale)), max(1, round(width / style_scale)))
    source = rgb if work == (height, width) else _resize(_to01(rgb), work)
    wh, ww = work
    one_pass = max(wh, ww) <= tile + 2 * overlap
    if stats_image is not None:
        net = with_statistics_of(net, stats_image, style_scale, device)
    elif not one_pass:
        net = with_statistics_of(net, source, 1.0, device)
    ox, oy = round(origin[0] / style_scale), round(origin[1] / style_scale)
    if one_pass:
        out = _run_tile(net, _to01(source), strength, keep_colors, device, (ox, oy))
        yield 1.0
    else:
        blender = TileBlender(wh, ww, 3, overlap)
        tiles = plan_tiles(ww, wh, tile, overlap, viewport)
        for i, t in enumerate(tiles, 1):
            # Start on the network's stride grid (multiples of 4, as in the whole image), so
            # overlapping tiles compute the same texture phase and agree where they meet.
            dx, dy = t.rect.x % _GRID, t.rect.y % _GRID
            read = Rect(t.rect.x - dx, t.rect.y - dy, t.rect.w + dx, t.rect.h + dy)
            piece = _to01(source[read.slices])
            at = (ox + read.x, oy + read.y)
            out_tile = _run_tile(net, piece, strength, keep_colors, device, at)
            blender.add(t, out_tile[dy:, dx:])
            yield i / len(tiles)
        out = blender.result(np.float32)
    return _resize(out, (height, width))


def stylise_fast(net: nn.Module, rgb: np.ndarray, **options) -> np.ndarray:
    """`iter_stylise_fast` driven to the end (tests, scripts); same arguments."""
    run = iter_stylise_fast(net, rgb, **options)
    while True:
        try:
            next(run)
        except StopIteration as stop:
            return stop.value
