"""Universal style transfer: whitening and colouring transforms (WCT) on compressed VGG19 features.

Li, Fang, Yang, Wang, Lu, Yang, "Universal Style Transfer via Feature Transforms", NeurIPS 2017:
encode content and style with a VGG19 encoder up to relu{k}_1; *whiten* the content features
(remove their mean and decorrelate them: E_c L_c^-1/2 E_c^T), *colour* them with the style's
covariance (E_s L_s^1/2 E_s^T) and add the style's mean, so the transformed features have exactly
the style's mean and covariance; decode back to RGB with a decoder trained to invert the encoder.
Coarse to fine: level 5 first, decode, re-encode the result at level 4, ... down to level 1.
Any style image works, no per-style training.

The networks are the 16x-compressed encoders/decoders of Wang, Li, Wu, Wang, Fu, "Collaborative
Distillation for Ultra-Resolution Universal Style Transfer", CVPR 2020 (channels 16/32/64/128/128
instead of VGG19's 64/128/256/512/512; encoder 1 has 24). Layout (see ../shared/models MANIFEST,
section 4): `conv0` is a 1x1 conv that turns RGB 0..1 into Caffe BGR 0..255 minus the mean; every
3x3 conv has reflection padding 1 and a ReLU; 2x2 max-pools after conv12, conv22, conv34, conv44;
decoders mirror the encoders with nearest x2 upsampling after conv51, conv41, conv31, conv21 and
no ReLU after the last conv. Each encoder also carries 1x1 `conv{j}1_aux` heads trained to map its
features onto the full (normalised) VGG19's relu{j}_1: `DeepFeatures` uses them as a stand-in
for the deep VGG layers (relu4_1, relu5_1) that the shared conv1_1..conv3_4 weights lack.

This module is pure torch: networks are built from state dicts handed in by the engine
(`editor.engine.models.wct`); nothing here reads files.

Speed (see `benchmarks/bench_wct.py`, 512 x 512): the convolutions dominate, as long as the
eigendecompositions (C <= 128) stay on one thread (see `_eigh`). What the fast path saves over a
plain implementation: the style is encoded once and its statistics (mean and colouring matrix
per level) kept in a `PreparedStyle`; whitening, colouring and the alpha blend are folded into
one C x C matrix applied with one matmul; `eigh` of the symmetric covariance (float64, one
thread) instead of an SVD; channels-last convolutions (~1.2x with mkldnn); the brush preview
runs at a reduced size (`PREVIEW_MAX_SIZE`, all five levels) with a style prepared at the
matching scale. Measured on one thread of a busy 2-core machine: plain 1.9 s, full 0.62 s
(cached style) / 0.78 s (new style), preview 0.30 s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from editor.ops.style_losses import keep_luminance_only, match_colour

LEVELS = (1, 2, 3, 4, 5)
DEFAULT_LEVELS = (5, 4, 3, 2, 1)
"""Coarse to fine, as in Li et al."""
DEFAULT_EPS = 1e-5
"""Eigenvalues below this (absolute, features are O(1..10)) are treated as zero when whitening."""
PREVIEW_MAX_SIZE = 320
"""Long side the brush preview is computed at (then upsampled)."""
PREVIEW_LEVELS = DEFAULT_LEVELS
"""Levels of the preview: all five. Dropping level 5 saves little at this size and loses the
painting's large strokes; 256 px instead of 320 px saves ~30 % but blurs the scene noticeably."""

_ENCODER_ORDER = (
    "conv11",
    "conv12",
    "pool",
    "conv21",
    "conv22",
    "pool",
    "conv31",
    "conv32",
    "conv33",
    "conv34",
    "pool",
    "conv41",
    "conv42",
    "conv43",
    "conv44",
    "pool",
    "conv51",
)
_UPSAMPLE_AFTER = frozenset({"conv51", "conv41", "conv31", "conv21"})
_MULTIPLE = 16
"""Content sizes are padded to a multiple of 2**4 so every pool/upsample pair round-trips."""

