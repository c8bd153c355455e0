"""Reading and writing images and masks: the one place where files become pixel arrays.

Every image inside SemEdit is a numpy array of shape (H, W, C), C in {1, 3, 4} (gray, RGB, RGBA,
in RGB order), dtype uint8 or uint16, C-contiguous. This module converts whatever a file holds into
that shape once, at the edge, so no other module has to think about palettes, CMYK, EXIF rotation
or 16-bit quirks.

- Pillow does the metadata-aware work (ICC profiles, EXIF, palettes, CMYK). It silently truncates
  16-bit RGB/RGBA PNG and TIFF to 8 bits, so those files are decoded (and encoded) with OpenCV.
- Our own pixel limit (``SEMEDIT_MAX_MEGAPIXELS``) is checked from the header, before any pixel is
  decoded. Pillow's decompression-bomb check would otherwise apply its own, lower limit.
- A header can promise more pixels than the file holds (a few hundred bytes claiming 14142²).
  A PNG whose compressed data cannot hold even half of its pixels is refused (saying how much is
  there), by :func:`probe_image` already when that is plain from the chunk sizes; one cut short
  fails as "truncated or corrupt", with how much is present where that can be measured (PNG
  exactly from its zlib stream, baseline JPEG from the rows the decoder reached).
- Saving is atomic: the file is encoded fully into memory, written to a temp file in the same
  folder, fsynced and renamed over the target, so a failure never leaves a half-written image.
  The temp file is locked while written, so one a killed process left behind is removed later.
- Errors are :class:`ImageIOError` subclasses whose ``str()`` is a one-line message for the user.
- OpenCV is imported only when a 16-bit file is decoded or encoded, so :func:`probe_image` and
  :func:`check_writable` (the CLI's checks before any work) cost what numpy and Pillow cost.

No Qt here: ``editor.core`` must import without a GUI.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import re
import secrets
import shutil
import signal
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from editor.core.file_lock import lock_fd, same_file

__all__ = [
    "DEFAULT_MAX_MEGAPIXELS",
    "OPEN_FILTER",
    "SUPPORTED_EXTENSIONS",
    "ImageHeader",
    "ImageIOError",
    "ImageLoadError",
    "ImageSaveError",
    "LoadedImage",
    "MaskSizeError",
    "SaveOptions",
    "atomic_write_bytes",
    "check_writable",
    "format_for_path",
    "load_image",
    "load_mask",
    "max_pixels",
    "probe_header",
    "probe_image",
    "remove_stale_temp_files",
    "save_image",
    "save_mask",
]

PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------------------- errors


class ImageIOError(Exception):
    """Base of every error raised here; ``str(e)`` is a one-line message naming the file."""

    def __init__(self, message: str, path: PathLike | None = None) -> None:
        super().__init__(message)
        #: The file concerned, for callers that want more than the message (e.g. the full path).
        self.path = Path(path) if path is not None else None


class ImageLoadError(ImageIOError):
    """The file could not be turned into pixels (missing, not an image, corrupt, too large)."""


class ImageSaveError(ImageIOError):
    """The pixels could not be written (bad folder, permissions, disk full, encoder failure)."""


class MaskSizeError(ImageLoadError):
    """A mask file whose size differs from the image it is meant for."""


# ------------------------------------------------------------------------------------ constants

SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}

_FORMAT_LABELS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "TIFF": "TIFF", "BMP": "BMP"}
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}


def _build_open_filter() -> str:
    every = " ".join(f"*{ext}" for ext in SUPPORTED_EXTENSIONS)
    parts = [f"Images ({every})"]
    for fmt, label in _FORMAT_LABELS.items():
        exts = " ".join(f"*{ext}" for ext, f in SUPPORTED_EXTENSIONS.items() if f == fmt)
        parts.append(f"{label} ({exts})")
    parts.append("All files (*)")
    return ";;".join(parts)


#: Qt file-dialog filter. Loading also accepts anything else Pillow reads (GIF, ICO, ...).
OPEN_FILTER: str = _build_open_filter()

DEFAULT_MAX_MEGAPIXELS = 200
_MAX_PIXELS_ENV = "SEMEDIT_MAX_MEGAPIXELS"

_EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

MIN_PRESENT_FRACTION = 0.5
"""A file holding less than this share of its pixel data is refused; one missing less loads as
before (the missing rows black), so a slightly damaged photo can still be rescued."""
_ZLIB_MAX_RATIO = 1032
"""Deflate never expands a byte to more than this many: the bound behind the cheap header check."""


def _env_max_pixels() -> int:
    raw = os.environ.get(_MAX_PIXELS_ENV, "").strip()
    if raw:
        try:
            megapixels = float(raw)
        except ValueError:
            megapixels = math.nan
        if math.isfinite(megapixels) and megapixels > 0:
            return max(1, int(megapixels * 1_000_000))
    return DEFAULT_MAX_MEGAPIXELS * 1_000_000


def max_pixels() -> int:
    """The largest width × height :func:`load_image` accepts when not told otherwise.

    ``SEMEDIT_MAX_MEGAPIXELS`` (a positive number of megapixels, fractions allowed) overrides
    :data:`DEFAULT_MAX_MEGAPIXELS`; an unparsable or non-positive value is ignored. Read on every
    call so a changed environment applies without restarting.
    """
    return _env_max_pixels()


def _megapixels(pixels: int, other: int | None = None) -> str:
    """Megapixels to 4 significant digits, or as many more as it takes to differ from `other`
    (a file just over the limit must not read "200 MP, over the 200 MP limit")."""
    digits = 4
    while other is not None and digits < 12:
        if f"{pixels / 1e6:.{digits}g}" != f"{other / 1e6:.{digits}g}":
            break
        digits += 1
    return f"{pixels / 1_000_000:.{digits}g}"


def _over_limit(path: Path, name: str, width: int, height: int, limit: int) -> ImageLoadError:
    pixels = width * height
    return ImageLoadError(
        f"{name} is {width}×{height} ({_megapixels(pixels, limit)} MP), over the "
        f"{_megapixels(limit, pixels)} MP limit ({_MAX_PIXELS_ENV})",
        path,
    )


# ---------------------------------------------------------------------------------- data types


@dataclass
class LoadedImage:
    """Pixels in the editor's convention plus what is needed to save them back faithfully."""

    pixels: np.ndarray
    """(H, W, C) uint8 or uint16, C in {1, 3, 4}, C-contiguous and writable."""
    format: str
    """Pillow format name of the file ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF", ...)."""
    icc_profile: bytes | None
    """Embedded ICC profile describing ``pixels``; None for none (assume sRGB)."""
    exif: bytes | None
    """Raw EXIF (starting ``Exif\\0\\0``) with the orientation reset to 1; None if absent."""
    source_mode: str
    """Pillow mode of the file as stored ("P", "CMYK", "I;16", "RGB;16", ...)."""

    @property
    def bit_depth(self) -> int:
        """8 or 16: bits per channel of ``pixels``."""
        return 16 if self.pixels.dtype == np.uint16 else 8


