"""Style transfer speed: our coarse-to-fine L-BFGS against a plain single-scale L-BFGS loop.

    .venv/bin/python benchmarks/bench_style.py [--sizes 256 512] [--threads 2]
                                               [--content tubingen.jpg] [--style starry_night.jpg]
                                               [--smoke]  # 256 px, 4 iterations, 1 thread

Both optimise the same loss with the same VGG19 layers and weights (editor.ops.style_transfer's
Gatys loss at the engine's default strength). The reference is the straightforward loop of
Gatys et al.: start from the content image at full size and run L-BFGS there. Ours works
coarse to fine (`split_iterations`) with the edit's default iteration budget (--iterations:
another), on the edit's network (the full VGG19, in bf16 where the CPU has it).

Printed per size:
- ours: seconds to the first preview and to the end; seconds per iteration at each level;
- the full-size loss ours ends at, and how long the reference takes to reach that same loss
  (the ratio of times; capped at --budget x ours, then reported as "more than");
- the same for the pyramid loss (the objective averaged over the pyramid's levels, the image
  downsampled to each): the full-size loss cannot see structure larger than its deepest
  layer's receptive field, which is what the coarse levels are for;
- the relative Gram style loss (how much of the painting's statistics is missing) of the
  content image and of both results: the issue's "falls at least 10x".

Goal (issue #4): 512 px converged in < 30 s and a first preview in < 1 s on 2 cores.

With `--quality` (issue #19) it prints instead, for each of `--quality-contents` at
`--quality-size`, the edit's default Gatys run on the full VGG19 (`vgg19-full`) and on the older
conv1_1..conv3_4 + wct16x aux combination, in the same run, judged by the full network for both:

- Gram x: the mean relative Gram distance to the painting over relu1_1..relu5_1 of the photo
  divided by the result's (how many times closer to the painting's statistics; issue: >= 8),
- deep x: the same over relu4_1 + relu5_1 alone (issue: >= 6),
- edges: the correlation of the Sobel edge magnitude of the result with the photo's (the photo's
  objects kept; issue: >= 0.15), and seconds (issue: < 30 s on 2 cores).

    .venv/bin/python benchmarks/bench_style.py --quality [--quality-size 512]
        [--quality-contents golden_gate.jpg hoovertowernight.jpg] [--threads 2] [--save DIR]
        [--method gatys|mrf|texture]

--method mrf runs the edit's CNNMRF instead, with one more column first, its own measure:
patch x, the mean distance of each 3x3 patch at relu3_1 and relu4_1 to its nearest painting
patch, the photo's divided by the result's. --method texture synthesises a --quality-size
square texture of each --quality-contents picture (looked up in style/, then content/) from
noise with the edit's texture synthesis, and prints Gram x / deep x against the noise start.

The settings were tuned on tubingen.jpg; golden_gate and hoovertowernight were not looked at.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from _smoke import add_smoke_option, announce_smoke  # noqa: E402

from editor.core.imageio import load_image, save_image
from editor.engine.edits.style import (
    DEFAULT_ITERATIONS,
    DEFAULT_STRENGTH,
    GATYS_PREFER,
    TextureRequest,
    gatys_settings,
    run_texture,
)
from editor.engine.jobs import RunContext, drive
from editor.engine.models.manager import Models  # noqa: E402
from editor.engine.models.vgg import CONV3_ONLY, shared_features, style_features
from editor.ops.neural_patch import PatchBank
from editor.ops.pixels import from_rgb01, to_rgb01
from editor.ops.style_losses import (
    content_loss,
    gram_matrix,
    pyramid_sizes,
    resize,
    style_loss,
    tv_loss,
)
from editor.ops.style_transfer import (
    Settings,
    StyleTarget,
    layer_plan,
    style_distance,
    synthesise,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
SMOKE_SIZES = [256]
"""--smoke's size: the smallest with two pyramid levels (Settings.coarsest is 128)."""
SMOKE_ITERATIONS = 4
"""--smoke's iteration budget: split_iterations gives 3 to the coarse level and 1 to the fine."""


def picture(path: Path, long_side: int) -> torch.Tensor:
    image = to_rgb01(load_image(path).pixels)
    h, w = image.shape[-2:]
    f = long_side / max(h, w)
    return resize(image, (round(h * f), round(w * f)))