KeepColors = bool | str | None
"""False/None: take the style's colours; True or "luminance": transfer on luminance only and keep
the content's chroma (Gatys et al. 2017); "match": recolour the result to the content's colour
mean and covariance (a linear colour transfer applied after stylisation)."""


def _level_of(state: Mapping[str, Tensor], what: str) -> int:
    levels = [k for k in LEVELS if f"conv{k}1.weight" in state]
    if not levels:
        raise ValueError(f"{what}: no conv{{k}}1 layer in the state dict ({sorted(state)[:4]}...)")
    return max(levels)


def _conv(weight: Tensor, reflect: bool) -> nn.Conv2d:
    c_out, c_in, kh, kw = weight.shape
    pad = kh // 2
    return nn.Conv2d(
        c_in, c_out, (kh, kw), padding=pad, padding_mode="reflect" if (reflect and pad) else "zeros"
    )


def _freeze(module: nn.Module) -> None:
    for p in module.parameters():
        p.requires_grad_(False)
    module.eval()


# ------------------------------------------------------------------------------------ networks


class CompressedEncoder(nn.Module):
    """A 16x-compressed VGG19 encoder up to relu{k}_1 (k = `level`, read from the state dict).

    Built from the `model` state dict of `encoder{k}.pth` and loaded strictly (every key of the
    file, aux heads included, must be a parameter here and vice versa; ValueError otherwise).
    Parameters are frozen; gradients still flow to the input.

    forward(rgb01 (B, 3, H, W) float RGB 0..1) -> (B, C_k, H / 2**(k-1), W / 2**(k-1)), the
    non-negative relu{k}_1 features (C_k = 24, 32, 64, 128, 128 for k = 1..5; sizes floor-divided
    by each pool, so use multiples of 2**(k-1) to decode back to the same size).
    """

    def __init__(self, state_dict: Mapping[str, Tensor]) -> None:
        super().__init__()
        self.level = _level_of(state_dict, "encoder")
        last = _ENCODER_ORDER.index(f"conv{self.level}1")
        self.plan: tuple[str, ...] = _ENCODER_ORDER[: last + 1]
        if "conv0.weight" not in state_dict:
            raise ValueError("encoder: no conv0 (the RGB -> BGR-Caffe 1x1 conv) in the state dict")
        self.conv0 = _conv(state_dict["conv0.weight"], reflect=False)
        for name in self.plan:
            if name != "pool":
                if f"{name}.weight" not in state_dict:
                    raise ValueError(f"encoder{self.level}: layer {name} missing from state dict")
                self.add_module(name, _conv(state_dict[f"{name}.weight"], reflect=True))
        self.aux_levels: tuple[int, ...] = tuple(
            j for j in LEVELS if f"conv{j}1_aux.weight" in state_dict
        )
        for j in self.aux_levels:
            self.add_module(f"conv{j}1_aux", _conv(state_dict[f"conv{j}1_aux.weight"], False))
        try:
            self.load_state_dict(dict(state_dict), strict=True)
        except RuntimeError as exc:
            raise ValueError(f"encoder{self.level}: state dict does not fit ({exc})") from exc
        self.channels = int(state_dict[f"conv{self.level}1.weight"].shape[0])
        _freeze(self)
        self.to(memory_format=torch.channels_last)  # ~1.3x faster mkldnn convs on CPU

    def forward(self, rgb01: Tensor) -> Tensor:
        return self.features(rgb01, (f"conv{self.level}1",))[f"conv{self.level}1"]

    def features(self, rgb01: Tensor, names: Sequence[str]) -> dict[str, Tensor]:
        """Several outputs in one pass: "conv{j}1" (its ReLU output, the WCT feature) and/or
        "relu{j}_1" = ReLU(conv{j}1_aux(conv{j}1)), the approximation of the full normalised
        VGG19's relu{j}_1 (B, 64/128/256/512/512, H / 2**(j-1), W / 2**(j-1)); j <= level."""
        wanted = set(names)
        aux_wanted = {int(n[4]) for n in wanted if n.startswith("relu")}
        bad = [
            n
            for n in wanted
            if not (
                (n.startswith("conv") and n in self.plan)
                or (n.startswith("relu") and len(n) == 7 and int(n[4]) in self.aux_levels)
            )
        ]
        if bad:
            raise KeyError(f"encoder{self.level} cannot give {', '.join(sorted(bad))}")
        out: dict[str, Tensor] = {}
        # conv0 (1x1, 3 -> 3) as a channel mix: torch's conv has no fast path for it.
        w0 = self.conv0.weight.view(3, 3)
        x = torch.einsum("oc,bchw->bohw", w0, rgb01) + self.conv0.bias.view(1, 3, 1, 1)
        x = x.contiguous(memory_format=torch.channels_last)
        for name in self.plan:
            if len(out) == len(wanted):
                break
            if name == "pool":
                x = F.max_pool2d(x, 2, 2)
                continue
            x = F.relu(getattr(self, name)(x), inplace=True)
            if name in wanted:
                out[name] = x
            j = int(name[4])
            if name.endswith("1") and j in aux_wanted:
                out[f"relu{j}_1"] = F.relu(getattr(self, f"conv{j}1_aux")(x))
        return out


