"""Optimisation-based style transfer, texture synthesis and feature inversion.

One loop serves all three (the image's pixels are the parameters; the network is fixed):

- style transfer (Gatys et al. 2016): content loss at one layer + Gram style loss at several,
  start from the content image;
- CNNMRF (Li & Wand 2016): the style term is the distance of each 3x3 neural patch to its
  nearest style patch (normalised cross-correlation) instead of a Gram matrix;
- texture synthesis: style term only, start from noise; feature inversion: content term only at
  one layer, start from noise.

Spatial control (Gatys et al. 2017): each style has a mask; its Gram matrices (or patches) are
compared only over that region, so several styles go into one image in one run.

The offline VGG19 stops at conv3_4, so the large-scale structure of a style comes from working
coarse to fine: the image is optimised from a 128 px level up, doubling to full size, so
relu3_1 sees a large part of the picture at the coarsest level. Most iterations go to the coarse
levels, where they are cheap (`split_iterations`), and a coarse level stops once it no longer
improves. The optimiser is L-BFGS with a strong-Wolfe line search, as in Gatys et al.; each
level's starts with the step size the coarser level ended with (`_Curvature`), not L-BFGS's
tiny first step. benchmarks/bench_style.py compares the whole scheme with plain L-BFGS at full
size.

Images are RGB 0..1 (1, 3, H, W) float32; masks (1, 1, H, W) 0..1 at the output's size. The
feature network is any callable `features(rgb01, layers) -> {layer: (1, C, h, w)}`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from editor.ops.neural_patch import PatchBank
from editor.ops.style_losses import (
    content_loss,
    gram_matrix,
    mask_at,
    pyramid_sizes,
    resize,
    style_loss,
    tv_loss,
)

Features = Callable[[Tensor, Sequence[str]], dict[str, Tensor]]

METHODS = ("gatys", "mrf")


@dataclass(frozen=True)
class LayerPlan:
    """Which feature layers play which part. `patch` layers are CNNMRF's (method "mrf")."""

    style: tuple[str, ...]
    content: str
    patch: tuple[str, ...]


