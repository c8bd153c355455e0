"""Universal style transfer (WCT) speed: a plain 5-level pipeline vs `editor.ops.wct` (issue 5).

Run: ``.venv/bin/python benchmarks/bench_wct.py [--threads 2] [--size 512] [--repeats 5]
[--models DIR] [--style NAME] [--save DIR] [--smoke]`` (``--smoke``: 336 px, one run each, one
thread, to check that it still runs; its numbers mean nothing)

Content: ../shared/data/content/tubingen.jpg, centre-cropped to a square and resized to
``--size``; style: ../shared/data/style/starry_night.jpg at a long side of ``--size``; alpha 0.8.
Rows, all in one process on ``torch.set_num_threads(--threads)``:

- plain: written out below as one would from the paper and the MANIFEST - sequential
  reflection-pad/conv/ReLU networks in the default memory format, at every level the style is
  encoded again and both covariances are decomposed with `torch.linalg.eigh` in float32, whiten
  and colour applied as two matmuls, then the alpha blend;
- wct (style prepared in the call): `stylise_wct` with the raw style image, i.e. what the first
  run with a new style costs;
- wct (cached style): `stylise_wct` with a `PreparedStyle` (what every later run costs);
- wct, plain torch eigh: the cached row with a bare `torch.linalg.eigh` in place of
  `wct._eigh`, which drops torch to one thread for the call (ablation: on 2 shared cores MKL's
  two-thread eigh of a 128 x 128 matrix sometimes takes 10..300 ms instead of ~1 ms);
- preview: `stylise_wct_preview` (long side `PREVIEW_MAX_SIZE`, all five levels, cached style
  prepared at the preview's scale), upsampled to the full size.

Seconds are the minimum and median of ``--repeats`` runs after one warm-up (the machine is shared,
the minimum is the stable number); ratio = plain's minimum / the row's minimum. ``diff`` is the
mean absolute difference (0..1 RGB) from the plain pipeline's result, to show that the fast full
paths compute the same picture. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _smoke import add_smoke_option, announce_smoke  # noqa: E402
from torch import nn  # noqa: E402

import editor.ops.wct as wct  # noqa: E402
from editor.engine.models.wct import decoder_file, encoder_file, load_wct_models  # noqa: E402
from editor.engine.store import ModelStore, default_models_dir  # noqa: E402

SHARED = REPO.parent / "shared"
ALPHA = 0.8
SMOKE_SIZE = 336
"""--smoke's size: the smallest multiple of 16 (the encoder's four pools) above both preview sizes
(320 and 256 px), so the preview rows still take their downscale-and-upsample path."""


# ----------------------------------------------------------------------------- plain pipeline


class PlainNet(nn.Module):
    """A state dict run as written in the MANIFEST: conv0 (encoders), then every 3x3 conv with
    reflection padding and a ReLU, max-pools (encoder) / nearest upsampling (decoder)."""

    POOL_AFTER = {"conv12", "conv22", "conv34", "conv44"}
    UP_AFTER = {"conv51", "conv41", "conv31", "conv21"}

    def __init__(self, state: dict[str, torch.Tensor], decoder: bool) -> None:
        super().__init__()
        self.decoder = decoder
        self.names = [k[: -len(".weight")] for k in state if k.endswith(".weight")]
        self.names = [n for n in self.names if not n.endswith("_aux")]
        if not decoder:
            order = ["conv0", "conv11", "conv12", "conv21", "conv22", "conv31", "conv32"]
            order += ["conv33", "conv34", "conv41", "conv42", "conv43", "conv44", "conv51"]
            self.names = [n for n in order if n in self.names]
        self.convs = nn.ModuleDict()
        for n in self.names:
            w = state[f"{n}.weight"]
            conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2])
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(state[f"{n}.bias"])
            self.convs[n] = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for n in self.names:
            conv = self.convs[n]
            if n == "conv0":
                x = conv(x)
                continue
            x = conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))
            if not (self.decoder and n == "conv11"):
                x = F.relu(x)
            if not self.decoder and n in self.POOL_AFTER:
                x = F.max_pool2d(x, 2, 2)
            if self.decoder and n in self.UP_AFTER:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x


def plain_wct(cf: torch.Tensor, sf: torch.Tensor, alpha: float, eps: float = 1e-5) -> torch.Tensor:
    """Li et al.'s transform on (C, N) / (C, M) float32 features, eigendecompositions in float32."""
    c_mean = cf.mean(1, keepdim=True)
    c = cf - c_mean
    # A ridge of eps on the diagonal, as Li et al.'s code adds: a smoke run's few pixels give a
    # singular covariance that float32 eigh may fail to converge on (torch 2.13, LAPACK 14952).
    ridge = eps * torch.eye(cf.shape[0], dtype=cf.dtype)
    c_val, c_vec = torch.linalg.eigh(c @ c.t() / (c.shape[1] - 1) + ridge)
    s_mean = sf.mean(1, keepdim=True)
    s = sf - s_mean
    s_val, s_vec = torch.linalg.eigh(s @ s.t() / (s.shape[1] - 1) + ridge)
    c_d = torch.where(c_val > eps, c_val.clamp(min=eps).rsqrt(), torch.zeros_like(c_val))
    s_d = torch.where(s_val > eps, s_val.clamp(min=eps).sqrt(), torch.zeros_like(s_val))
    whitened = (c_vec * c_d) @ c_vec.t() @ c
    coloured = (s_vec * s_d) @ s_vec.t() @ whitened + s_mean
    return alpha * coloured + (1 - alpha) * cf