class CompressedDecoder(nn.Module):
    """The decoder that inverts `CompressedEncoder` of the same level.

    Built from the `model` state dict of `decoder{k}.pth` (layers in forward order, conv{k}1
    first, conv11 last), loaded strictly. forward(feat (B, C_k, h, w)) -> (B, 3, h * 2**(k-1),
    w * 2**(k-1)) RGB, nominally 0..1 but not clamped.
    """

    def __init__(self, state_dict: Mapping[str, Tensor]) -> None:
        super().__init__()
        self.level = _level_of(state_dict, "decoder")
        names: list[str] = []
        for key in state_dict:
            name = key.rsplit(".", 1)[0]
            if name not in names:
                names.append(name)
        expected = [n for n in reversed(_ENCODER_ORDER) if n != "pool"]
        expected = expected[expected.index(f"conv{self.level}1") :]
        if names != expected:
            raise ValueError(f"decoder{self.level}: layers {names}, expected {expected}")
        self.plan: tuple[str, ...] = tuple(names)
        for name in self.plan:
            self.add_module(name, _conv(state_dict[f"{name}.weight"], reflect=True))
        try:
            self.load_state_dict(dict(state_dict), strict=True)
        except RuntimeError as exc:
            raise ValueError(f"decoder{self.level}: state dict does not fit ({exc})") from exc
        self.channels = int(state_dict[f"conv{self.level}1.weight"].shape[1])
        _freeze(self)
        self.to(memory_format=torch.channels_last)

    def forward(self, feat: Tensor) -> Tensor:
        x = feat.contiguous(memory_format=torch.channels_last)
        for name in self.plan:
            x = getattr(self, name)(x)
            if name != "conv11":
                x = F.relu(x, inplace=True)
            if name in _UPSAMPLE_AFTER:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return x


