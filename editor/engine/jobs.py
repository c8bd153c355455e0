"""The one shape of every edit: a generator that yields `Update`s and returns its result.

The same generator is driven by the background worker (GUI), by the CLI and directly by tests,
so an edit never knows who is watching it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from editor.core.geometry import Rect
from editor.engine.cancel import JobCancelled
from editor.engine.models.manager import Models

__all__ = ["JobCancelled", "Run", "RunContext", "RunFactory", "Update", "drive"]


@dataclass(frozen=True)
class Update:
    """One step of progress.

    progress: fraction done, 0..1 (None when unknown).
    preview: optional (H, W, C) uint8/uint16 image in the document's channel layout; it covers
        `preview_rect` of the document (the whole document when `preview_rect` is None).
    """

    progress: float | None = None
    message: str = ""
    preview: np.ndarray | None = None
    preview_rect: Rect | None = None


@dataclass
class RunContext:
    """What a run may ask of its driver: the cancel flag, the torch device to use, the models
    (`models`: the store the user chose, see `editor.engine.models`), the part of the image
    the user is looking at now, and where to report progress from inside a long call.

    `viewport` is written by the UI thread while the run goes on (a plain attribute swap of an
    immutable Rect, so no lock is needed); tiled runs read it before each tile to do the visible
    tiles first.
    """

    device: str = "cpu"
    cancel_event: threading.Event = field(default_factory=threading.Event)
    viewport: Rect | None = None
    finish_event: threading.Event = field(default_factory=threading.Event)
    on_report: Callable[[Update], None] | None = None
    """Set by the driver (worker, CLI, `drive`): receives what `report` is given."""
    models: Models = field(default_factory=Models)
    clock: Callable[[], float] = time.monotonic
    """Seconds, for pacing previews (tests pass a fake one)."""

    def __post_init__(self) -> None:
        self.models = self.models.on(self.device)

    @classmethod
    def for_folder(cls, models_dir: Path | None, **fields: Any) -> RunContext:
        """A context whose models come from `models_dir` (then the user data folder): for the
        drivers that take a folder (`--models DIR`), benchmarks and tests."""
        from editor.engine.store import ModelStore

        device = fields.get("device", "cpu")
        return cls(models=Models(ModelStore(models_dir=models_dir), device), **fields)

    def report(self, update: Update) -> None:
        """Progress from inside one long call that cannot yield (an L-BFGS step evaluating its
        loss again and again): a sub-step the user should see move. The driver treats it as a
        yielded update's progress and message (the worker throttles it; a preview in it is
        ignored, previews come with yields). Dropped when nobody listens."""
        if self.on_report is not None:
            self.on_report(update)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    @property
    def finish_requested(self) -> bool:
        """The user wants what the run has now (Apply while an iterative edit runs): iterative
        runs stop at their next step and return their current result; others ignore it."""
        return self.finish_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()


Run = Generator[Update, None, Any]
"""A run: yields updates, returns the result (via StopIteration.value)."""

RunFactory = Callable[[RunContext], Run]
"""What a job holds: given a context, start the run."""


def drive(
    run: Run,
    on_update: Callable[[Update], None] | None = None,
    ctx: RunContext | None = None,
) -> Any:
    """Run a generator to completion on this thread, passing each update on; return its result.

    ctx: the run's context; what the run `report`s through it goes to `on_update` too."""
    if ctx is not None:
        ctx.on_report = on_update
    while True:
        try:
            update = next(run)
        except StopIteration as stop:
            return stop.value
        if on_update is not None:
            on_update(update)
