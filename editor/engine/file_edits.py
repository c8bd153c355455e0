"""One edit of one file: check it, read it, run the edit, write the result.

What `semedit upscale|remove|style|faceswap` does for its image, and what a batch does for each
of its files (in this process or in worker processes; the editor's File ▸ Batch… too), so the
two cannot drift apart. Each edit is a small picklable dataclass of the command's options:

- `check(item)`: the file's problems found from headers and folders (standard library, numpy and
  Pillow only), so the CLI can fail before torch loads;
- `prepare()`: what is shared by every file of a batch, resolved once per process (the model to
  use, the style pictures, the face photos); a problem here is the batch's, not a file's. The
  networks themselves load on the first file and stay cached (`sr_choice`, `features`);
- the returned `Prepared.run(item, ctx)`: the run for one file, yielding updates like any edit
  and returning a note for the user (e.g. which model upscaled) or None.

This module imports nothing heavy at import time: the CLI imports it before its checks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from editor.core.batch_plan import BatchItem
from editor.engine.jobs import RunContext
from editor.engine.models.manager import Models

if TYPE_CHECKING:
    from editor.engine.jobs import Run


@dataclass(frozen=True)
class Prepared:
    """A file edit ready to run on files: `run(item, ctx)`, its ctx made by `context()` (where
    it computes, the models it finds); `notes` are said once per batch (e.g. that refined
    removal falls back to quick)."""

    run: Callable[[BatchItem, RunContext], Run]
    models: Models
    notes: tuple[str, ...] = ()

    @property
    def device(self) -> str:
        return self.models.device

    def context(self) -> RunContext:
        return RunContext(device=self.device, models=self.models)


def _models(models_dir: Path | None, device: str) -> Models:
    """The models of the folder given (--models), else $SEMEDIT_MODELS / the user folder."""
    from editor.engine.store import ModelStore, default_models_dir

    return Models(ModelStore(models_dir=models_dir or default_models_dir()), device)


class FileEdit(Protocol):
    verb: str
    """What the summary says was done to each file ("upscaled", "removed", ...)."""

    def check(self, item: BatchItem) -> None: ...

    def prepare(self) -> Prepared: ...


def same_file(a: Path, b: Path) -> bool:
    import os

    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_files(*images: Path) -> None:
    """Each file exists, is readable and has an image header Pillow identifies."""
    from editor.core.imageio import probe_image

    for path in images:
        probe_image(path)


def check_output(output: Path, inputs: Sequence[tuple[Path, str]]) -> None:
    """The output is none of the inputs, has a format SemEdit writes, in a writable folder."""
    from editor.core.imageio import check_writable

    for source, what in inputs:
        if same_file(output, source):
            raise ValueError(f"-o {output} is {what}; choose another output file")
    check_writable(output)


def _problem(item: BatchItem) -> None:
    if item.problem:
        raise ValueError(item.problem)


def _saving(item: BatchItem):
    from editor.engine.jobs import Update

    return Update(progress=1.0, message=f"saving {item.output.name}")


# --------------------------------------------------------------------------------------- upscale


@dataclass(frozen=True)
class UpscaleEdit:
    scale: int
    model: str | None = None
    look: str = "faithful"
    tile: int = 192
    device: str = "auto"
    models_dir: Path | None = None
    verb = "upscaled"

    def check(self, item: BatchItem) -> None:
        """Also the output's size, memory and temporary disk, from the header: a 500-byte file
        claiming 14142² fails here, before torch loads or a byte is written."""
        from editor.core.imageio import max_pixels, probe_header
        from editor.engine.spill import temp_root
        from editor.engine.upscale_needs import check_upscale_fits

        header = probe_header(item.source)
        check_output(item.output, ((item.source, "the input image"),))
        check_upscale_fits(
            header.width,
            header.height,
            header.channels,
            header.bit_depth // 8,
            self.scale,
            temp_folder=temp_root(),
            max_pixels=max_pixels(),
            tile=self.tile,
        )

    def prepare(self) -> Prepared:
        from editor.core.imageio import load_image, save_image
        from editor.engine.device import pick_device
        from editor.engine.edits.upscale import UpscaleRequest
        from editor.engine.edits.upscale import run as upscale
        from editor.engine.models.upscalers import choose_upscaler

        models = _models(self.models_dir, pick_device(self.device))
        choice = choose_upscaler(models.store, self.scale, self.model, self.look)

        def run(item: BatchItem, ctx: RunContext) -> Run:
            self.check(item)
            loaded = load_image(item.source)
            request = UpscaleRequest(loaded.pixels, self.scale, choice, tile=self.tile)
            result = yield from upscale(request, ctx)  # the network: loaded once, then cached
            yield _saving(item)
            save_image(item.output, result, icc_profile=loaded.icc_profile, exif=loaded.exif)
            return f"upscaled with {choice.label}"

        return Prepared(run, models)


# ---------------------------------------------------------------------------------------- remove


@dataclass(frozen=True)
class RemoveEdit:
    method: str = "refined"
    radius: float = 5.0
    device: str = "auto"
    models_dir: Path | None = None
    verb = "filled"

    def check(self, item: BatchItem) -> None:
        _problem(item)
        check_files(item.source, *item.masks)
        inputs = [(item.source, "the input image")] + [(m, "the mask") for m in item.masks]
        check_output(item.output, inputs)

    def prepare(self) -> Prepared:
        from editor.core.imageio import load_image, load_mask, save_image
        from editor.engine.device import pick_device
        from editor.engine.edits.remove import RemoveRequest, refined_available
        from editor.engine.edits.remove import run as remove

        models = _models(self.models_dir, pick_device(self.device))
        method, notes = self.method, ()
        if method == "refined" and not refined_available(models):
            method = "quick"
            notes = (
                "the refined method needs VGG19 feature weights (semedit models list); using quick",
            )

        def run(item: BatchItem, ctx: RunContext) -> Run:
            self.check(item)
            loaded = load_image(item.source)
            height, width = loaded.pixels.shape[:2]
            mask = load_mask(item.masks[0], shape=(height, width))
            request = RemoveRequest(
                image=loaded.pixels,
                mask=mask,
                method=method,
                radius=self.radius,
            )
            result = yield from remove(request, ctx)
            yield _saving(item)
            save_image(item.output, result, icc_profile=loaded.icc_profile, exif=loaded.exif)
            return None

        return Prepared(run, models, notes)


# ----------------------------------------------------------------------------------------- style


@dataclass(frozen=True)
class StyleEdit:
    """Style pictures (`styles`) or fast style networks (`models`, names or files), the n-th
    going where the item's n-th mask is white (everywhere when the item has no masks)."""

    method: str
    styles: tuple[Path, ...] = ()
    models: tuple[str, ...] = ()
    strength: float | None = None
    keep_colors: bool = False
    style_scale: float = 1.0
    iterations: int | None = None
    size: int | None = None
    device: str = "auto"
    models_dir: Path | None = None
    verb = "stylised"

    def check(self, item: BatchItem) -> None:
        _problem(item)
        check_files(item.source, *self.styles, *item.masks)
        inputs = [(item.source, "the input image")] + [(p, "the style") for p in self.styles]
        inputs += [(p, "the mask") for p in item.masks]
        check_output(item.output, inputs)

    def prepare(self) -> Prepared:
        from editor.core.imageio import load_image, load_mask, save_image
        from editor.engine.device import pick_device
        from editor.engine.edits.style import (
            DEFAULT_MAX_SIZE,
            DEFAULT_STRENGTH,
            FAST_STRENGTH,
            StyleRegion,
            StyleRequest,
        )
        from editor.engine.edits.style import run as stylise
        from editor.engine.models.fast_styles import resolve

        found = _models(self.models_dir, pick_device(self.device))
        fast = self.method == "fast"
        models = [str(resolve(name)) for name in self.models]  # an unknown name: the batch's
        styles = [load_image(path).pixels for path in self.styles]  # decoded once per batch
        strength = self.strength
        if strength is None:
            strength = FAST_STRENGTH if fast else DEFAULT_STRENGTH
        max_size = DEFAULT_MAX_SIZE if self.size is None else max(self.size, 64)

        def run(item: BatchItem, ctx: RunContext) -> Run:
            self.check(item)
            for model in models:
                if same_file(item.output, Path(model)):
                    raise ValueError(f"-o {item.output} is the fast style; choose another file")
            loaded = load_image(item.source)
            height, width = loaded.pixels.shape[:2]
            masks = [load_mask(path, shape=(height, width)) for path in item.masks]
            pixels = loaded.pixels
            if self.size is not None:
                pixels = resized(pixels, self.size)
                masks = [resized(mask, self.size, nearest=True) for mask in masks]
            sources: Sequence[Any] = models if fast else styles
            regions = tuple(
                StyleRegion(mask=masks[i] if masks else None, model=source)
                if fast
                else StyleRegion(source, masks[i] if masks else None)
                for i, source in enumerate(sources)
            )
            request = StyleRequest(
                image=pixels,
                regions=regions,
                method=self.method,
                strength=strength,
                keep_colors=self.keep_colors,
                style_scale=self.style_scale,
                iterations=self.iterations,
                max_size=max_size,
            )
            result = yield from stylise(request, ctx)
            yield _saving(item)
            save_image(item.output, result, icc_profile=loaded.icc_profile, exif=loaded.exif)
            return None

        return Prepared(run, found)


