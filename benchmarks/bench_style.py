"""Style transfer speed: our coarse-to-fine L-BFGS against a plain single-scale L-BFGS loop.

    .venv/bin/python benchmarks/bench_style.py [--sizes 256 512] [--threads 2]
                                               [--content tubingen.jpg] [--style starry_night.jpg]
                                               [--smoke]  # 256 px, 4 iterations, 1 thread

Both optimise the same loss with the same VGG19 layers and weights (editor.ops.style_transfer's
Gatys loss at the engine's default strength). The reference is the straightforward loop of
Gatys et al.: start from the content image at full size and run L-BFGS there. Ours works
coarse to fine (`split_iterations`) with the default iteration budget.

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
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _smoke import add_smoke_option, announce_smoke  # noqa: E402

from editor.core.imageio import load_image, save_image
from editor.engine.edits.pixels import from_rgb01, to_rgb01
from editor.engine.edits.style import DEFAULT_ITERATIONS, DEFAULT_STRENGTH, style_weight
from editor.engine.features import shared_features, style_features
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--content", default="tubingen.jpg")
    parser.add_argument("--style", default="starry_night.jpg")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS)
    parser.add_argument("--budget", type=float, default=5.0, help="reference time cap, x ours")
    parser.add_argument(
        "--features",
        choices=("edit", "vgg"),
        default="edit",
        help="edit: what the style edit uses (VGG19 + wct16x deep layers when installed); "
        "vgg: the VGG19 file alone",
    )
    parser.add_argument("--save", type=Path, default=None, help="folder for the result PNGs")
    add_smoke_option(parser)
    args = parser.parse_args()
    if args.smoke:
        # One thread: a smoke run shares the machine (tests, other workers); two crawl there.
        args.sizes, args.iterations, args.threads = SMOKE_SIZES, SMOKE_ITERATIONS, 1
        announce_smoke()
    torch.set_num_threads(args.threads)
    if args.features == "vgg":
        features = shared_features(SHARED / "models", "cpu", pool="avg")
    else:
        features = style_features(SHARED / "models", "cpu")
    plan = layer_plan(features.available_layers)
    settings = Settings(style_weight=style_weight(DEFAULT_STRENGTH), iterations=args.iterations)
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
