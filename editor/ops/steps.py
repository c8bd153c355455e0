"""Generators of steps: passing one's steps on, changed, while keeping what it returns.

The edits are generators that yield progress and return a result, and so are many of the
algorithms under them; an outer one that rescales an inner one's progress or turns its images
into previews needs the inner one's return value too, which a generator expression drops.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

S = TypeVar("S")
R = TypeVar("R")


def mapped(steps: Generator[tuple, Any, R], to_step: Callable[..., S]) -> Generator[S, None, R]:
    """Each of `steps`' yields (a tuple) passed through `to_step(*step)`; returns what `steps`
    returns. `steps` is closed when the caller is (a cancelled run's inner stage cleans up
    then, not when it is collected)."""
    try:
        while True:
            try:
                step: Any = next(steps)
            except StopIteration as stop:
                return stop.value
            yield to_step(*step)
    finally:
        steps.close()