_TIFF_COMPRESSIONS = {"tiff_lzw": 5, "none": 1}  # value: cv2's IMWRITE_TIFF_COMPRESSION code


@dataclass(frozen=True)
class SaveOptions:
    """Encoder settings; each applies only to its format."""

    jpeg_quality: int = 92
    """1..100. At 90 and above chroma is kept at full resolution (4:4:4), else 4:2:0."""
    png_compression: int = 6
    """zlib level 0..9; PNG is lossless at every level."""
    webp_quality: int = 90
    """0..100; with ``webp_lossless`` it is the compression effort instead."""
    webp_lossless: bool = False
    tiff_compression: str = "tiff_lzw"
    """"tiff_lzw" or "none"."""

    def __post_init__(self) -> None:
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, not {self.jpeg_quality}")
        if not 0 <= self.png_compression <= 9:
            raise ValueError(f"png_compression must be 0..9, not {self.png_compression}")
        if not 0 <= self.webp_quality <= 100:
            raise ValueError(f"webp_quality must be 0..100, not {self.webp_quality}")
        if self.tiff_compression not in _TIFF_COMPRESSIONS:
            raise ValueError(
                f"tiff_compression must be one of {sorted(_TIFF_COMPRESSIONS)}, "
                f"not {self.tiff_compression!r}"
            )


# ------------------------------------------------------------------------- Pillow's pixel limit

# Pillow's MAX_IMAGE_PIXELS is a process-wide global checked in Image.open (and again when a TIFF
# or GIF frame is decoded). We need our limit, not Pillow's, to decide; so we change it only
# around our own calls, under a lock so concurrent loads cannot restore each other's values.
_PILLOW_LIMIT_LOCK = threading.Lock()


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


@contextlib.contextmanager
def _quiet_libtiff(data: bytes) -> Iterator[None]:
    """Keep libtiff's C-level complaints ("Using code not yet in table.", one line per damaged
    strip) off the terminal while a TIFF decodes: the load's own one-line error says it all.
    Only around TIFF data, and only briefly, since the whole process's stderr is redirected."""
    if not data.startswith(_TIFF_MAGIC) or os.name != "posix":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


@contextlib.contextmanager
def _pillow_pixel_limit(limit: int | None) -> Iterator[None]:
    """Run a Pillow call with ``Image.MAX_IMAGE_PIXELS`` set to ``limit``, restoring it after.

    ``None`` (no check) is only used for header parsing, which decodes no pixels; the real size
    check happens right after, against our limit.
    """
    with _PILLOW_LIMIT_LOCK, warnings.catch_warnings():
        # Also Pillow's warnings about damaged metadata: the user gets one line, ours.
        warnings.simplefilter("ignore")
        saved = Image.MAX_IMAGE_PIXELS
        if limit is not None and saved is not None:
            limit = max(limit, saved)  # never make Pillow stricter than the app configured
        elif saved is None:
            limit = None  # someone disabled Pillow's check globally; keep it that way
        Image.MAX_IMAGE_PIXELS = limit
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


# --------------------------------------------------------------------------------------- loading

# Errors Pillow / zlib / struct raise on damaged data, as opposed to bugs in our code.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError)


def _display_name(path: Path) -> str:
    return path.name or str(path)


def _read_error(path: Path, name: str, exc: OSError) -> ImageLoadError:
    """The one-line load error for an OS error met opening or reading ``path``."""
    if isinstance(exc, FileNotFoundError):
        return ImageLoadError(f"{name} does not exist", path)
    if isinstance(exc, IsADirectoryError) or path.is_dir():  # Windows: a folder is EACCES
        return ImageLoadError(f"{name} is a folder, not an image", path)
    if isinstance(exc, PermissionError):
        return ImageLoadError(f"{name} cannot be read (permission denied)", path)
    return ImageLoadError(f"{name} cannot be read ({exc.strerror or exc})", path)


