"""The fast styles the user can pick: shipped feed-forward style networks and their own.

A fast style is one `editor.ops.transform_net.TransformNet` (Johnson et al. 2016) in a
safetensors file whose metadata says how to rebuild it. Two places hold them:

    editor/resources/models/styles/<name>.safetensors     shipped with the package
    <user data>/styles/fast/<name>.safetensors            trained by the user (Train Fast Style…)

`list_fast_styles()` lists both (shipped first, each group sorted by name; a user style with a
shipped style's name takes its place: the user trained it on purpose). `load_fast_style(name or
path, device)` gives the network, cached per (file, its size and mtime, device) so the brush
preview does not re-read weights on every stroke and a retrained file is picked up.

Only safetensors are read, never pickle: a style file may come from anyone.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import platformdirs
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from editor.engine.models.base import ModelFamily
from editor.ops.transform_net import ARCHITECTURE, TransformNet, load_transform_net

SUFFIX = ".safetensors"
CHECKPOINT_SUFFIX = ".ckpt.safetensors"


class FastStyleError(ValueError):
    """A fast style that cannot be used; str is one line fit for the user."""


@dataclass(frozen=True)
class FastStyle:
    """One fast style: `name` (the file's stem), its file, a one-line description, whether it
    ships with SemEdit, and the painting it was trained on (a file name, "" if unknown)."""

    name: str
    path: Path
    description: str
    shipped: bool
    style_image: str = ""


def shipped_dir() -> Path | None:
    """The package's folder of shipped styles (None when not installed as plain files)."""
    res = resources.files("editor").joinpath("resources/models/styles")
    path = Path(str(res))
    return path if path.is_dir() else None


def user_dir() -> Path:
    """Where the user's trained fast styles live (created on demand by whoever writes there)."""
    return Path(platformdirs.user_data_dir("semedit")) / "styles" / "fast"


def _is_style_file(path: Path) -> bool:
    return (
        path.is_file()
        and path.name.endswith(SUFFIX)
        and not path.name.endswith(CHECKPOINT_SUFFIX)
        and not path.name.startswith(".")
    )


def read_metadata(path: str | Path) -> dict[str, str]:
    """The safetensors metadata of a style file; FastStyleError if it is not a safetensors file."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise FastStyleError(f"{path.name} is not a fast style network ({exc})") from exc


def describe(name: str, meta: dict[str, str]) -> str:
    """One line for tooltips and `--list`: the stored description, else what training left."""
    if meta.get("description"):
        return " ".join(meta["description"].split())
    parts = []
    if meta.get("style_image"):
        parts.append(f"trained on {meta['style_image']}")
    if meta.get("steps"):
        parts.append(f"{meta['steps']} steps")
    try:
        config = json.loads(meta.get("config", "{}"))
        channels = config.get("channels")
        if channels:
            parts.append(f"{'/'.join(str(c) for c in channels)} channels")
    except ValueError:
        pass
    return f"{name}: " + ", ".join(parts) if parts else name


def _entry(path: Path, shipped: bool) -> FastStyle | None:
    try:
        meta = read_metadata(path)
    except FastStyleError:
        return None
    if meta.get("architecture", ARCHITECTURE) != ARCHITECTURE:
        return None
    name = path.name[: -len(SUFFIX)]
    return FastStyle(name, path, describe(name, meta), shipped, meta.get("style_image", ""))


def list_fast_styles(
    user_folder: str | Path | None = None, shipped_folder: str | Path | None = None
) -> list[FastStyle]:
    """Shipped styles, then the user's (each sorted by name); files that are not style networks
    are skipped. Folders default to `shipped_dir()` and `user_dir()`."""
    found: dict[str, FastStyle] = {}
    shipped = Path(shipped_folder) if shipped_folder is not None else shipped_dir()
    user = Path(user_folder) if user_folder is not None else user_dir()
    for folder, is_shipped in ((shipped, True), (user, False)):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if _is_style_file(p)):
            entry = _entry(path, is_shipped)
            if entry is not None:
                found.pop(entry.name, None)  # a user style replaces a shipped one of its name
                found[entry.name] = entry
    shipped_first = sorted(found.values(), key=lambda s: (not s.shipped, s.name.lower()))
    return shipped_first


def resolve(name_or_path: str | Path, user_folder: str | Path | None = None) -> Path:
    """The file of a fast style given by name (see `list_fast_styles`) or as a path.

    FastStyleError for an unknown name (listing the valid ones) or a file that is not there or
    not a safetensors file.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = path.suffix != "" or os.sep in text or (os.altsep or os.sep) in text
    if looks_like_path:
        if path.suffix.lower() != SUFFIX:
            raise FastStyleError(
                f"{path.name}: fast styles are .safetensors files (other formats are not loaded)"
            )
        if not path.is_file():
            raise FastStyleError(f"no fast style file {path}")
        return path
    styles = list_fast_styles(user_folder)
    for style in styles:
        if style.name == text:
            return style.path
    for style in styles:  # forgiving about case and spaces: "Starry Night" finds starry_night
        if style.name.lower() == text.lower().replace(" ", "_"):
            return style.path
    valid = ", ".join(s.name for s in styles) or "none installed"
    raise FastStyleError(f"no fast style named {text!r}; available: {valid}")


_cache: dict[tuple[str, int, int, str], TransformNet] = {}
_cache_lock = threading.Lock()


def load_fast_style(
    name_or_path: str | Path,
    device: str | torch.device = "cpu",
    *,
    user_folder: str | Path | None = None,
) -> TransformNet:
    """The network of a fast style (eval mode, frozen, float32, on `device`), cached.

    FastStyleError for an unknown name, a missing file, or a file that is not a style network.
    """
    path = resolve(name_or_path, user_folder)
    device = torch.device(device)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, str(device))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    meta = read_metadata(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise FastStyleError(f"{path.name} is not a fast style network ({exc})") from exc
    try:
        net = load_transform_net(state, meta)
    except (ValueError, KeyError, TypeError) as exc:
        raise FastStyleError(f"{path.name} is not a fast style network: {exc}") from exc
    net = net.to(device)
    with _cache_lock:
        stale = [k for k in _cache if k[0] == key[0] and k[3] == key[3]]
        for k in stale:
            del _cache[k]
        return _cache.setdefault(key, net)


class FastStyles(ModelFamily):
    """The feed-forward style networks (Johnson et al. 2016): shipped with the package or
    trained by the user; found by name in those two folders, not in the registry."""

    id = "fast-style"
    title = "Fast styles"

    def available(self, *, name: str | Path = "", user_folder: str | Path | None = None) -> bool:
        try:
            resolve(name, user_folder)
        except FastStyleError:
            return False
        return True

    def load(self, *, name: str | Path, user_folder: str | Path | None = None) -> TransformNet:
        return load_fast_style(name, self.device, user_folder=user_folder)


def check_style_file(path: str | Path) -> dict[str, str]:
    """Validate a file as a fast style without keeping it (header and shapes only); returns its
    metadata. FastStyleError with the reason otherwise."""
    path = Path(path)
    if path.suffix.lower() != SUFFIX:
        raise FastStyleError(f"{path.name}: fast styles are .safetensors files")
    meta = read_metadata(path)
    try:
        load_transform_net(load_file(str(path)), meta)
    except (ValueError, KeyError, TypeError, SafetensorError) as exc:
        raise FastStyleError(f"{path.name} is not a fast style network: {exc}") from exc
    return meta


def clear_cache() -> None:
    """Forget loaded networks (tests)."""
    with _cache_lock:
        _cache.clear()


__all__ = [
    "FastStyle",
    "FastStyleError",
    "check_style_file",
    "clear_cache",
    "list_fast_styles",
    "load_fast_style",
    "resolve",
    "shipped_dir",
    "user_dir",
]
