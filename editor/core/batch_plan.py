"""Which files a batch reads and writes: inputs from folders and file lists, outputs named like
the inputs in one folder, masks matched by file name, what a rerun may skip.

Planned up front (standard library and `imageio` only, before torch loads) so that a problem
with the command line as a whole (two inputs that would write the same output, an output folder
that is the input folder) is found before any file is touched. A problem with one file (it does
not decode, has no mask) is that file's failure when it runs, not the batch's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from editor.core.imageio import SUPPORTED_EXTENSIONS

OUTPUT_FORMATS: dict[str, str] = {
    "png": ".png",
    "jpg": ".jpg",
    "jpeg": ".jpg",
    "webp": ".webp",
    "tif": ".tif",
    "tiff": ".tif",
    "bmp": ".bmp",
}
"""--format's choices and the extension each writes; the input's own extension otherwise."""


class BatchPlanError(ValueError):
    """The batch as a whole cannot run (reported as one line before any work)."""


@dataclass(frozen=True)
class BatchItem:
    """One input file, where its result goes, and the masks that go with it (one per mask
    argument; None where a folder holds no mask of that name: the item fails with `problem`)."""

    source: Path
    output: Path
    masks: tuple[Path, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class BatchPlan:
    items: tuple[BatchItem, ...]
    """What to run, in name order."""
    existing: tuple[BatchItem, ...] = ()
    """Left out by --skip-existing: their output is already there (saves are atomic, so an
    output that exists is complete)."""
    ignored: tuple[Path, ...] = field(default=())
    """Files in an input folder that are not images by their extension (not counted)."""
    output_dir: Path = Path(".")

    @property
    def total(self) -> int:
        return len(self.items) + len(self.existing)


def is_batch(images: Sequence[Path], output: Path | None) -> bool:
    """Several inputs, an input folder, or an output folder (existing, or written with a
    trailing slash) make a batch; one file to one file keeps the single-image behaviour."""
    if len(images) != 1 or images[0].is_dir():
        return True
    return output is not None and (output.is_dir() or str(output).endswith(("/", "\\")))


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")


def expand_inputs(images: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(image files, ignored files): a folder gives its image files by name (not recursive,
    hidden files skipped); a file named on the command line is always taken, so that a broken
    or misnamed one is reported rather than silently left out."""
    files: list[Path] = []
    ignored: list[Path] = []
    for path in images:
        if path.is_dir():
            for child in sorted(path.iterdir(), key=lambda p: p.name.lower()):
                if not child.is_file() or child.name.startswith("."):
                    continue
                (files if is_image_name(child) else ignored).append(child)
        elif path.exists():
            files.append(path)
        else:
            raise BatchPlanError(f"{path}: no such file or folder")
    if not files:
        where = ", ".join(str(p) for p in images)
        raise BatchPlanError(f"no images in {where} (SemEdit reads {_known_extensions()})")
    return files, ignored


def _known_extensions() -> str:
    return " ".join(sorted({ext for ext in SUPPORTED_EXTENSIONS}))


def output_name(source: Path, fmt: str | None) -> str:
    """The output's file name: the input's stem, with --format's extension or the input's."""
    if fmt is None:
        suffix = source.suffix.lower()
        if suffix not in SUPPORTED_EXTENSIONS:
            suffix = ".png"  # read but not written (e.g. a GIF named on the command line)
        return source.stem + suffix
    return source.stem + OUTPUT_FORMATS[fmt.lower()]


def find_mask(source: Path, mask: Path) -> Path | None:
    """The mask for `source`: `mask` itself when it is a file (one mask for every image), else
    the image in folder `mask` with the same stem (any image extension); None if there is none."""
    if not mask.is_dir():
        return mask
    matches = [
        p for p in mask.iterdir() if p.is_file() and p.stem == source.stem and is_image_name(p)
    ]
    if len(matches) > 1:
        names = ", ".join(sorted(p.name for p in matches))
        raise BatchPlanError(f"{mask} holds several masks for {source.name}: {names}")
    return matches[0] if matches else None


def plan_batch(
    images: Sequence[Path],
    output_dir: Path,
    *,
    fmt: str | None = None,
    masks: Sequence[Path] = (),
    skip_existing: bool = False,
) -> BatchPlan:
    """The batch's items; BatchPlanError for a command line that cannot work as a whole."""
    if output_dir.exists() and not output_dir.is_dir():
        raise BatchPlanError(f"-o {output_dir} is a file; for several images -o names a folder")
    for mask in masks:
        if not mask.exists():
            raise BatchPlanError(f"--mask {mask}: no such file or folder")
    files, ignored = expand_inputs(images)
    _refuse_input_folder(files, output_dir)
    seen: dict[str, Path] = {}
    items: list[BatchItem] = []
    existing: list[BatchItem] = []
    for source in files:
        name = output_name(source, fmt)
        if name.lower() in seen:
            raise BatchPlanError(
                f"{seen[name.lower()].name} and {source.name} would both be written to "
                f"{output_dir / name}; give them different names or run them separately"
            )
        seen[name.lower()] = source
        found = tuple(find_mask(source, mask) for mask in masks)
        missing = [mask for mask, path in zip(masks, found, strict=True) if path is None]
        problem = None
        if missing:
            problem = f"no mask named {source.stem}.* in {missing[0]}"
        item = BatchItem(source, output_dir / name, found, problem)  # type: ignore[arg-type]
        if skip_existing and item.output.is_file():
            existing.append(item)
        else:
            items.append(item)
    return BatchPlan(tuple(items), tuple(existing), tuple(ignored), output_dir)


def _refuse_input_folder(files: Sequence[Path], output_dir: Path) -> None:
    """Writing into a folder the inputs come from would replace originals (same format) or feed
    the outputs to the next run as inputs: refused."""
    if not output_dir.exists():
        return
    target = output_dir.resolve()
    for source in files:
        if source.resolve().parent == target:
            raise BatchPlanError(
                f"-o {output_dir} is the folder {source.name} is in: the results would replace "
                "or mix with the originals; choose another folder"
            )