class DeepFeatures(nn.Module):
    """VGG19-like deep features from the compressed encoders' aux heads (for perceptual losses).

    forward(rgb01 (B, 3, H, W) float RGB 0..1, layers) -> {layer: (B, C, h, w)} for layers among
    "relu1_1" (64, H), "relu2_1" (128, H/2), "relu3_1" (256, H/4), "relu4_1" (512, H/8),
    "relu5_1" (512, H/16): ReLU(conv{j}1_aux(features)), the encoder's approximation of the
    *normalised* VGG19 (Gatys et al.: each channel rescaled to mean activation 1 over ImageNet),
    so magnitudes are O(1), unlike the Caffe VGG's O(10..1000). Non-negative.

    `sources` says which encoder level gives each layer (default: every layer from the deepest
    encoder, one forward pass; encoder 5 has aux heads for all five layers). Parameters frozen;
    gradients flow to the input. Same call shape as the engine's FeatureExtractor.
    """

    def __init__(
        self,
        encoders: Mapping[int, CompressedEncoder],
        sources: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        deepest = max(encoders)
        if sources is None:
            sources = {f"relu{j}_1": deepest for j in encoders[deepest].aux_levels}
        for layer, level in sources.items():
            if level not in encoders or int(layer[4]) not in encoders[level].aux_levels:
                raise ValueError(f"encoder{level} has no aux head for {layer}")
        self.sources = dict(sources)
        self.encoders = nn.ModuleDict({str(k): encoders[k] for k in sorted(set(sources.values()))})
        _freeze(self)

    @property
    def available_layers(self) -> tuple[str, ...]:
        return tuple(sorted(self.sources))

    def forward(self, rgb01: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        missing = [n for n in layers if n not in self.sources]
        if missing:
            have = ", ".join(self.available_layers)
            raise KeyError(f"DeepFeatures cannot give {', '.join(missing)}; it has {have}")
        if rgb01.ndim != 4 or rgb01.shape[1] != 3:
            raise ValueError(f"expected an RGB batch (B, 3, H, W), got {tuple(rgb01.shape)}")
        by_level: dict[int, list[str]] = {}
        for name in dict.fromkeys(layers):
            by_level.setdefault(self.sources[name], []).append(name)
        out: dict[str, Tensor] = {}
        for level, names in by_level.items():
            out.update(self.encoders[str(level)].features(rgb01, names))
        return out


# ----------------------------------------------------------------------------------- transform


@dataclass(frozen=True)
class StyleStats:
    """A style's feature statistics at one level: mean (C, 1) and colouring matrix (C, C) =
    E L^1/2 E^T of its covariance (float32, on the features' device)."""

    mean: Tensor
    colour: Tensor


def _mean_cov(feat: Tensor) -> tuple[Tensor, Tensor]:
    """feat (C, N) float -> (mean (C, 1) float32, covariance (C, C) float64, unbiased)."""
    mean = feat.mean(dim=1, keepdim=True)
    centred = feat - mean
    cov = (centred @ centred.t()).double() / max(feat.shape[1] - 1, 1)
    return mean, cov


def _eigh(cov: Tensor) -> tuple[Tensor, Tensor]:
    """Symmetric eigendecomposition, on the CPU with torch's thread count set to 1 for the call.

    Measured on 2 shared cores (torch 2.13, MKL; benchmarks/bench_wct.py): a 128 x 128 `eigh`
    takes ~1 ms on one thread but 10..300 ms with two threads whose OpenMP workers spin against
    a busy core; numpy's OpenBLAS `eigh` is worse still inside the pipeline (its own threads
    fight torch's spinning workers: 20..170 ms per call and slower convolutions after it).
    `set_num_threads` is process-wide, so it is restored right away; the engine runs one job at
    a time."""
    threads = torch.get_num_threads()
    if cov.device.type != "cpu" or threads == 1:
        return torch.linalg.eigh(cov)
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh(cov)
    finally:
        torch.set_num_threads(threads)


def _sym_power(cov: Tensor, power: float, eps: float) -> Tensor:
    """cov (C, C) symmetric PSD float64 -> E L^power E^T, eigenvalues <= eps dropped (float64).

    `eigh` of a symmetric matrix: cheaper and better conditioned than the SVD the reference code
    uses; float64 because whitening divides by the square roots of tiny eigenvalues."""
    evals, evecs = _eigh(cov)
    keep = evals > eps
    scaled = torch.where(keep, evals.clamp(min=eps).pow(power), torch.zeros_like(evals))
    return (evecs * scaled) @ evecs.t()


def style_stats(style_feat: Tensor, eps: float = DEFAULT_EPS) -> StyleStats:
    """style_feat (C, M) float -> its StyleStats (the colouring half of WCT), computed once."""
    mean, cov = _mean_cov(style_feat)
    return StyleStats(mean=mean.float(), colour=_sym_power(cov, 0.5, eps).to(style_feat.dtype))


def _wct_matrix(content_feat: Tensor, stats: StyleStats, alpha: float, eps: float):
    """(T (C, C), b (C, 1)) with alpha*WCT(f) + (1-alpha)*f = T @ f + b for content_feat (C, N)."""
    mean_c, cov_c = _mean_cov(content_feat)
    whiten = _sym_power(cov_c, -0.5, eps)
    colour_whiten = stats.colour.double() @ whiten
    eye = torch.eye(colour_whiten.shape[0], dtype=torch.float64, device=colour_whiten.device)
    t = alpha * colour_whiten + (1.0 - alpha) * eye
    # T f + b = alpha (CW (f - mu_c) + mu_s) + (1 - alpha) f
    b = alpha * (stats.mean.double() - colour_whiten @ mean_c.double())
    return t.to(content_feat.dtype), b.to(content_feat.dtype)


def whiten_colour(
    content_feat: Tensor,
    style: Tensor | StyleStats,
    alpha: float = 1.0,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """The WCT of Li et al.: content features re-coloured with the style's statistics.

    content_feat (C, N) float, style (C, M) float features or their `style_stats`. Returns
    (C, N): alpha * (E_s L_s^1/2 E_s^T E_c L_c^-1/2 E_c^T (f_c - mu_c) + mu_s) + (1 - alpha) f_c.
    At alpha = 1 the result's mean and covariance are the style's (up to eigenvalues <= eps);
    at alpha = 0 it is content_feat. Eigendecompositions in float64, the product in the input's
    dtype.
    """
    if content_feat.ndim != 2:
        raise ValueError(f"content_feat must be (C, N), got {tuple(content_feat.shape)}")
    stats = style if isinstance(style, StyleStats) else style_stats(style, eps)
    if stats.colour.shape[0] != content_feat.shape[0]:
        raise ValueError(
            f"channel mismatch: content {content_feat.shape[0]}, style {stats.colour.shape[0]}"
        )
    t, b = _wct_matrix(content_feat, stats, alpha, eps)
    return torch.addmm(b, t, content_feat)


def whiten_colour_regions(
    content_feat: Tensor,
    styles: Sequence[Tensor | StyleStats],
    masks: Sequence[Tensor | None],
    alpha: float = 1.0,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """WCT per region (spatial control): each region's content pixels are whitened with *their
    own* statistics and coloured with their style's.

    content_feat (C, N); styles[i] (C, M_i) features or StyleStats; masks[i] (N,) bool (or
    anything > 0.5 inside) or None for every pixel. Regions later in the list paint over earlier
    ones; pixels in no region keep their content features. Returns (C, N).
    """
    if len(styles) != len(masks):
        raise ValueError("one mask (or None) per style")
    n = content_feat.shape[1]
    labels = torch.full((n,), -1, dtype=torch.long, device=content_feat.device)
    for i, mask in enumerate(masks):
        if mask is None:
            labels.fill_(i)
        else:
            if mask.numel() != n:
                raise ValueError(f"mask {i} has {mask.numel()} entries, features have {n}")
            labels[mask.reshape(-1).to(content_feat.device) > 0.5] = i
    if bool((labels == 0).all()):  # one region covering everything: no gather/scatter
        return whiten_colour(content_feat, styles[0], alpha, eps)
    out = content_feat.clone()
    for i, style in enumerate(styles):
        idx = (labels == i).nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        out[:, idx] = whiten_colour(content_feat[:, idx], style, alpha, eps)
    return out


# ------------------------------------------------------------------------------------ pipeline


@dataclass(frozen=True)
class PreparedStyle:
    """A style image encoded once: StyleStats per level, ready for any number of `stylise_wct`
    runs (the brush preview reuses it stroke after stroke).

    size: (H, W) the style was encoded at; luminance: prepared from its luminance only (for
    keep_colors="luminance"); levels: {level: StyleStats}.
    """

    levels: Mapping[int, StyleStats]
    size: tuple[int, int]
    luminance: bool = False


def _luma(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) RGB -> (B, 1, H, W) Rec. 601 luma."""
    w = torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype, device=rgb.device)
    return (rgb * w.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def _resize(img: Tensor, scale: float) -> Tensor:
    if scale == 1.0:
        return img
    h, w = img.shape[-2:]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(img, size=size, mode="bilinear", align_corners=False, antialias=True)


def prepare_style(
    style01: Tensor,
    encoders: Mapping[int, CompressedEncoder],
    levels: Sequence[int] = DEFAULT_LEVELS,
    *,
    luminance: bool = False,
    scale: float = 1.0,
    eps: float = DEFAULT_EPS,
) -> PreparedStyle:
    """Encode a style image (1, 3, h, w) RGB 0..1 at every level and keep its StyleStats.

    scale resizes the style first (the preview, run at reduced size, uses its reduction factor so
    brush strokes keep their size relative to the image); luminance encodes the style's luma as
    grey (keep_colors). Cost: one encoder pass per level over the style image.
    """
    _check_rgb(style01, "style01")
    style = _resize(style01, scale)
    if luminance:
        style = _luma(style).expand(-1, 3, -1, -1)
    stats = {}
    with torch.inference_mode():
        for k in levels:
            feat = encoders[k](style)
            stats[k] = style_stats(feat[0].flatten(1), eps)
    return PreparedStyle(levels=stats, size=tuple(style.shape[-2:]), luminance=luminance)


def _check_rgb(img: Tensor, what: str) -> None:
    if img.ndim != 4 or img.shape[:2] != (1, 3):
        raise ValueError(f"{what} must be (1, 3, H, W) RGB 0..1, got {tuple(img.shape)}")


def _normalise_keep_colors(keep_colors: KeepColors) -> str | None:
    if keep_colors is True:
        return "luminance"
    if keep_colors in (False, None):
        return None
    if keep_colors in ("luminance", "match"):
        return str(keep_colors)
    raise ValueError(
        f"keep_colors must be False, True, 'luminance' or 'match', not {keep_colors!r}"
    )


def stylise_wct(
    content01: Tensor,
    styles: Sequence[tuple[Tensor | PreparedStyle, Tensor | None]],
    encoders: Mapping[int, CompressedEncoder],
    decoders: Mapping[int, CompressedDecoder],
    alpha: float = 1.0,
    levels: Sequence[int] = DEFAULT_LEVELS,
    *,
    keep_colors: KeepColors = False,
    max_size: int | None = None,
    eps: float = DEFAULT_EPS,
    cancel: Callable[[], None] | None = None,
) -> Tensor:
    """Universal style transfer (multi-level WCT) of `content01` with one or several styles.

    content01: (1, 3, H, W) float RGB 0..1.
    styles: [(style, mask), ...]; style is a (1, 3, h, w) RGB 0..1 image or a `PreparedStyle`
        (cached statistics; prepare it with the same `luminance` as keep_colors asks for and at
        the scale of the run, see `max_size`); mask is (H, W) or (1, 1, H, W) float 0..1 / bool
        of the content's size, > 0.5 inside, or None for the whole image. Regions later in the
        list paint over earlier ones; pixels in no region come back as the autoencoders'
        reconstruction of the content (the caller composites).
    alpha: style strength 0..1 at every level (0: reconstruction, 1: full WCT).
    levels: encoder/decoder levels, applied in this order (coarse to fine: (5, 4, 3, 2, 1)).
    keep_colors: see `KeepColors`.
    max_size: if the content's long side is larger, it is processed at this size (raw style
        images are scaled by the same factor) and the result upsampled bilinearly - the fast
        brush preview (`stylise_wct_preview`).
    cancel: called between levels; may raise to abort.

    Returns (1, 3, H, W) float RGB in 0..1 on content01's device.
    """
    _check_rgb(content01, "content01")
    mode = _normalise_keep_colors(keep_colors)
    luminance = mode == "luminance"
    h, w = content01.shape[-2:]
    scale = 1.0
    if max_size is not None and max(h, w) > max_size:
        scale = max_size / max(h, w)
    content = _resize(content01, scale)
    ch, cw = content.shape[-2:]

    prepared: list[PreparedStyle] = []
    for style, _ in styles:
        if isinstance(style, PreparedStyle):
            if style.luminance != luminance:
                raise ValueError(
                    f"PreparedStyle(luminance={style.luminance}) used with keep_colors={mode!r}"
                )
            missing = set(levels).difference(style.levels)
            if missing:
                raise ValueError(f"PreparedStyle lacks levels {sorted(missing)}")
            prepared.append(style)
        else:
            prepared.append(
                prepare_style(style, encoders, levels, luminance=luminance, scale=scale, eps=eps)
            )

    # Pad to a multiple of 16 (reflect) so pools and upsamplings round-trip; masks by replication.
    ph, pw = (-ch) % _MULTIPLE, (-cw) % _MULTIPLE
    image = _luma(content).expand(-1, 3, -1, -1) if luminance else content
    image = _pad(image, ph, pw)
    masks = []
    for _, mask in styles:
        if mask is None:
            masks.append(None)
            continue
        m = mask.to(device=content.device, dtype=content.dtype)
        m = m.reshape(1, 1, *m.shape[-2:])
        if m.shape[-2:] != (h, w):
            raise ValueError(f"mask is {tuple(m.shape[-2:])}, content is {(h, w)}")
        if scale != 1.0:
            m = F.interpolate(m, size=(ch, cw), mode="area")
        masks.append(_pad(m, ph, pw, mode="replicate"))

    with torch.inference_mode():
        for k in levels:
            if cancel is not None:
                cancel()
            feat = encoders[k](image)
            _, c, fh, fw = feat.shape
            level_masks = [
                None if m is None else F.interpolate(m, size=(fh, fw), mode="area") for m in masks
            ]
            if alpha != 0.0 and any(m is None or bool((m > 0.5).any()) for m in level_masks):
                flat = whiten_colour_regions(
                    feat[0].flatten(1),
                    [p.levels[k] for p in prepared],
                    level_masks,
                    alpha,
                    eps,
                )
                feat = flat.view(1, c, fh, fw)
            image = decoders[k](feat)
        out = image[..., :ch, :cw].clamp(0.0, 1.0)
        if mode == "luminance":
            out = keep_luminance_only(out, content, contrast=True)
        elif mode == "match":
            out = match_colour(out, content)
        if scale != 1.0:
            out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
            out = out.clamp(0.0, 1.0)
    return out.clone()


def stylise_wct_preview(
    content01: Tensor,
    styles: Sequence[tuple[Tensor | PreparedStyle, Tensor | None]],
    encoders: Mapping[int, CompressedEncoder],
    decoders: Mapping[int, CompressedDecoder],
    alpha: float = 1.0,
    *,
    keep_colors: KeepColors = False,
    max_size: int = PREVIEW_MAX_SIZE,
    levels: Sequence[int] = PREVIEW_LEVELS,
) -> Tensor:
    """The live brush preview: `stylise_wct` at a reduced size (long side `max_size`), upsampled
    to the content's size. Pass styles prepared with `preview_style_scale(...)` to keep strokes
    the same size as in the full result and to skip re-encoding the style every stroke."""
    return stylise_wct(
        content01,
        styles,
        encoders,
        decoders,
        alpha,
        levels,
        keep_colors=keep_colors,
        max_size=max_size,
    )


def preview_style_scale(content_size: tuple[int, int], max_size: int = PREVIEW_MAX_SIZE) -> float:
    """The factor a style should be prepared at for a preview of a content of (H, W) pixels."""
    return min(1.0, max_size / max(content_size))


def _pad(img: Tensor, ph: int, pw: int, mode: str = "reflect") -> Tensor:
    if not (ph or pw):
        return img
    if mode == "reflect" and (ph >= img.shape[-2] or pw >= img.shape[-1]):
        mode = "replicate"
    return F.pad(img, (0, pw, 0, ph), mode=mode)


__all__ = [
    "DEFAULT_LEVELS",
    "PREVIEW_MAX_SIZE",
    "CompressedDecoder",
    "CompressedEncoder",
    "DeepFeatures",
    "PreparedStyle",
    "StyleStats",
    "prepare_style",
    "preview_style_scale",
    "style_stats",
    "stylise_wct",
    "stylise_wct_preview",
    "whiten_colour",
    "whiten_colour_regions",
]