def _read_source(path: Path, name: str) -> bytes:
    """Read the whole file, turning OS errors into one-line load errors."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _read_error(path, name, exc) from exc
    if not data:
        raise ImageLoadError(f"{name} is empty", path)
    return data


def _tile_rawmode(im: Image.Image) -> str:
    """The raw mode of the first decoder tile, e.g. 'RGB;16B' for a 16-bit RGB PNG, else ''."""
    if not getattr(im, "tile", None):
        return ""
    args = im.tile[0][3]  # (codec, extents, offset, args); a plain tuple before Pillow 11
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return ""


def _sixteen_bit_colour_mode(im: Image.Image) -> str | None:
    """'RGB;16' / 'RGBA;16' / 'LA;16' if Pillow would truncate this file's 16-bit colour."""
    rawmode = _tile_rawmode(im)
    base, _, bits = rawmode.partition(";")
    if bits.startswith("16") and base in ("RGB", "RGBA", "RGBX", "LA"):
        return f"{'RGB' if base == 'RGBX' else base};16"
    return None


# EXIF orientation -> the array transform that shows the image upright (as ImageOps.exif_transpose).
_ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # malformed EXIF must not stop the image from loading
        return 1
    return value if isinstance(value, int) and value in _ORIENT else 1


def _normalise_exif(exif: bytes | None) -> bytes | None:
    """EXIF bytes with the ``Exif\\0\\0`` header Pillow's JPEG writer expects, or None."""
    if not exif:
        return None
    if exif.startswith((b"II", b"MM")):
        return _EXIF_HEADER + exif
    return exif


def _exif_with_orientation_reset(exif: bytes) -> bytes | None:
    """Set the EXIF orientation to 1, so a re-saved, already upright image is not rotated again.

    Patches the one SHORT in place (everything else, maker notes included, stays byte-identical);
    falls back to re-serialising with Pillow, and drops EXIF it cannot parse at all rather than
    keep an orientation that would rotate the saved image a second time.
    """
    body = exif[len(_EXIF_HEADER) :] if exif.startswith(_EXIF_HEADER) else exif
    try:
        order = {b"II": "<", b"MM": ">"}[body[:2]]
        (ifd,) = struct.unpack_from(order + "I", body, 4)
        (count,) = struct.unpack_from(order + "H", body, ifd)
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, kind, n = struct.unpack_from(order + "HHI", body, entry)
            if tag == _ORIENTATION_TAG:
                if kind != 3 or n != 1:  # not a single SHORT: let Pillow rewrite it
                    raise ValueError("unusual orientation entry")
                patched = bytearray(body)
                struct.pack_into(order + "H", patched, entry + 8, 1)
                return _EXIF_HEADER + bytes(patched)
        return _EXIF_HEADER + body
    except (KeyError, ValueError, struct.error):
        pass
    try:
        parsed = Image.Exif()
        parsed.load(_EXIF_HEADER + body)
        parsed[_ORIENTATION_TAG] = 1
        return parsed.tobytes()
    except Exception:  # unparsable EXIF is dropped, never fatal
        return None


def _float_to_uint16(values: np.ndarray) -> np.ndarray:
    """Pillow 'F' (32-bit float) -> uint16.

    Rule: if every finite value lies in 0..1 the data is taken as normalised and scaled by 65535;
    otherwise values are taken as already on the 0..65535 scale. Either way the result is rounded
    and clipped to 0..65535; NaN becomes 0.
    """
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=65535.0, neginf=0.0)
    if values.size and values.min() >= 0.0 and values.max() <= 1.0:
        values = values * 65535.0
    return np.clip(np.rint(values), 0, 65535).astype(np.uint16)


def _int_to_uint16(values: np.ndarray) -> np.ndarray:
    """Pillow 'I' (32-bit signed) and signed 16-bit modes -> uint16 by clipping to 0..65535."""
    if values.dtype == np.uint16:
        return values.astype(np.uint16, copy=False)  # also makes big-endian data native
    return np.clip(values, 0, 65535).astype(np.uint16)


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """CMYK -> RGB through the embedded profile when it works, else Pillow's naive formula."""
    icc = im.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or non-CMYK profile: fall back below
    return im.convert("RGB")


def _pillow_to_array(im: Image.Image, name: str, path: Path) -> tuple[np.ndarray, bool]:
    """Convert a loaded Pillow image to (H, W, C) pixels; also says whether ICC must be dropped."""
    mode = im.mode
    drop_icc = False
    if mode == "1":  # 0/255; a tRNS colour key becomes real alpha, as for L and RGB below
        im = im.convert("RGBA" if "transparency" in im.info else "L")
    elif mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
    elif mode in ("L", "RGB") and "transparency" in im.info:  # tRNS colour key -> real alpha
        im = im.convert("RGBA")
    elif mode in ("LA", "La", "RGBa"):
        im = im.convert("RGBA")
    elif mode == "CMYK":
        im = _cmyk_to_rgb(im)
        drop_icc = True  # the CMYK profile does not describe the RGB result
    elif mode in ("L", "RGB", "RGBA", "F", "I") or mode.startswith("I;16"):
        pass
    else:  # RGBX, YCbCr, HSV, LAB, ...
        try:
            im = im.convert("RGB")
        except ValueError as exc:
            raise ImageLoadError(
                f"{name} uses the colour mode {mode}, which SemEdit cannot read", path
            ) from exc

    values = np.array(im)
    if im.mode == "F":
        values = _float_to_uint16(values)
    elif im.mode == "I" or im.mode.startswith("I;16"):
        values = _int_to_uint16(values)
    if values.ndim == 2:
        values = values[:, :, np.newaxis]
    return values, drop_icc