def plain_pipeline(content, style, encoders, decoders, alpha):
    x = content
    with torch.no_grad():
        for k in (5, 4, 3, 2, 1):
            cf = encoders[k](x)
            sf = encoders[k](style)
            t = plain_wct(cf[0].flatten(1), sf[0].flatten(1), alpha)
            x = decoders[k](t.view_as(cf))
    return x.clamp(0, 1)


# ------------------------------------------------------------------------------------ harness


def load(path: Path, size: int, square: bool) -> torch.Tensor:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    h, w = bgr.shape[:2]
    if square:
        s = min(h, w)
        bgr = bgr[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        out = (size, size)
    else:
        f = size / max(h, w)
        out = (round(w * f), round(h * f))
    bgr = cv2.resize(bgr, out, interpolation=cv2.INTER_AREA)
    return torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 255.0


def timed(fn, repeats: int) -> tuple[float, float, torch.Tensor]:
    out = fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), out


def save(img: torch.Tensor, path: Path) -> None:
    rgb = (img[0].permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    cv2.imwrite(str(path), rgb[..., ::-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", type=Path, default=default_models_dir() or SHARED / "models")
    ap.add_argument("--style", default="starry_night")
    ap.add_argument("--save", type=Path, default=None, help="write the results as PNGs here")
    add_smoke_option(ap)
    args = ap.parse_args()
    if args.smoke:
        # One thread: a smoke run shares the machine (tests, other workers); two crawl there.
        args.size, args.repeats, args.threads = SMOKE_SIZE, 1, 1
        announce_smoke()
    torch.set_num_threads(args.threads)

    store = ModelStore(models_dir=args.models)
    models = load_wct_models(store)
    enc, dec = models.encoders, models.decoders
    plain_enc = {k: PlainNet(_state(store, encoder_file(k)), False) for k in wct.LEVELS}
    plain_dec = {k: PlainNet(_state(store, decoder_file(k)), True) for k in wct.LEVELS}
    content = load(SHARED / "data" / "content" / "tubingen.jpg", args.size, square=True)
    style = load(SHARED / "data" / "style" / f"{args.style}.jpg", args.size, square=False)

    prepared = wct.prepare_style(style, enc)
    scale = wct.preview_style_scale(content.shape[-2:])
    prepared_preview = wct.prepare_style(style, enc, scale=scale)
    prepared_256 = wct.prepare_style(
        style, enc, scale=wct.preview_style_scale(content.shape[-2:], 256)
    )

    def torch_eigh_run():
        saved = wct._eigh
        wct._eigh = torch.linalg.eigh
        try:
            return wct.stylise_wct(content, [(prepared, None)], enc, dec, ALPHA)
        finally:
            wct._eigh = saved

    rows = [
        (
            "plain 5-level (style re-encoded, fp32 eigh)",
            lambda: plain_pipeline(content, style, plain_enc, plain_dec, ALPHA),
        ),
        (
            "wct full, style prepared in the call",
            lambda: wct.stylise_wct(content, [(style, None)], enc, dec, ALPHA),
        ),
        (
            "wct full, cached style",
            lambda: wct.stylise_wct(content, [(prepared, None)], enc, dec, ALPHA),
        ),
        ("wct full, cached style, plain torch eigh (ablation)", torch_eigh_run),
        (
            f"preview ({wct.PREVIEW_MAX_SIZE} px, 5 levels), cached style",
            lambda: wct.stylise_wct_preview(content, [(prepared_preview, None)], enc, dec, ALPHA),
        ),
        (
            "preview 256 px, cached style",
            lambda: wct.stylise_wct_preview(
                content, [(prepared_256, None)], enc, dec, ALPHA, max_size=256
            ),
        ),
    ]
    t_prep, _, _ = timed(lambda: wct.prepare_style(style, enc), args.repeats)

    print(
        f"# WCT, {args.size}x{args.size} content, {tuple(style.shape[-2:])} style "
        f"({args.style}), alpha {ALPHA}"
    )
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or ''}"
        f" {platform.machine()}; minimum and median of {args.repeats} runs\n"
    )
    print("| pipeline | min s | median s | ratio vs plain | diff vs plain |")
    print("|---|---:|---:|---:|---:|")
    base_time, base_out = None, None
    for name, fn in rows:
        best, median, out = timed(fn, args.repeats)
        if base_time is None:
            base_time, base_out = best, out
        diff = float((out - base_out).abs().mean())
        print(f"| {name} | {best:.3f} | {median:.3f} | {base_time / best:.1f}x | {diff:.4f} |")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            slug = "".join(ch if ch.isalnum() else "_" for ch in name)[:40]
            save(out, args.save / f"wct_{slug}.png")
    print(f"\nprepare_style (5 levels, {tuple(style.shape[-2:])}): {t_prep:.3f} s, once per style")
    print("Goals (issue 5, 2 cores): preview < 0.5 s, full < 2 s.")


def _state(store: ModelStore, name: str) -> dict[str, torch.Tensor]:
    from editor.engine.store import load_state_dict

    return load_state_dict(store.file_path("wct16x", name))


if __name__ == "__main__":
    main()