class FullLoss:
    """The finest level's objective, evaluated the same way for both optimisers."""

    def __init__(self, features, plan, settings: Settings, content, style) -> None:
        self.features, self.plan, self.settings = features, plan, settings
        with torch.no_grad():
            self.content_feat = features(content, [plan.content])[plan.content]
            scaled = resize(style, _style_size(style, content))
            self.grams = {n: gram_matrix(f) for n, f in features(scaled, plan.style).items()}
        self.layers = sorted(set(plan.style) | {plan.content})

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.features(x, self.layers)
        s = self.settings
        return (
            s.style_weight * style_loss(feats, self.grams)
            + s.content_weight * content_loss(feats[self.plan.content], self.content_feat)
            + s.tv_weight * tv_loss(x)
        )


def _style_size(style: torch.Tensor, content: torch.Tensor) -> tuple[int, int]:
    """The style at the content's long side (style_scale 1), as the optimiser's finest level."""
    h, w = style.shape[-2:]
    f = max(content.shape[-2:]) / max(h, w)
    return max(16, round(h * f)), max(16, round(w * f))


def run_ours(features, content, style, settings):
    t0 = time.perf_counter()
    first = None
    per_level: dict[int, list[float]] = {}
    last = t0
    gen = synthesise(features, features.available_layers, [StyleTarget(style)], settings,
                     content=content)  # fmt: skip
    previous_iteration = 0
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        now = time.perf_counter()
        if first is None:
            first = now - t0
        done = step.iteration - (previous_iteration if step.iteration > previous_iteration else 0)
        previous_iteration = step.iteration
        per_level.setdefault(step.level, []).append((now - last) / max(1, done))
        last = now
    total = time.perf_counter() - t0
    return result, first, total, {k: sum(v) / len(v) for k, v in per_level.items()}, step.loss


class PyramidLoss:
    """The objective averaged over the optimiser's pyramid levels (image downsampled to each):
    the full-size loss only sees what relu3_1 (or the deep aux layers) can see, so a result
    with the painting's large structure and one without can score alike there."""

    def __init__(self, features, plan, settings: Settings, content, style) -> None:
        sizes = pyramid_sizes(*content.shape[-2:], settings.coarsest)
        self.levels = [
            (size, FullLoss(features, plan, settings, resize(content, size), style))
            for size in sizes
        ]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> float:
        x = x.clamp(0, 1)
        return sum(float(loss(resize(x, size))) for size, loss in self.levels) / len(self.levels)


class _Stop(Exception):
    """Raised from the closure: both targets reached, or out of time."""


def run_reference(loss_fn, pyramid_fn, content, target_loss, target_pyramid, budget_s):
    """Plain L-BFGS at full size from the content image, written the usual way (one `step` with
    a large max_iter). Returns (result, seconds until its loss <= target_loss (None: not within
    the budget), seconds until its pyramid loss <= target_pyramid (checked every 4 evaluations,
    the checks not timed), seconds per evaluation, best loss, evaluations)."""
    x = content.clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS(
        [x], lr=1.0, max_iter=100_000, max_eval=100_000, history_size=20,
        line_search_fn="strong_wolfe", tolerance_grad=-1.0, tolerance_change=-1.0,
    )  # fmt: skip
    clock = {"spent": 0.0, "since": time.perf_counter()}
    best = float("inf")
    evaluations = 0
    reached: dict[str, float | None] = {"loss": None, "pyramid": None}

    def elapsed() -> float:
        return clock["spent"] + time.perf_counter() - clock["since"]

    def closure():
        nonlocal best, evaluations
        if elapsed() > budget_s:
            raise _Stop
        optimiser.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        evaluations += 1
        best = min(best, float(loss))
        if best <= target_loss and reached["loss"] is None:
            reached["loss"] = elapsed()
        if evaluations % 4 == 0 and reached["pyramid"] is None:
            clock["spent"] = elapsed()
            if pyramid_fn(x.detach()) <= target_pyramid:
                reached["pyramid"] = clock["spent"]
            clock["since"] = time.perf_counter()
        if reached["loss"] is not None and reached["pyramid"] is not None:
            raise _Stop
        return loss

    try:
        optimiser.step(closure)
    except _Stop:
        pass
    per_eval = elapsed() / max(1, evaluations)
    return x.detach().clamp(0, 1), reached["loss"], reached["pyramid"], per_eval, best, evaluations