def resized(pixels, long_side: int, nearest: bool = False):
    """`pixels` with its long side scaled to `long_side` (area when shrinking, cubic when
    enlarging; nearest for masks)."""
    import cv2

    height, width = pixels.shape[:2]
    factor = long_side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    if size == (width, height):
        return pixels
    mode = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    out = cv2.resize(pixels, size, interpolation=mode)
    return out[..., None] if out.ndim == 2 and pixels.ndim == 3 else out


# -------------------------------------------------------------------------------------- faceswap


@dataclass(frozen=True)
class FaceSwapEdit:
    """`target` counts from 0 (the engine's way); the CLI converts its 1-based --target."""

    faces: tuple[Path, ...]
    target: int | None = None
    quick: bool = False
    device: str = "auto"
    models_dir: Path | None = None
    verb = "swapped"

    def check(self, item: BatchItem) -> None:
        check_files(item.source, *self.faces)
        inputs = [(path, "an input") for path in (item.source, *self.faces)]
        check_output(item.output, inputs)

    def prepare(self) -> Prepared:
        from editor.core.imageio import load_image, save_image
        from editor.engine.device import pick_device
        from editor.engine.edits.faceswap import FaceSwapRequest, FaceTargetError
        from editor.engine.edits.faceswap import run as swap
        from editor.ops.pixels import to_rgb8

        models = _models(self.models_dir, pick_device(self.device))
        photos = tuple(to_rgb8(load_image(path).pixels) for path in self.faces)

        def run(item: BatchItem, ctx: RunContext) -> Run:
            self.check(item)
            loaded = load_image(item.source)
            request = FaceSwapRequest(loaded.pixels, photos, self.target, quick=self.quick)
            try:
                result = yield from swap(request, ctx)
            except FaceTargetError as exc:
                raise ValueError(target_range(exc.count)) from None
            yield _saving(item)
            save_image(item.output, result, icc_profile=loaded.icc_profile, exif=loaded.exif)
            return None

        return Prepared(run, models)


def target_range(count: int) -> str:
    """What --target may be for an image with `count` faces, counted from 1 as users count."""
    if count == 1:
        return "there is 1 face; --target must be 1"
    choices = "1 or 2" if count == 2 else f"1 to {count}"
    return f"there are {count} faces; --target must be {choices}"
