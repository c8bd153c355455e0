"""What an upscale will need (output size, memory, temporary disk), checked before it starts.

The numbers follow `editor.engine.edits.upscale`: the tile blender holds a float32 accumulator per
channel plus a float32 weight per *output* pixel (``4 * (C + 1)`` bytes); above the request's
``max_memory_mb`` those arrays are files in the spill folder, and so is the result (an unnamed
temporary file in the same temp folder). The result is held in memory once more when it is saved
or opened as a document, so it counts towards memory in both cases.

- Output size: the output must stay within the same megapixel limit as any image SemEdit opens
  (``SEMEDIT_MAX_MEGAPIXELS``, 200 MP by default), so SemEdit can always open what it wrote.
- Memory: compared with ``MemAvailable`` from /proc/meminfo (``os.sysconf`` elsewhere; skipped
  where neither says).
- Temporary disk: compared with ``shutil.disk_usage`` of the folder the spill goes to.

Standard library only, so the CLI runs these checks before importing torch. `estimate_needs` is
pure (tests/engine/test_upscale_needs.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BLEND_BYTES_PER_CHANNEL = 4
"""float32 accumulator per channel, plus one float32 weight, per output pixel."""
SPILL_RESIDENT_BYTES = 512 << 20
"""Resident pages of the spilled mappings: dropped every 64 MB written, they peak near 0.4 GB."""
ACTIVATION_BYTES_PER_PIXEL = 1024
"""Network activations per output pixel of one tile (~0.5 GB for CARN-M ×4 on 192 px tiles)."""
MODEL_OVERLAP = 32
"""The largest context a shipped model asks for per tile side (RFDN), in input pixels."""
DEFAULT_MAX_MEMORY_MB = 2048
"""`UpscaleRequest.max_memory_mb`: blender sizes above this spill to disk."""


class UpscaleTooLarge(ValueError):
    """An upscale refused before it starts; ``str()`` is one line naming the sizes."""


@dataclass(frozen=True)
class UpscaleNeeds:
    """What upscaling a width × height × channels image by `scale` needs, in bytes."""

    output_width: int
    output_height: int
    memory_bytes: int
    """RAM at the run's peak, the input and the result it will be saved or opened from included."""
    temp_bytes: int
    """Disk in the temp folder (0 when the work fits in `max_memory_mb`)."""
    spilled: bool

    @property
    def output_pixels(self) -> int:
        return self.output_width * self.output_height


def estimate_needs(
    width: int,
    height: int,
    channels: int,
    itemsize: int,
    scale: int,
    *,
    tile: int = 192,
    max_memory_mb: int = DEFAULT_MAX_MEMORY_MB,
) -> UpscaleNeeds:
    """The output size, memory and temporary disk of an upscale (pure; see the module docstring).

    itemsize: bytes per channel value of the input and result (1 for 8-bit, 2 for 16-bit).
    """
    out_w, out_h = width * scale, height * scale
    out = out_w * out_h
    blend = out * (channels + 1) * BLEND_BYTES_PER_CHANNEL
    result = out * channels * itemsize
    image = width * height * channels * itemsize
    tile_out = (min(tile, width) + 2 * MODEL_OVERLAP) * (min(tile, height) + 2 * MODEL_OVERLAP)
    activations = tile_out * scale * scale * ACTIVATION_BYTES_PER_PIXEL
    spilled = blend > max_memory_mb * (1 << 20)
    working = SPILL_RESIDENT_BYTES if spilled else blend
    return UpscaleNeeds(
        output_width=out_w,
        output_height=out_h,
        memory_bytes=image + activations + working + result,
        temp_bytes=blend + result if spilled else 0,
        spilled=spilled,
    )


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation without swapping, or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def free_disk(folder: Path) -> int | None:
    """Free bytes on the disk holding `folder`, or None if it cannot be asked."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def human_bytes(n: float) -> str:
    """1.5 GB, 310.2 MB: sizes the way a user reads them (binary units, one decimal)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def check_upscale_fits(
    width: int,
    height: int,
    channels: int,
    itemsize: int,
    scale: int,
    *,
    temp_folder: Path,
    max_pixels: int,
    tile: int = 192,
    max_memory_mb: int = DEFAULT_MAX_MEMORY_MB,
    memory: Callable[[], int | None] | None = None,
    disk: Callable[[Path], int | None] | None = None,
) -> UpscaleNeeds:
    """Raise `UpscaleTooLarge` (one line) if the output is over `max_pixels` or the run would
    need more memory or temporary disk than there is; else return the estimate.

    memory / disk: what is free (default `available_memory`, `free_disk`; tests pass their own).
    """
    memory = memory or available_memory
    disk = disk or free_disk
    needs = estimate_needs(
        width, height, channels, itemsize, scale, tile=tile, max_memory_mb=max_memory_mb
    )
    sizes = (
        f"upscaling {width}×{height} ×{scale} gives {needs.output_width}×{needs.output_height} "
        f"({needs.output_pixels / 1e6:.4g} MP)"
    )
    if needs.output_pixels > max_pixels:
        raise UpscaleTooLarge(
            f"{sizes}, over the {max_pixels / 1e6:.4g} MP limit (SEMEDIT_MAX_MEGAPIXELS)"
        )
    if needs.temp_bytes:
        free = disk(temp_folder)
        if free is not None and needs.temp_bytes > free:
            raise UpscaleTooLarge(
                f"{sizes}: needs {human_bytes(needs.temp_bytes)} of temporary space in "
                f"{temp_folder}, {human_bytes(free)} free (TMPDIR chooses the folder)"
            )
    available = memory()
    if available is not None and needs.memory_bytes > available:
        raise UpscaleTooLarge(
            f"{sizes}: needs {human_bytes(needs.memory_bytes)} of memory, "
            f"{human_bytes(available)} available"
        )
    return needs


__all__ = [
    "UpscaleNeeds",
    "UpscaleTooLarge",
    "available_memory",
    "check_upscale_fits",
    "estimate_needs",
    "free_disk",
    "human_bytes",
]