QUALITY_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEEP_LAYERS = ("relu4_1", "relu5_1")
PATCH_LAYERS = ("relu3_1", "relu4_1")
FEATURE_SETS = {"full VGG19": ("vgg19-full",), "conv1-3 + aux": CONV3_ONLY}
"""The networks compared by --quality: both from ../shared/models, loaded side by side."""


def edge_correlation(image: torch.Tensor, photo: torch.Tensor) -> float:
    """Pearson correlation of the Sobel gradient magnitude of the luminance of two (1, 3, H, W)
    RGB 0..1 pictures of one size: ~1 = the photo's edges all there, ~0 = none of them."""

    def magnitude(x: torch.Tensor) -> np.ndarray:
        y = (0.299 * x[0, 0] + 0.587 * x[0, 1] + 0.114 * x[0, 2]).numpy().astype(np.float32)
        return np.hypot(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1)).ravel()

    return float(np.corrcoef(magnitude(image), magnitude(photo))[0, 1])


def patch_distance(judge, image: torch.Tensor, style: torch.Tensor) -> float:
    """CNNMRF's own measure: the mean distance of each 3x3 patch of `image` at relu3_1 and
    relu4_1 to its nearest style patch (normalised cross-correlation), relative to the style's
    features. Gram statistics say little about a patch method."""
    with torch.no_grad():
        mine, theirs = judge(image, PATCH_LAYERS), judge(style, PATCH_LAYERS)
        return sum(float(PatchBank([theirs[n]]).loss(mine[n])) for n in PATCH_LAYERS) / 2


def quality(args, contents: Sequence[str], size: int) -> None:
    """The --quality table: the edit's default Gatys (or CNNMRF, --method mrf) on the full
    VGG19 against conv1-3 + aux."""
    models = SHARED / "models"
    judge = shared_features(models, "cpu", prefer=FEATURE_SETS["full VGG19"])
    style = picture(SHARED / "data" / "style" / args.style, size)
    nets = {
        name: style_features(models, "cpu", prefer=p, bf16=True) for name, p in FEATURE_SETS.items()
    }
    warm = picture(SHARED / "data" / "content" / contents[0], 64)
    for features in nets.values():  # allocator, kernels: the table is about every later run
        run_ours(features, warm, warm, Settings(iterations=2))
    rows = []
    for name in contents:
        content = picture(SHARED / "data" / "content" / name, size)

        def ratios(x: torch.Tensor, content: torch.Tensor = content) -> tuple[float, float]:
            first = (
                [patch_distance(judge, content, style) / patch_distance(judge, x, style)]
                if args.method == "mrf"
                else []
            )
            return tuple(first) + tuple(
                style_distance(judge, content, style, layers)
                / style_distance(judge, x, style, layers)
                for layers in (QUALITY_LAYERS, DEEP_LAYERS)
            )

        for net_name, features in nets.items():
            settings = gatys_settings(
                features.available_layers,
                DEFAULT_STRENGTH,
                args.iterations,
                args.method,
                long_side=max(content.shape[-2:]),
            )
            result, first, total, _, _ = run_ours(features, content, style, settings)
            measured = ratios(result)
            plan = settings.layers or layer_plan(features.available_layers)
            layers = plan.patch if args.method == "mrf" else plan.style
            rows.append(
                f"| {name} | {net_name}{' (bf16)' if 'bf16' in features.source else ''} "
                f"| {'-'.join(layers)} / {plan.content} | {settings.iterations} "
                f"| {settings.style_weight:g} | {settings.coarsest} / {settings.level_ratio:g} "
                f"| {' | '.join(f'{r:.1f}x' for r in measured)} "
                f"| {edge_correlation(result, content):.3f} | {total:.1f} s |"
            )
            like = np.zeros((*content.shape[-2:], 3), np.uint8)
            _save_result(args, args.method, name, size, net_name, from_rgb01(result, like))
    title = "CNNMRF" if args.method == "mrf" else "Gatys"
    patch_column = "patch x (relu3_1+4_1) | " if args.method == "mrf" else ""
    print(f"\n{title} at {size} px x {args.style}, the edit's defaults (strength "
          f"{DEFAULT_STRENGTH}, iterations {args.iterations or 'auto'}), judged by the full "
          f"VGG19 (float32); "
          f"{args.threads} thread(s), torch {torch.__version__}\n")  # fmt: skip
    print("| photo | network | style / content layers | iterations | style weight "
          f"| coarsest / level ratio | {patch_column}Gram x (relu1_1-5_1) | deep x (relu4_1+5_1) "
          "| edges | seconds |")  # fmt: skip
    print("|---" * (11 if patch_column else 10) + "|")
    print("\n".join(rows))