def _decode_16bit_colour(data: bytes, size: tuple[int, int], name: str, path: Path) -> np.ndarray:
    """Decode a 16-bit RGB/RGBA/LA PNG or TIFF with OpenCV (Pillow would keep only 8 bits)."""
    import cv2

    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        # IMREAD_UNCHANGED keeps depth and alpha and does not apply EXIF orientation (we do).
        decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageLoadError(f"{name} is truncated or corrupt", path) from exc
    width, height = size
    if (
        decoded is None
        or decoded.dtype != np.uint16
        or decoded.ndim != 3
        or decoded.shape[:2] != (height, width)
        or decoded.shape[2] not in (3, 4)
    ):
        raise ImageLoadError(f"{name} is truncated or corrupt", path)
    code = cv2.COLOR_BGR2RGB if decoded.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
    return cv2.cvtColor(decoded, code)


# --------------------------------------------------------------------------- missing pixel data

_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
"""(x0, y0, dx, dy) of the seven Adam7 interlace passes."""


@dataclass(frozen=True)
class _PngData:
    """Where a PNG's pixel data is: the IDAT pieces present and the inflated size it promises."""

    expected: int
    """Bytes the zlib stream must inflate to (filter bytes included), from the IHDR."""
    spans: tuple[tuple[int, int], ...]
    """(offset, length) of each IDAT payload, cut to what the file holds."""
    interlaced: bool

    @property
    def compressed(self) -> int:
        return sum(length for _, length in self.spans)


