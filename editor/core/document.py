"""The open image, its working mask and where it came from.

A document is plain data plus change notification (no Qt), so the engine, the CLI and tests can use
it too. Every change goes through `apply_patch`, which is what undo commands call, and listeners
(the canvas) hear which layer changed and where.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from editor.core.geometry import Rect
from editor.core.imageio import LoadedImage, load_image
from editor.core.mask_ops import changed_patch
from editor.core.patch import ArrayPatch

Layer = Literal["image", "mask"]
Listener = Callable[[Layer, "Rect | None"], None]


@dataclass
class Document:
    """An image (H, W, C) uint8/uint16 with C in {1, 3, 4}, and a (H, W) uint8 mask.

    `original` is the image as opened: the before side of before/after comparisons.
    `path` is where Save writes; `overwrite_confirmed` records that the user agreed to replace the
    file the document was opened from (Save never replaces an original silently).
    """

    image: np.ndarray
    mask: np.ndarray = None  # type: ignore[assignment]
    path: Path | None = None
    format: str | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None
    overwrite_confirmed: bool = False
    image_revision: int = 0
    suggested_name: str | None = None  # offered by Save As when there is no path yet
    original: np.ndarray = None  # type: ignore[assignment]
    _listeners: list[Listener] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] not in (1, 3, 4):
            raise ValueError(f"image must be (H, W, 1|3|4), got {self.image.shape}")
        if self.mask is None:
            self.mask = np.zeros(self.image.shape[:2], np.uint8)
        if self.mask.shape != self.image.shape[:2]:
            raise ValueError(f"mask {self.mask.shape} does not match image {self.image.shape[:2]}")
        if self.original is None:
            self.original = self.image.copy()
        self.original.flags.writeable = False

    @classmethod
    def open(cls, path: str | Path, max_pixels: int | None = None) -> Document:
        """Read a file into a new document; raises ImageLoadError with a user-facing message."""
        loaded: LoadedImage = load_image(path, max_pixels=max_pixels)
        return cls(
            image=loaded.pixels,
            path=Path(path),
            format=loaded.format,
            icc_profile=loaded.icc_profile,
            exif=loaded.exif,
        )

    @property
    def display_name(self) -> str:
        """The name the user sees in the title, prompts and Save As."""
        if self.path is not None:
            return self.path.name
        return self.suggested_name or "Untitled"

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def channels(self) -> int:
        return int(self.image.shape[2])

    @property
    def bit_depth(self) -> int:
        return 16 if self.image.dtype == np.uint16 else 8

    @property
    def bounds(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    def layer(self, name: Layer) -> np.ndarray:
        return self.image if name == "image" else self.mask

    # --- change notification -------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def notify(self, layer: Layer, rect: Rect | None) -> None:
        """Tell listeners that `rect` of `layer` changed (None: all of it)."""
        for listener in list(self._listeners):
            listener(layer, rect)

    # --- changes -------------------------------------------------------------------------

    def apply_patch(self, layer: Layer, patch: ArrayPatch, forward: bool = True) -> Rect | None:
        """Write a patch's after-state (forward) or before-state (undo) into a layer."""
        target = self.layer(layer)
        rect = patch.apply(target) if forward else patch.revert(target)
        if layer == "image":
            self.image_revision += 1  # lets a finished job notice that its input went stale
        if rect is not None:
            self.notify(layer, rect)
        return rect

    def diff(self, layer: Layer, new: np.ndarray) -> ArrayPatch:
        """The patch that would turn `layer` into `new` (nothing is written)."""
        current = self.layer(layer)
        if new.shape != current.shape:
            raise ValueError(f"new {layer} {new.shape} does not match {current.shape}")
        return changed_patch(current, new.astype(current.dtype, copy=False))