def _save_result(args, method: str, name: str, size: int, net: str, pixels: np.ndarray) -> None:
    """--save's PNG of one --quality result: METHOD_PHOTO_SIZE_full|old.png."""
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        tag = "full" if net.startswith("full") else "old"
        save_image(args.save / f"{method}_{Path(name).stem}_{size}_{tag}.png", pixels)


def texture_quality(args, samples: Sequence[str], size: int) -> None:
    """--quality --method texture: the edit's texture synthesis from noise (`run_texture`, a
    size x size texture) on the full VGG19 against conv1-3 + aux, same run, judged by the full
    network: how many times closer the result's Grams are to the sample's than the start's
    (the sample's mean colour plus noise)."""
    models = SHARED / "models"
    judge = shared_features(models, "cpu", prefer=FEATURE_SETS["full VGG19"])
    nets = {name: style_features(models, "cpu", prefer=p) for name, p in FEATURE_SETS.items()}
    rows = []
    for name in samples:
        path = next(
            p for p in (SHARED / "data" / d / name for d in ("style", "content")) if p.is_file()
        )
        pixels = load_image(path).pixels[..., :3]
        sample = to_rgb01(pixels)
        noise = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
        start = (sample.mean(dim=(2, 3), keepdim=True) + 0.1 * noise).clamp(0, 1)
        for net_name, features in nets.items():
            request = TextureRequest(pixels, size=(size, size), iterations=args.iterations)
            t0 = time.perf_counter()
            pixels_out = drive(
                run_texture(request, RunContext(models=Models(provided={"vgg19": features})))
            )
            total = time.perf_counter() - t0
            result = to_rgb01(pixels_out)
            measured = [
                style_distance(judge, start, sample, layers)
                / style_distance(judge, result, sample, layers)
                for layers in (QUALITY_LAYERS, DEEP_LAYERS)
            ]
            rows.append(
                f"| {name} | {net_name} | {'-'.join(layer_plan(features.available_layers).style)} "
                f"| {' | '.join(f'{r:.1f}x' for r in measured)} | {total:.1f} s |"
            )
            _save_result(args, "texture", name, size, net_name, pixels_out)
    print(f"\nTexture synthesis, {size}x{size} from noise, the edit's defaults (iterations "
          f"{args.iterations or 'auto'}), judged by the full VGG19 (float32); {args.threads} "
          f"thread(s), torch {torch.__version__}\n")  # fmt: skip
    print("| sample | network | style layers | Gram x (relu1_1-5_1) | deep x (relu4_1+5_1) "
          "| seconds |\n|---|---|---|---|---|---|")  # fmt: skip
    print("\n".join(rows))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--content", default="tubingen.jpg")
    parser.add_argument("--style", default="starry_night.jpg")
    parser.add_argument(
        "--iterations",
        type=int,
        default=None,
        help=f"default: {DEFAULT_ITERATIONS}; with --quality the edit's own (auto)",
    )
    parser.add_argument("--budget", type=float, default=5.0, help="reference time cap, x ours")
    parser.add_argument(
        "--features",
        choices=("edit", "old", "vgg"),
        default="edit",
        help="edit: what the style edit uses (the full VGG19, else conv1-3 + wct16x deep "
        "layers); old: conv1-3 + wct16x; vgg: the conv1-3 VGG19 file alone",
    )
    parser.add_argument("--save", type=Path, default=None, help="folder for the result PNGs")
    parser.add_argument(
        "--quality",
        action="store_true",
        help="full VGG19 against conv1-3 + aux: Gram ratios and edges (issue #19)",
    )
    parser.add_argument("--quality-size", type=int, default=512)
    parser.add_argument(
        "--method",
        choices=("gatys", "mrf", "texture"),
        default="gatys",
        help="--quality's method; mrf adds the patch distance (photo / result) at relu3_1+4_1; "
        "texture synthesises --quality-size px textures of --quality-contents (style or "
        "content pictures) from noise",
    )
    parser.add_argument(
        "--quality-contents", nargs="+", default=["golden_gate.jpg", "hoovertowernight.jpg"]
    )
    add_smoke_option(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        # One thread: a smoke run shares the machine (tests, other workers); two crawl there.
        args.sizes, args.iterations, args.threads = SMOKE_SIZES, SMOKE_ITERATIONS, 1
        announce_smoke()
    torch.set_num_threads(args.threads)
    if args.smoke or args.quality:
        size = 128 if args.smoke else args.quality_size
        measure = texture_quality if args.method == "texture" else quality
        measure(args, args.quality_contents[:1] if args.smoke else args.quality_contents, size)
        if args.quality:
            return
    if args.features == "vgg":
        features = shared_features(SHARED / "models", "cpu", pool="avg", prefer=CONV3_ONLY)
    elif args.features == "old":
        features = style_features(SHARED / "models", "cpu", prefer=CONV3_ONLY)
    else:
        features = style_features(SHARED / "models", "cpu", prefer=GATYS_PREFER, bf16=True)
    plan = layer_plan(features.available_layers)
    settings = gatys_settings(features.available_layers, DEFAULT_STRENGTH, args.iterations)
    args.iterations = settings.iterations
    # Warm up (allocator, kernels, the deep encoder): the first run of a session pays ~0.7 s
    # more before its first preview; this table is about every run after it.
    warm = picture(SHARED / "data" / "content" / args.content, 64)
    run_ours(features, warm, warm, Settings(iterations=4))
    rows = []
    for size in args.sizes:
        content = picture(SHARED / "data" / "content" / args.content, size)
        style = picture(SHARED / "data" / "style" / args.style, size)
        loss_fn = FullLoss(features, plan, settings, content, style)
        pyramid_fn = PyramidLoss(features, plan, settings, content, style)
        # Full-size loss: where the optimiser ended (before the final clamp to 0..1; the
        # reference's losses are unclamped too). Pyramid loss: of the clamped results.
        ours, first, total, per_level, ours_loss = run_ours(features, content, style, settings)
        ours_pyramid = pyramid_fn(ours)
        ref, t_loss, t_pyramid, ref_per_eval, ref_best, ref_evals = run_reference(
            loss_fn, pyramid_fn, content, ours_loss, ours_pyramid, args.budget * total
        )
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            like = np.zeros((*content.shape[-2:], 3), np.uint8)
            save_image(args.save / f"style_{size}_ours.png", from_rgb01(ours, like))
            save_image(args.save / f"style_{size}_reference.png", from_rgb01(ref, like))

        def versus(reached: float | None, total: float = total) -> str:
            if reached is None:
                return f"> {args.budget * total:.1f} s (> {args.budget:.1f}x)"
            return f"{reached:.1f} s ({reached / total:.1f}x)"

        gram0, gram_ours, gram_ref = (
            style_distance(features, x, style, plan.style) for x in (content, ours, ref)
        )
        levels = " / ".join(f"{per_level[k]:.3f}" for k in sorted(per_level))
        rows.append(
            f"| {content.shape[-1]}x{content.shape[-2]} | {first:.2f} s | {total:.1f} s "
            f"| {levels} | {ref_per_eval:.3f} | {ours_loss:.3f} | {versus(t_loss)} "
            f"| {ours_pyramid:.3f} | {versus(t_pyramid)} | {ref_evals} "
            f"| {gram0:.3f} -> {gram_ours:.4f} ({gram0 / gram_ours:.0f}x) / {gram_ref:.4f} |"
        )

    print(f"\nstyle transfer: {args.content} x {args.style}, {args.iterations} iterations, "
          f"layers {plan.style} / content {plan.content}, "
          f"{args.threads} thread(s), torch {torch.__version__}\n")  # fmt: skip
    print(
        "| size | first preview | ours total | ours s/it per level (coarse..fine) "
        "| reference s/eval | ours full-size loss | reference time to it (ratio) "
        "| ours pyramid loss | reference time to it (ratio) | reference evaluations "
        "| Gram: content -> ours / reference |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
