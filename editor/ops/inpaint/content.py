"""Yang et al.'s content stage: what the hole holds, before the texture stage details it.

Two implementations of one shape, a generator of `(fraction, message, preview rgb8 | None)`
steps that returns a `ContentGuess`: `PatchMatchMean` (offline: the mean of several PatchMatch
completions, hedged with Telea's fill) and `NetworkContent` (a content network's prediction,
LaMa when the model store has it). The engine's content family picks one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import cv2
import numpy as np

from editor.ops.inpaint.hole import telea
from editor.ops.inpaint.network import Network, network_fill

Step = tuple[float, str, "np.ndarray | None"]
"""(fraction of the content stage done, message, a preview of the crop in rgb8 or None)."""


@dataclass(frozen=True)
class ContentGuess:
    """start: uint8 (H, W, 3), where the texture stage starts; mean: float32 0..255, whose
    detail layer seeds the finest scale; target: float32 0..255, the content term's target."""

    start: np.ndarray
    mean: np.ndarray
    target: np.ndarray


CONTENT_FILLS: tuple[dict[str, int], ...] = (
    {"seed": 1},
    {"min_size": 48},
    {"min_size": 48, "seed": 1},
)
"""The refined method's content stage: the quick fill and PatchMatch completions with these
`patchmatch_fill` settings (another random start; a coarsest level of 48 px instead of 32, which
settles the layout differently), averaged. Yang et al.'s content network predicts a hole's
expected content; the mean of several plausible completions stands in for it without weights:
where they agree it keeps their structure and detail, where they disagree it is a hedge the
texture stage then details. benchmarks/bench_remove.py, refined with the quick fill alone ->
this mean: 0.650 -> 0.623 mean perceptual distance, 0.852 -> 0.836 on the second set of masks,
0.782 -> 0.750 on a third (--mask-seed 20). Each completion costs about as much as `quick`; they
run side by side (refined 9.8 -> 9.1 s mean on the benchmark, 2 cores)."""

CONTENT_PATCH_SHARE = 0.4
"""The content target (and coarsest start): this share of the patch fills' mean, the rest
Telea's smooth fill. A hole's content is uncertain; the two err in different ways, and their
mean is nearer the truth perceptually than either (measured with one patch fill: 0.68 mean
perceptual distance for a plain 50/50 blend, 0.71 Telea, 0.73 the patch fill). The texture term
then puts sharp detail back on top of that hedged layout."""

CONTENT_DISAGREE = (25.0, 60.0)
"""...except where the two fills disagree outright (their mean absolute difference, 8-bit levels,
over a Gaussian of CONTENT_DISAGREE_SIGMA px): from the first number to the second the share
moves to the patch fills alone. There Telea has smeared a structure into the hole (a tower, an
arcade), and half of a smear is a ghost the texture term turns into a washed-out copy; the
patch fill's coherent guess looks right and scores better too (bench_remove: refined 0.664 ->
0.649, the Tübingen facades and the Hoover arcade without their pale ghosts)."""
CONTENT_DISAGREE_SIGMA = 4.0


def completion(
    rgb8: np.ndarray, hole: np.ndarray, cancel: Callable[[], None], **settings
) -> np.ndarray:
    """One PatchMatch completion (`settings` go to `patchmatch_fill`; none = the quick fill);
    Telea where no whole patch lies outside the hole (a mask over nearly everything)."""
    from editor.ops.patchmatch import patchmatch_fill

    try:
        return patchmatch_fill(rgb8, hole, cancel=cancel, **settings)
    except ValueError:
        return telea(rgb8, hole)


def content_target(mean: np.ndarray, rgb8: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Refined's content target, (H, W, 3) float32 0..255: the completions' `mean` (float32),
    hedged with Telea's fill where the two roughly agree (CONTENT_PATCH_SHARE, CONTENT_DISAGREE)."""
    smooth = telea(rgb8, hole)
    weight = _patch_share(mean, smooth)[..., None]
    return weight * mean + (1 - weight) * smooth.astype(np.float32)


def _patch_share(patch: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """(H, W) float32 weight of the patch fills in the content target: CONTENT_PATCH_SHARE where
    they agree with Telea's, rising to 1 where they disagree (see CONTENT_DISAGREE)."""
    difference = np.abs(patch.astype(np.float32) - smooth.astype(np.float32)).mean(axis=2)
    difference = cv2.GaussianBlur(difference, (0, 0), CONTENT_DISAGREE_SIGMA)
    low, high = CONTENT_DISAGREE
    rise = np.clip((difference - low) / (high - low), 0.0, 1.0)
    return (CONTENT_PATCH_SHARE + (1.0 - CONTENT_PATCH_SHARE) * rise).astype(np.float32)


class PatchMatchMean:
    """The offline content stage: the quick fill and CONTENT_FILLS completions, averaged."""

    name = "PatchMatch completions"

    def __call__(
        self, rgb8: np.ndarray, hole: np.ndarray, cancel: Callable[[], None]
    ) -> Generator[Step, None, ContentGuess]:
        quick = completion(rgb8, hole, cancel)
        yield 0.5, "Patch fill done", quick
        fills = [quick.astype(np.float32)] + [None] * len(CONTENT_FILLS)
        workers = max(1, min(len(CONTENT_FILLS), os.cpu_count() or 1))
        with ThreadPoolExecutor(workers, thread_name_prefix="content-fill") as pool:
            # numpy releases the GIL in the heavy parts: on 2 cores two at once take ~0.75x
            futures = {
                pool.submit(completion, rgb8, hole, cancel, **settings): index
                for index, settings in enumerate(CONTENT_FILLS, start=1)
            }
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    fills[futures[future]] = future.result().astype(np.float32)
                    message = f"Content fill {done + 1} of {len(CONTENT_FILLS) + 1}"
                    yield 0.5 + 0.5 * done / len(CONTENT_FILLS), message, None
            finally:  # cancelled or closed: drop the queued ones (running ones see the flag)
                for future in futures:
                    future.cancel()
        mean = np.mean(fills, axis=0)
        return ContentGuess(start=quick, mean=mean, target=content_target(mean, rgb8, hole))


class NetworkContent:
    """A content network's prediction (Yang et al.'s first stage; LaMa here) as the expected
    content: start, mean and target at once."""

    name = "content network"

    def __init__(self, net: Network, device: str = "cpu") -> None:
        self.net, self.device = net, device

    def __call__(
        self, rgb8: np.ndarray, hole: np.ndarray, cancel: Callable[[], None]
    ) -> Generator[Step, None, ContentGuess]:
        cancel()
        start = network_fill(self.net, rgb8, hole, self.device)
        yield 1.0, "Content network done", start
        mean = start.astype(np.float32)
        return ContentGuess(start=start, mean=mean, target=mean)


ContentStage = PatchMatchMean | NetworkContent