def layer_plan(available: Sequence[str]) -> LayerPlan:
    """The layers to use given what the feature network provides.

    With the full VGG19 the paper's choices: style relu1_1..relu5_1, content relu4_2, patches
    relu3_1 + relu4_1. With conv1_1..conv3_4 only: style relu1_1, relu2_1, relu3_1, content
    relu3_2 (relu2_2 keeps too much of the photo's fine texture), patches relu3_1; deep layers
    (relu4_1/relu5_1 from another source) join the style layers when present.
    """
    have = set(available)
    style = tuple(n for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1") if n in have)
    content = next((n for n in ("relu4_2", "relu3_2", "relu3_1", "relu2_2") if n in have), None)
    patch = tuple(n for n in ("relu3_1", "relu4_1") if n in have)
    if not style or not patch or content is None:
        raise ValueError(f"the feature network lacks the layers style transfer needs: {available}")
    return LayerPlan(style=style, content=content, patch=patch)


@dataclass(frozen=True)
class StyleTarget:
    """A style picture (1, 3, h, w) RGB 0..1 and where it applies: mask (1, 1, H, W) 0..1 at
    the output's size, None = everywhere."""

    image: Tensor
    mask: Tensor | None = None


@dataclass(frozen=True)
class Settings:
    """How hard to try and what to weigh.

    style_weight / content_weight: the balance (both losses are relative: ~1 means "nothing of
    it matched"); content_weight 0 = texture synthesis. tv_weight: total variation against
    pixel noise. iterations: L-BFGS iterations over all levels. coarsest: long side of the first
    pyramid level (a coarse level ends early once a preview's worth of iterations gains less
    than `converged` of the loss). style_scale: the style image is resized to style_scale x
    the level's long side, so > 1 gives larger brush strokes; with style_relative False it is
    instead used at style_scale x its own size at the finest level (texture: elements keep the
    sample's size whatever the size of the area filled). layers: an explicit LayerPlan instead
    of `layer_plan`'s choice (e.g. to optimise exactly the loss a fast style was trained
    with). keep_detail: a finer level starts from the coarser result plus the detail of the
    content that the coarser level could not hold (`with_detail`), not from a blurred
    enlargement of it. preview_every: iterations before the first yield of a level; after it,
    yields come about every `preview_seconds` (each L-BFGS `step` call costs a little, so
    cheap coarse iterations are batched).
    """

    method: str = "gatys"
    style_weight: float = 20.0
    content_weight: float = 1.0
    tv_weight: float = 2.0
    iterations: int = 200
    coarsest: int = 128
    style_scale: float = 1.0
    preview_every: int = 3
    preview_seconds: float = 0.4
    level_ratio: float = 3.0
    rematch_every: int = 10
    converged: float = 0.01
    line_search: str | None = "strong_wolfe"
    style_relative: bool = True
    layers: LayerPlan | None = None
    keep_detail: bool = False


@dataclass(frozen=True)
class Step:
    """One yield of the loop: the current image at the current level (1, 3, h, w), clamped."""

    progress: float
    image: Tensor
    level: int
    levels: int
    iteration: int
    loss: float
    style: float
    content: float


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the loss inside an L-BFGS step, reported through `on_evaluation`.

    An iteration costs one evaluation or more (its line search's), and a step runs to its end
    before the loop can yield: on a large image one evaluation takes seconds, so without these
    a caller would see nothing move for a whole step. iteration: the one in progress (1-based,
    counted as `Step.iteration` is); evaluation: 1-based within it; progress: the fraction done
    before this iteration (never ahead of the next `Step`). iteration 0 (evaluation 0, loss
    NaN): a level starts, its targets are computed (seconds at full size)."""

    progress: float
    level: int
    levels: int
    iteration: int
    evaluation: int
    loss: float


def split_iterations(total: int, levels: int, ratio: float = 3.0) -> list[int]:
    """Iterations per level, coarsest first: each level gets `ratio` times fewer than the one
    before it (a step at twice the size costs ~4x), at least one each."""
    weights = [ratio ** (levels - 1 - i) for i in range(levels)]
    scale = total / sum(weights)
    counts = [max(1, int(round(w * scale))) for w in weights]
    counts[0] = max(1, counts[0] + total - sum(counts))
    return counts


def _progress(done_cost: float, level_cost: float, total: float, n_iter: int, done: int) -> float:
    """The fraction of the whole run done after `done` of a level's `n_iter` iterations, when
    the levels before it cost `done_cost` (iterations x pixels) of `total`."""
    return min(1.0, (done_cost + level_cost * done / n_iter) / total)


def _noise_like(shape: Sequence[int], generator: torch.Generator | None) -> Tensor:
    """Mid-grey noise: a neutral start for texture synthesis and inversion."""
    return 0.5 + 0.1 * torch.randn(*shape, generator=generator)


class _LevelTargets:
    """Everything fixed during one pyramid level: content features, style Grams or patches."""

    def __init__(
        self,
        features: Features,
        plan: LayerPlan,
        settings: Settings,
        size: tuple[int, int],
        full: tuple[int, int],
        content: Tensor | None,
        content_mask: Tensor | None,
        targets: Sequence[StyleTarget],
    ) -> None:
        self.size = size
        self.content_feat = None
        self.content_mask = None if content_mask is None else resize(content_mask, size)
        if content is not None and settings.content_weight > 0:
            with torch.no_grad():
                self.content_feat = features(resize(content, size), [plan.content])[plan.content]
        self.masks = [None if t.mask is None else resize(t.mask, size) for t in targets]
        self.grams: list[dict[str, Tensor]] = []
        self.banks: list[dict[str, PatchBank]] = []
        style_layers = plan.patch if settings.method == "mrf" else plan.style
        for target in targets:
            if settings.style_relative:
                factor = settings.style_scale * max(size) / max(target.image.shape[-2:])
            else:
                factor = settings.style_scale * max(size) / max(full)
            style = scale_picture(target.image, factor)
            with torch.no_grad():
                feats = features(style, style_layers)
            if settings.method == "mrf":
                self.banks.append({n: PatchBank([feats[n]]) for n in plan.patch})
            else:
                self.grams.append({n: gram_matrix(feats[n]) for n in plan.style})


def with_detail(coarse: Tensor, content: Tensor, size: tuple[int, int]) -> Tensor:
    """A coarse level's result enlarged to `size`, plus the content's detail finer than the
    coarse level: content at `size` minus content through the coarse size and back.

    A plain enlargement is blurred, and deep VGG statistics read blur as "not the painting":
    on the full VGG19, tubingen x starry_night stylised at 256 px and enlarged to 512 px was
    only 1.4x closer to the painting's relu1_1..relu5_1 Grams than the photo itself, so the
    finest level started almost from scratch. With the photo's detail put back it starts
    from a sharp picture that already has the coarse levels' large structures."""
    lost = resize(content, size) - resize(resize(content, tuple(coarse.shape[-2:])), size)
    return (resize(coarse, size) + lost).clamp(0.0, 1.0)


def scale_picture(style: Tensor, factor: float) -> Tensor:
    """The style picture resized by `factor` (never below 16 px, the smallest VGG can read)."""
    h, w = style.shape[-2:]
    return resize(style, (max(16, round(h * factor)), max(16, round(w * factor))))


def synthesise(
    features: Features,
    available: Sequence[str],
    targets: Sequence[StyleTarget],
    settings: Settings,
    *,
    content: Tensor | None = None,
    content_mask: Tensor | None = None,
    init: Tensor | None = None,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    cancel: Callable[[], None] | None = None,
    finish: Callable[[], bool] | None = None,
    on_evaluation: Callable[[Evaluation], None] | None = None,
) -> Generator[Step, None, Tensor]:
    """Optimise an image's pixels coarse to fine; yields `Step`s, returns (1, 3, H, W) 0..1.

    features/available: the feature callable and the layer names it provides (`layer_plan`).
    targets: the styles, each with its region; none = feature inversion of `content`.
    content: (1, 3, H, W) RGB 0..1 whose `plan.content` features are kept; None = texture
        synthesis of size `size` (h, w). content_mask: where the content term applies (None =
        everywhere; a texture fill keeps the surroundings and frees the hole).
    init: the start at full size (None: the content image, or noise without one); it is
        downsampled for the coarse levels. cancel: called before each chunk of iterations
        (see Settings.preview_seconds) and before each evaluation of the loss, and raises to
        stop. finish: returns True when the caller wants the current result now; the loop then
        returns it at once, upsampled to full size. on_evaluation: called after each evaluation
        of the loss (see `Evaluation`), from inside the optimiser's step.
    """
    if settings.method not in METHODS:
        raise ValueError(f"unknown method {settings.method!r}; valid: {', '.join(METHODS)}")
    if content is None and not targets:
        raise ValueError("nothing to do: give a content image, a style, or both")
    plan = settings.layers or layer_plan(available)
    if content is not None:
        full = tuple(content.shape[-2:])
    elif size is not None:
        full = (int(size[0]), int(size[1]))
    else:
        raise ValueError("texture synthesis needs a size")
    generator = torch.Generator().manual_seed(seed)
    if init is None:
        # The seeded noise is drawn on the CPU (the same start on any device), then moved to
        # where the style pictures are.
        device = content.device if content is not None else targets[0].image.device
        init = content if content is not None else _noise_like((1, 3, *full), generator).to(device)
    sizes = pyramid_sizes(full[0], full[1], settings.coarsest)
    counts = split_iterations(settings.iterations, len(sizes), settings.level_ratio)
    cost = [n * h * w for n, (h, w) in zip(counts, sizes, strict=True)]
    done_cost = 0.0
    x: Tensor | None = None
    curvature: _Curvature | None = None
    for level, ((h, w), n_iter) in enumerate(zip(sizes, counts, strict=True)):
        if on_evaluation is not None:
            begun = _progress(done_cost, cost[level], sum(cost), n_iter, 0)
            on_evaluation(Evaluation(begun, level, len(sizes), 0, 0, math.nan))
        if x is None:
            start = resize(init, (h, w))
        elif settings.keep_detail and content is not None:
            start = with_detail(x.detach(), content, (h, w))
        else:
            start = resize(x.detach(), (h, w))
        x = start.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
        fixed = _LevelTargets(
            features, plan, settings, (h, w), full, content, content_mask, targets
        )
        objective = _Objective(features, plan, settings, fixed, x)
        closure = _Reporting(
            objective,
            cancel,
            on_evaluation,
            level=level,
            levels=len(sizes),
            progress=partial(_progress, done_cost, cost[level], sum(cost), n_iter),
        )
        optimiser = _lbfgs(x, settings, closure)
        first_lr = _first_step_lr(x, closure, curvature, (h, w))
        iteration = 0
        previous = math.inf
        chunk = settings.preview_every
        stalls = 0
        while iteration < n_iter:
            if cancel is not None:
                cancel()
            if finish is not None and finish():
                return _full(x, full)
            chunk = min(chunk, n_iter - iteration)
            if first_lr is not None:  # one iteration at the carried step size, then lr 1
                chunk = 1
                optimiser.param_groups[0]["lr"] = first_lr
            # max_eval is fixed at construction (1.25 x max_iter): it must follow the chunk, or
            # the line search's extra evaluations end a step after a fraction of its iterations.
            optimiser.param_groups[0].update(max_iter=chunk, max_eval=2 * chunk)
            began = time.perf_counter()
            counted = optimiser.state[x].get("n_iter", 0)
            before = x.detach().clone()
            optimiser.step(closure)
            if first_lr is not None:
                optimiser.param_groups[0]["lr"] = 1.0
                first_lr = None
            done = optimiser.state[x].get("n_iter", 0) - counted
            iteration += max(1, done)
            if torch.equal(before, x.detach()):
                # The line search found no lower point along L-BFGS's direction (bf16 features'
                # rounding can make its curvature estimate wrong): start the memory afresh, from
                # a plain gradient step; a second stall in a row ends the level.
                stalls += 1
                if stalls > 1:
                    iteration = n_iter
                optimiser = _lbfgs(x, settings, closure, iteration)
            else:
                stalls = 0
            per_iteration = (time.perf_counter() - began) / max(1, done)
            chunk = max(1, min(50, round(settings.preview_seconds / max(per_iteration, 1e-6))))
            loss = objective.parts["loss"]  # after a stall: a rejected point's, not a result
            if stalls == 0:
                if previous - loss < settings.converged * abs(previous) and level < len(sizes) - 1:
                    iteration = n_iter  # this level has converged: the next one gains more
                previous = loss
            yield Step(
                progress=_progress(done_cost, cost[level], sum(cost), n_iter, iteration),
                image=x.detach().clamp(0.0, 1.0),
                level=level,
                levels=len(sizes),
                iteration=iteration,
                loss=objective.parts["loss"],
                style=objective.parts["style"],
                content=objective.parts["content"],
            )
        done_cost += cost[level]
        curvature = _Curvature.of(optimiser, x) or curvature
    assert x is not None
    return _full(x, full)


@dataclass(frozen=True)
class _Curvature:
    """L-BFGS's scale of the inverse Hessian at the end of a level (``H_diag``, a step per unit
    of gradient) and the level's pixel count, to start the next level's optimiser with.

    A fresh L-BFGS takes its first step as ``lr / |g|_1`` times the gradient: on a 512 px image
    that is far too short, and the strong-Wolfe line search spent 5-7 evaluations (each a
    forward and backward pass through VGG19, ~1.5 s at 512 px) growing it back, on every
    level. The losses are means over positions, so the Hessian shrinks as 1 / pixels and the
    carried step grows with the pixel count."""

    h_diag: float
    pixels: int

    @staticmethod
    def of(optimiser: torch.optim.LBFGS, x: Tensor) -> _Curvature | None:
        h_diag = optimiser.state[x].get("H_diag")
        if not isinstance(h_diag, Tensor) or not math.isfinite(float(h_diag)) or h_diag <= 0:
            return None
        return _Curvature(float(h_diag), x.shape[-2] * x.shape[-1])


def _first_step_lr(
    x: Tensor, closure: _Reporting, curvature: _Curvature | None, size: tuple[int, int]
) -> float | None:
    """The lr that makes a fresh L-BFGS's first step ``-H g`` with the carried curvature (its
    own rule is ``lr * min(1, 1 / |g|_1) * -g``), or None without one. Evaluates the start
    once; the step's own first evaluation is then answered from `_Objective`'s cache."""
    if curvature is None:
        return None
    with torch.enable_grad():
        closure()
    if x.grad is None:
        return None
    gamma = curvature.h_diag * size[0] * size[1] / curvature.pixels
    return gamma * max(1.0, float(x.grad.abs().sum()))


def _lbfgs(x: Tensor, settings: Settings, closure: _Reporting, done: int = 0) -> torch.optim.LBFGS:
    """A fresh L-BFGS over the level's pixels, its counters shown to `closure` (after `done`
    iterations of the level by earlier ones)."""
    optimiser = torch.optim.LBFGS(
        [x],
        lr=1.0,
        max_iter=settings.preview_every,
        history_size=20,
        tolerance_grad=-1.0,
        tolerance_change=-1.0,
        line_search_fn=settings.line_search,
    )
    closure.state = optimiser.state[x]  # the dict `step` keeps its counters in
    closure.offset = done
    return optimiser


class _Objective:
    """The loss of one pyramid level as an L-BFGS closure.

    Evaluations at an unchanged image are answered from the last one: `LBFGS.step` starts by
    evaluating where the previous step ended, which would otherwise cost one forward and
    backward pass per preview (compared by value: the line search writes the parameters in
    place and back, so their version counter says nothing). CNNMRF matches are redone every
    `rematch_every` evaluations.
    """

    def __init__(
        self, features: Features, plan: LayerPlan, settings: Settings, fixed: _LevelTargets,
        x: Tensor,
    ) -> None:  # fmt: skip
        self.features, self.plan, self.settings, self.fixed, self.x = (
            features, plan, settings, fixed, x
        )  # fmt: skip
        mrf = settings.method == "mrf"
        self.layers = sorted(
            set(plan.patch if mrf else plan.style)
            | ({plan.content} if fixed.content_feat is not None else set())
        )
        self.matches: list[dict[str, tuple[Tensor, Tensor]]] = [{} for _ in fixed.masks]
        self.evaluations = 0
        self.parts = {"loss": math.nan, "style": math.nan, "content": math.nan}
        self._cached: tuple[Tensor, Tensor] | None = None

    def __call__(self) -> Tensor:
        x, fixed, settings = self.x, self.fixed, self.settings
        if self._cached is not None and x.grad is not None and torch.equal(self._cached[0], x):
            return self._cached[1]
        feats = self.features(x, self.layers)
        s_loss = x.sum() * 0.0
        for i, mask in enumerate(fixed.masks):
            if settings.method == "mrf":
                for name, bank in fixed.banks[i].items():
                    feat = feats[name]
                    if (
                        name not in self.matches[i]
                        or self.evaluations % settings.rematch_every == 0
                    ):
                        self.matches[i][name] = bank.match(feat, _region_at(mask, feat.shape[-2:]))
                    s_loss = s_loss + bank.loss(feat, matches=self.matches[i][name])
            else:
                s_loss = s_loss + style_loss(feats, fixed.grams[i], mask)
        c_loss = x.sum() * 0.0
        if fixed.content_feat is not None:
            c_loss = content_loss(feats[self.plan.content], fixed.content_feat, fixed.content_mask)
        loss = (
            settings.style_weight * s_loss
            + settings.content_weight * c_loss
            + settings.tv_weight * tv_loss(x)
        )
        x.grad = None
        loss.backward()
        self.evaluations += 1
        loss = loss.detach()
        self.parts = {
            "loss": float(loss),
            "style": float(s_loss.detach()),
            "content": float(c_loss.detach()),
        }
        self._cached = (x.detach().clone(), loss)
        return loss


class _Reporting:
    """The objective as L-BFGS's closure: checks for cancellation before each evaluation and
    tells `notify` after each real one (answers from the objective's cache are not news).

    `state` is the optimiser's state of the level's image: its live "n_iter" says which
    iteration an evaluation belongs to. progress: the fraction done after n of the level's
    iterations."""

    def __init__(
        self,
        objective: _Objective,
        cancel: Callable[[], None] | None,
        notify: Callable[[Evaluation], None] | None,
        *,
        level: int,
        levels: int,
        progress: Callable[[int], float],
    ) -> None:
        self.objective, self.cancel, self.notify = objective, cancel, notify
        self.level, self.levels, self.progress = level, levels, progress
        self.state: dict = {}
        self.offset = 0
        self._iteration, self._evaluation = 0, 0

    def __call__(self) -> Tensor:
        if self.cancel is not None:
            self.cancel()
        before = self.objective.evaluations
        loss = self.objective()
        if self.notify is not None and self.objective.evaluations > before:
            self.notify(self._next())
        return loss

    def _next(self) -> Evaluation:
        # n_iter 0: the level's first evaluation; offset: iterations of an earlier optimiser
        iteration = self.offset + max(1, int(self.state.get("n_iter", 0)))
        same = iteration == self._iteration
        self._iteration, self._evaluation = iteration, self._evaluation + 1 if same else 1
        return Evaluation(
            progress=self.progress(iteration - 1),
            level=self.level,
            levels=self.levels,
            iteration=iteration,
            evaluation=self._evaluation,
            loss=self.objective.parts["loss"],
        )


def _region_at(mask: Tensor | None, size: Sequence[int]) -> Tensor | None:
    """A target's region at a layer's size: cells more than half covered."""
    return None if mask is None else (mask_at(mask, tuple(size)) > 0.5).float()


def _full(x: Tensor, full: tuple[int, int]) -> Tensor:
    return resize(x.detach(), full).clamp(0.0, 1.0)


def style_distance(
    features: Features, image: Tensor, style: Tensor, layers: Sequence[str]
) -> float:
    """The relative Gram style loss of `image` against `style` (both (1, 3, h, w) RGB 0..1):
    how much of the style's statistics the image lacks, comparable across methods."""
    with torch.no_grad():
        grams = {n: gram_matrix(f) for n, f in features(style, layers).items()}
        return float(style_loss(features(image, layers), grams))