def _png_data(file: io.BufferedIOBase) -> _PngData | None:
    """Walk a PNG's chunks (seeking over the payloads); None if it is no PNG we can measure."""
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    if file.read(8) != _PNG_SIGNATURE:
        return None
    head = file.read(8 + 13)
    if len(head) < 21 or head[4:8] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", head[8:21])
    if colour not in _PNG_CHANNELS or width == 0 or height == 0:
        return None
    bits = depth * _PNG_CHANNELS[colour]
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    expected = 0
    for x0, y0, dx, dy in passes:
        cols, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if cols > 0 and rows > 0:
            expected += rows * (1 + -(-cols * bits // 8))
    spans = []
    offset = 8 + 8 + 13 + 4  # signature, IHDR (length, type, payload, CRC)
    while offset + 8 <= size:
        file.seek(offset)
        header = file.read(8)
        (length,) = struct.unpack(">I", header[:4])
        kind = header[4:8]
        if kind == b"IDAT":
            spans.append((offset + 8, max(0, min(length, size - offset - 8))))
        elif kind == b"IEND":
            break
        offset += 12 + length
    return _PngData(expected, tuple(spans), bool(interlace))


def _png_present(file: io.BufferedIOBase, layout: _PngData) -> float:
    """The share (0..1) of the promised pixel data the IDAT stream inflates to; counted, not
    kept, so a bomb costs time (bounded by the promised size), never memory."""
    inflate = zlib.decompressobj()
    total = 0
    try:
        for offset, length in layout.spans:
            file.seek(offset)
            pending = file.read(length)
            while pending and not inflate.eof:
                total += len(inflate.decompress(pending, 1 << 20))
                if total >= layout.expected:
                    return 1.0
                pending = inflate.unconsumed_tail
            if inflate.eof:
                break
    except zlib.error:
        pass  # damaged from here on: what inflated so far is what there is
    return total / layout.expected


def _jpeg_present(data: bytes) -> float | None:
    """The share of a cut baseline JPEG's rows the decoder reached (libjpeg fills the rest with
    mid-gray), or None where it cannot tell (progressive JPEGs fill everything, blurred)."""
    from PIL import ImageFile

    with _PILLOW_LIMIT_LOCK:  # LOAD_TRUNCATED_IMAGES is process-wide: set it only around us
        saved = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        saved_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # size checked before
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.mode not in ("L", "RGB"):
                    return None
                im.load()
                values = np.asarray(im)
        except _DECODE_ERRORS:
            return None
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved
            Image.MAX_IMAGE_PIXELS = saved_limit
    rows = values.reshape(values.shape[0], -1)
    gray = np.all(rows == 128, axis=1)
    filled = int(np.argmin(gray[::-1])) if not gray.all() else len(gray)
    return 1.0 - filled / len(gray) if filled else None


def _present_text(fraction: float) -> str:
    percent = "less than 1 %" if fraction < 0.01 else f"{math.floor(fraction * 100):.0f} %"
    return f"only {percent} of its pixel data is present"


def _truncated(name: str, path: Path, fraction: float | None) -> ImageLoadError:
    detail = f": {_present_text(fraction)}" if fraction is not None and fraction < 1 else ""
    return ImageLoadError(f"{name} is truncated or corrupt{detail}", path)


def _measured_present(data: bytes, file_format: str) -> float | None:
    """How much of a damaged file's pixel data is there, where that can be measured."""
    if file_format == "PNG":
        buffer = io.BytesIO(data)
        layout = _png_data(buffer)
        return None if layout is None else _png_present(buffer, layout)
    if file_format in ("JPEG", "MPO"):
        return _jpeg_present(data)
    return None


def _check_png_present(data: bytes, values: np.ndarray, name: str, path: Path) -> None:
    """After a PNG decoded without complaint: refuse it if most of its pixel data is missing
    (Pillow and libpng leave the missing rows black). Costs one more inflate, and only when the
    last row is black or the file is interlaced; a complete file never gets this far."""
    buffer = io.BytesIO(data)
    layout = _png_data(buffer)
    if layout is None or (not layout.interlaced and values[-1].any()):
        return
    present = _png_present(buffer, layout)
    if present < MIN_PRESENT_FRACTION:
        raise _truncated(name, path, present)


def load_image(path: PathLike, max_pixels: int | None = None) -> LoadedImage:
    """Read an image file into the editor's pixel convention (see the module docstring).

    ``max_pixels`` caps width × height (None: :func:`max_pixels`); it is checked from the header,
    before decoding. The first frame of multi-frame files is used. EXIF orientation is applied to
    the pixels and reset to 1 in the returned EXIF. Conversions: palette -> RGB (RGBA if it has
    transparency), LA -> RGBA, CMYK -> RGB (via its ICC profile when possible, which is then
    dropped), 1-bit -> 0/255 gray, 16-bit stays 16-bit, 'I' and 'F' -> uint16 gray (see
    :func:`_int_to_uint16`, :func:`_float_to_uint16`). TIFF EXIF lives in the TIFF tags and is not
    returned as ``exif``; its orientation is still applied.

    Raises :class:`ImageLoadError` with a one-line message naming the file.
    """
    path = Path(path)
    name = _display_name(path)
    limit = _env_max_pixels() if max_pixels is None else max_pixels
    data = _read_source(path, name)

    try:
        # header only: Pillow's bomb check must not pre-empt ours
        with _pillow_pixel_limit(None), _quiet_libtiff(data):
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{name} is not an image SemEdit can read", path) from exc
    except _DECODE_ERRORS as exc:
        raise ImageLoadError(f"{name} is truncated or corrupt", path) from exc

    with im:
        width, height = im.size
        pixels_total = width * height
        if pixels_total > limit:
            raise _over_limit(path, name, width, height, limit)
        file_format = "JPEG" if im.format == "MPO" else (im.format or "unknown")
        sixteen_bit = _sixteen_bit_colour_mode(im)
        try:
            if sixteen_bit:
                source_mode = sixteen_bit
                values = _decode_16bit_colour(data, im.size, name, path)
                drop_icc = False
            else:
                source_mode = im.mode
                # TIFF/GIF decoding re-checks the size
                with _pillow_pixel_limit(limit), _quiet_libtiff(data):
                    im.load()  # full decode now, so truncation is reported here, not later
                values, drop_icc = _pillow_to_array(im, name, path)
        except MemoryError as exc:
            raise ImageLoadError(f"{name} is too large to load (out of memory)", path) from exc
        except _DECODE_ERRORS as exc:
            raise _truncated(name, path, _measured_present(data, file_format)) from exc
        except ImageLoadError as exc:
            if not str(exc).endswith("is truncated or corrupt"):
                raise
            raise _truncated(name, path, _measured_present(data, file_format)) from exc
        if file_format == "PNG":
            _check_png_present(data, values, name, path)

        orientation = _orientation(im)  # first: a PNG eXIf chunk after IDAT needs the load
        icc = None if drop_icc else (im.info.get("icc_profile") or None)
        exif = _normalise_exif(im.info.get("exif"))

    if orientation != 1:
        values = _ORIENT[orientation](values)
    if exif is not None:
        exif = _exif_with_orientation_reset(exif)
    return LoadedImage(
        pixels=np.ascontiguousarray(values),
        format=file_format,
        icc_profile=icc,
        exif=exif,
        source_mode=source_mode,
    )


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says about the pixels :func:`load_image` will return."""

    width: int
    height: int
    """As stored (an EXIF rotation may swap them in the loaded pixels)."""
    channels: int
    """1, 3 or 4 after load_image's conversions (palette -> RGB(A), LA -> RGBA, ...)."""
    bit_depth: int
    """8 or 16 bits per channel."""


def _header_layout(im: Image.Image) -> tuple[int, int]:
    """(channels, bit depth) of the pixels load_image makes of ``im`` (see _pillow_to_array)."""
    sixteen_bit = _sixteen_bit_colour_mode(im)
    if sixteen_bit:
        return (3 if sixteen_bit == "RGB;16" else 4), 16
    mode = im.mode
    bits = 16 if mode in ("I", "F") or mode.startswith("I;16") else 8
    if mode in ("PA", "LA", "La", "RGBA", "RGBa"):
        return 4, bits
    if mode in ("P", "L", "RGB") and "transparency" in im.info:
        return 4, bits
    if mode in ("1", "L", "I", "F") or mode.startswith("I;16"):
        return 1, bits
    return 3, bits


def probe_header(path: PathLike, max_pixels: int | None = None) -> ImageHeader:
    """The size and layout :func:`load_image` will give, from the header only: the cheap check
    that a command can make before loading anything heavy.

    Raises :class:`ImageLoadError` with the message :func:`load_image` would give for a missing,
    unreadable, empty, unidentifiable or over-limit file, and for a PNG whose compressed data is
    too small to hold most of its pixels (other damage past the header shows when it is loaded).
    """
    path = Path(path)
    name = _display_name(path)
    limit = _env_max_pixels() if max_pixels is None else max_pixels
    try:
        with path.open("rb") as file:
            if not file.read(1):
                raise ImageLoadError(f"{name} is empty", path)
            file.seek(0)
            with _pillow_pixel_limit(None), Image.open(file) as im:
                width, height = im.size
                channels, bits = _header_layout(im)
                is_png = im.format == "PNG"
            if width * height <= limit and is_png:
                _check_png_size(file, name, path)
    except ImageLoadError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{name} is not an image SemEdit can read", path) from exc
    except OSError as exc:
        raise _read_error(path, name, exc) from exc
    except _DECODE_ERRORS as exc:
        raise ImageLoadError(f"{name} is truncated or corrupt", path) from exc
    if width * height > limit:
        raise _over_limit(path, name, width, height, limit)
    return ImageHeader(width, height, channels, bits)


def _check_png_size(file: io.BufferedIOBase, name: str, path: Path) -> None:
    """Refuse a PNG whose IDAT chunks, inflated at deflate's best ratio, could not hold
    MIN_PRESENT_FRACTION of what its header promises; then the count is cheap, so say exactly
    how much is there. Anything bigger is left to load_image (it costs a full inflate)."""
    layout = _png_data(file)
    if layout is None or layout.compressed * _ZLIB_MAX_RATIO >= layout.expected:
        return
    present = _png_present(file, layout)
    if present < MIN_PRESENT_FRACTION:
        raise _truncated(name, path, present)


def probe_image(path: PathLike, max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) as stored, from the header only (see :func:`probe_header`)."""
    header = probe_header(path, max_pixels)
    return header.width, header.height


# ---------------------------------------------------------------------------------------- saving


def format_for_path(path: PathLike) -> str:
    """The Pillow format name implied by the file extension, e.g. 'photo.JPG' -> 'JPEG'."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        return SUPPORTED_EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join(SUPPORTED_EXTENSIONS)
        what = f"the file type {suffix!r}" if suffix else "a file without an extension"
        raise ImageSaveError(
            f"Cannot save {_display_name(path)}: SemEdit cannot write {what} (use {known})", path
        ) from None


def _save_format(format: str | None, path: Path) -> str:
    if format is None:
        return format_for_path(path)
    fmt = _FORMAT_ALIASES.get(format.upper(), format.upper())
    if fmt not in _FORMAT_LABELS:
        raise ImageSaveError(
            f"Cannot save {_display_name(path)}: SemEdit cannot write the format {format!r}", path
        )
    return fmt


def _checked_pixels(pixels: np.ndarray, name: str, path: Path) -> np.ndarray:
    """(H, W) or (H, W, C) uint8/uint16 -> (H, W, C); anything else is a save error."""
    array = np.asarray(pixels)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if (
        array.ndim != 3
        or array.shape[2] not in (1, 3, 4)
        or array.dtype not in (np.uint8, np.uint16)
        or array.shape[0] == 0
        or array.shape[1] == 0
    ):
        raise ImageSaveError(
            f"Cannot save {name}: pixels must be (H, W, 1|3|4) uint8 or uint16, "
            f"not {array.shape} {array.dtype}",
            path,
        )
    return array


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 by rounding v / 257, so 8-bit data stored as v * 257 comes back exactly."""
    if values.dtype == np.uint8:
        return values
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _flatten_on_white(rgba: np.ndarray) -> np.ndarray:
    """8-bit RGBA -> RGB composited over white, for formats without (reliable) alpha."""
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = rgba[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def _add_png_metadata(png: bytes, icc_profile: bytes | None, exif: bytes | None) -> bytes:
    """Insert iCCP / eXIf chunks right after IHDR of a PNG written by OpenCV (which cannot)."""
    if not icc_profile and not exif:
        return png
    if not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("unexpected PNG layout from the encoder")
    ihdr_end = 8 + 12 + struct.unpack(">I", png[8:12])[0]
    extra = b""
    if icc_profile:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile))
    if exif:
        body = exif[len(_EXIF_HEADER) :] if exif.startswith(_EXIF_HEADER) else exif
        extra += _png_chunk(b"eXIf", body)
    return png[:ihdr_end] + extra + png[ihdr_end:]


def _encode_16bit_colour(
    values: np.ndarray,
    fmt: str,
    options: SaveOptions,
    icc_profile: bytes | None,
    exif: bytes | None,
) -> bytes:
    """16-bit RGB/RGBA through OpenCV, which Pillow cannot write.

    PNG gets the ICC profile and EXIF as chunks added afterwards; TIFF is written without them
    (OpenCV's TIFF writer has no way to embed either). OpenCV's own errors become ValueError.
    """
    import cv2

    code = cv2.COLOR_RGB2BGR if values.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
    if fmt == "PNG":
        ext, params = ".png", [cv2.IMWRITE_PNG_COMPRESSION, options.png_compression]
    else:
        compression = _TIFF_COMPRESSIONS[options.tiff_compression]
        ext, params = ".tiff", [cv2.IMWRITE_TIFF_COMPRESSION, compression]
    try:
        bgr = cv2.cvtColor(np.ascontiguousarray(values), code)
        ok, encoded = cv2.imencode(ext, bgr, params)
    except cv2.error as exc:
        raise ValueError(str(exc).strip() or "OpenCV failed") from exc
    if not ok:
        raise ValueError(f"OpenCV could not encode 16-bit {fmt}")
    data = encoded.tobytes()
    if fmt == "PNG":
        data = _add_png_metadata(data, icc_profile, exif)
    return data


def _encode(
    values: np.ndarray,
    fmt: str,
    options: SaveOptions,
    icc_profile: bytes | None,
    exif: bytes | None,
) -> bytes:
    """Encode (H, W, C) pixels into the bytes of a ``fmt`` file, converting as the format needs."""
    if fmt in ("JPEG", "BMP", "WEBP"):
        values = _to_uint8(values)
    # JPEG has no alpha; Pillow writes RGBA BMP as 32-bit BI_RGB, whose 4th byte readers
    # (Pillow included) ignore, so the colour under transparent pixels would show: flatten.
    if fmt in ("JPEG", "BMP") and values.shape[2] == 4:
        values = _flatten_on_white(values)
    if fmt == "WEBP" and values.shape[2] == 1:  # WebP has no gray mode
        values = np.repeat(values, 3, axis=2)
    if fmt == "BMP":  # no ICC / EXIF in Pillow's BMP writer
        icc_profile = exif = None

    if values.dtype == np.uint16 and values.shape[2] in (3, 4):
        return _encode_16bit_colour(values, fmt, options, icc_profile, exif)

    image = Image.fromarray(
        np.ascontiguousarray(values[:, :, 0] if values.shape[2] == 1 else values)
    )
    params: dict[str, object] = {}
    if fmt == "JPEG":
        params.update(
            quality=options.jpeg_quality,
            subsampling=0 if options.jpeg_quality >= 90 else 2,
        )
    elif fmt == "PNG":
        params.update(compress_level=options.png_compression)
    elif fmt == "WEBP":
        params.update(quality=options.webp_quality, lossless=options.webp_lossless)
        if options.webp_lossless:
            params.update(exact=True)  # keep RGB under transparent pixels: truly lossless
    elif fmt == "TIFF":
        compression = options.tiff_compression
        params.update(compression=None if compression == "none" else compression)
    if icc_profile:
        params["icc_profile"] = icc_profile
    if exif:
        params["exif"] = exif
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    if fmt == "JPEG" and buffer.tell() < _jpeg_optimize_room(image, options.jpeg_quality):
        # Optimised Huffman tables: a few % smaller, never larger than the plain encoding.
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, optimize=True, **params)
    return buffer.getvalue()


def _jpeg_optimize_room(image: Image.Image, quality: int) -> int:
    """The largest JPEG Pillow can write with `optimize=True`: it encodes into one buffer of
    w*h bytes (2*w*h from quality 95) and fails ("Suspension not allowed here") on a bigger
    result, as a noisy photo at 4:4:4 gives. Past this, the plain encoding is kept."""
    pixels = image.size[0] * image.size[1]
    return int(0.9 * (2 if quality >= 95 else 1) * pixels)


def save_image(
    path: PathLike,
    pixels: np.ndarray,
    *,
    format: str | None = None,
    options: SaveOptions = SaveOptions(),  # frozen: one shared default is safe
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
) -> None:
    """Write pixels to ``path`` atomically, as ``format`` (default: from the extension).

    ``pixels`` is (H, W, C) or (H, W), uint8 or uint16. JPEG, BMP and WebP are 8-bit (16-bit data
    is rounded down); JPEG and BMP lose alpha (composited over white); WebP stores gray as RGB.
    PNG and TIFF keep 16 bits. ICC and EXIF are embedded for JPEG, PNG, WebP and TIFF, except
    16-bit RGB/RGBA TIFF (written by OpenCV, which cannot embed them). The file is encoded in
    memory first, so any failure leaves an existing file untouched. No overwrite confirmation:
    that is the UI's job. Raises :class:`ImageSaveError`.
    """
    path = Path(path)
    name = _display_name(path)
    fmt = _save_format(format, path)
    values = _checked_pixels(pixels, name, path)
    try:
        data = _encode(values, fmt, options, icc_profile or None, _normalise_exif(exif))
    except MemoryError as exc:
        raise ImageSaveError(f"Cannot save {name}: not enough memory to encode it", path) from exc
    except (OSError, ValueError, TypeError, KeyError, zlib.error) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageSaveError(f"Cannot save {name}: {fmt} encoding failed ({detail})", path) from exc
    atomic_write_bytes(path, data)


def _write_error(path: Path, exc: OSError) -> ImageSaveError:
    name = _display_name(path)
    folder = path.parent
    reasons = {
        errno.ENOENT: f"the folder {folder} does not exist",
        errno.ENOTDIR: f"the folder {folder} does not exist",
        errno.EACCES: f"no permission to write in {folder}",
        errno.EPERM: f"no permission to write in {folder}",
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "the disk is read-only",
        errno.EISDIR: "a folder with that name exists",
    }
    if exc.errno == errno.ENOENT and folder.is_dir():  # e.g. /proc: there, but not for files
        reasons[errno.ENOENT] = f"files cannot be created in {folder}"
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return ImageSaveError(f"Cannot save {name}: {reason}", path)


def check_writable(path: PathLike) -> None:
    """Raise the :class:`ImageSaveError` that :func:`save_image` would raise for ``path``'s
    extension or folder (missing, not a folder, not writable), before any work is done."""
    path = Path(path)
    format_for_path(path)
    folder = path.parent
    if path.is_dir():
        raise _write_error(path, OSError(errno.EISDIR, "is a folder"))
    if not folder.is_dir():
        raise _write_error(path, OSError(errno.ENOENT, "no such folder"))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _write_error(path, OSError(errno.EACCES, "permission denied"))
    # Permission bits do not tell everything (a read-only mount, /proc, root's own rights):
    # create and drop an empty file the way the save will.
    probe = folder / f".{path.name}.{secrets.token_hex(4)}.probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise _write_error(path, exc) from exc
    probe.unlink(missing_ok=True)


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


TEMP_MARK = ".semedit-"  # our temp files: ".NAME.semedit-TOKEN.tmp" beside NAME
_TEMP_PATTERN = re.compile(r"^\..+\.semedit-[0-9a-f]{8}\.tmp$")
_pending_temps: set[Path] = set()  # temp files being written now, by any thread
_pending_lock = threading.Lock()


def _temp_path(path: Path) -> Path:
    return path.parent / f".{path.name}{TEMP_MARK}{secrets.token_hex(4)}.tmp"


def remove_stale_temp_files(folder: PathLike) -> list[Path]:
    """Delete the temp files our saves left in `folder` when killed mid-write; returns them.

    A save holds an OS lock on its temp file while writing (see :mod:`editor.core.file_lock`), so
    a temp file whose lock can be taken has no writer any more; one being written is left alone,
    whichever process writes it."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        names = [entry.name for entry in os.scandir(folder) if _TEMP_PATTERN.match(entry.name)]
    except OSError:
        return removed
    for name in names:
        temp = folder / name
        try:
            fd = os.open(temp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if not lock_fd(fd) or not same_file(fd, temp):
                continue
            if os.name != "nt":
                temp.unlink()
                removed.append(temp)
        except OSError:
            continue
        finally:
            os.close(fd)
        if os.name == "nt":  # pragma: no cover - an open file cannot be deleted there
            with contextlib.suppress(OSError):
                temp.unlink()
                removed.append(temp)
    return removed


def _remove_pending_and_die(signum: int, frame) -> None:
    """SIGTERM during a save: delete the half-written temp files, then end as SIGTERM would."""
    with _pending_lock:
        pending = list(_pending_temps)
    for temp in pending:
        with contextlib.suppress(OSError):
            temp.unlink()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def _removed_on_termination(temp: Path) -> Iterator[None]:
    """While `temp` is being written, a SIGTERM removes it before the process ends.

    Ctrl+C (SIGINT) raises KeyboardInterrupt, which the caller's cleanup already handles. The
    handler is only installed for the length of a save on the main thread (Python runs signal
    handlers there), and only over the default action, so an idle Qt event loop stays killable
    and an application's own SIGTERM handler is respected."""
    with _pending_lock:
        _pending_temps.add(temp)
    installed = False
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _remove_pending_and_die)
                installed = True
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with _pending_lock:
            _pending_temps.discard(temp)


def _create_locked_temp(path: Path) -> tuple[Path, int]:
    """A new temp file beside `path`, created exclusively and locked as ours."""
    while True:
        temp = _temp_path(path)
        try:
            # O_EXCL: never clobber; mode 0o666 lets the umask decide, unlike mkstemp's 0o600.
            fd = os.open(
                temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            )
        except FileExistsError:
            continue
        except OSError as exc:
            raise _write_error(path, exc) from exc
        # Another process's sweep may have taken it for stale between the create and the lock.
        if lock_fd(fd) and same_file(fd, temp):
            return temp, fd
        os.close(fd)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see either the old file or the whole new one.

    Writes a temp file in the same folder (same filesystem, so the rename is atomic), fsyncs it,
    keeps the old file's permission bits, then ``os.replace``s it over the target. A symlink is
    followed, so the link survives and its target is updated. The temp file, named
    ``.NAME.semedit-TOKEN.tmp``, is removed on any failure, on Ctrl+C and on SIGTERM; it is
    locked while written, so one a killed process left behind is recognised and removed by the
    next save into that folder (:func:`remove_stale_temp_files`). Raises :class:`ImageSaveError`.
    """
    path = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    folder = path.parent
    remove_stale_temp_files(folder)
    temp, fd = _create_locked_temp(path)
    try:
        with _removed_on_termination(temp), os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if path.is_file():
                with contextlib.suppress(OSError):
                    shutil.copymode(path, temp)
            if os.name == "nt":  # pragma: no cover - an open file cannot be renamed there
                handle.close()
            # Renamed while still open (and locked) on POSIX: no sweep can take it meanwhile.
            os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, OSError):
            raise _write_error(path, exc) from exc
        raise
    _fsync_directory(folder)


# ----------------------------------------------------------------------------------------- masks


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """8-bit RGB -> 8-bit luma with Pillow's ITU-R 601-2 weights (what convert('L') gives)."""
    weighted = rgb.astype(np.uint32) @ np.array([299, 587, 114], dtype=np.uint32)
    return ((weighted + 500) // 1000).astype(np.uint8)


def _mask_from_pixels(values: np.ndarray) -> np.ndarray:
    """(H, W, C) pixels -> (H, W) uint8 mask.

    Gray is used as is, RGB by luminance. With real transparency (some alpha < 255): if every
    visible pixel has the same colour the image is an alpha-only mask (ink on transparent) and
    alpha is the mask; otherwise luminance composited over black, so transparent = unmasked.
    """
    values = _to_uint8(values)
    if values.shape[2] == 1:
        return np.ascontiguousarray(values[:, :, 0])
    luma = _luminance(values[:, :, :3])
    if values.shape[2] == 3:
        return luma
    alpha = values[:, :, 3]
    if (alpha == 255).all():
        return luma
    visible = luma[alpha > 0]
    if visible.size == 0 or visible.min() == visible.max():
        return alpha.copy()
    composite = (luma.astype(np.uint32) * alpha + 127) // 255
    return composite.astype(np.uint8)


def load_mask(path: PathLike, shape: tuple[int, int], max_pixels: int | None = None) -> np.ndarray:
    """Read a mask for an image of ``shape`` (H, W): (H, W) uint8, 0 = unmasked, 255 = masked.

    Any image file works (see :func:`_mask_from_pixels` for how colour and alpha are read).
    Raises :class:`MaskSizeError` if its size differs, else :class:`ImageLoadError`.
    """
    loaded = load_image(path, max_pixels=max_pixels)
    height, width = loaded.pixels.shape[:2]
    want_height, want_width = shape[:2]
    if (height, width) != (want_height, want_width):
        raise MaskSizeError(
            f"{_display_name(Path(path))} is {width}×{height} but the image is "
            f"{want_width}×{want_height}",
            path,
        )
    return _mask_from_pixels(loaded.pixels)


def save_mask(path: PathLike, mask: np.ndarray) -> None:
    """Write a (H, W) uint8 (or bool) mask as an 8-bit gray PNG, atomically, whatever the suffix."""
    values = np.asarray(mask)
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    if values.dtype == np.bool_:
        values = values.astype(np.uint8) * 255
    if values.ndim != 2 or values.dtype != np.uint8:
        raise ImageSaveError(
            f"Cannot save {_display_name(Path(path))}: a mask must be (H, W) uint8 or bool, "
            f"not {values.shape} {values.dtype}",
            path,
        )
    save_image(path, values, format="PNG")
