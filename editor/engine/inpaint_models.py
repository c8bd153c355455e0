"""The removal's content network from the model store (`big-lama`), for connected users.

Offline, nothing is installed and the refined removal keeps its classical content stage (the
mean of PatchMatch completions). The file is TorchScript: it is loaded only after the store has
checked its sha256 against the registry, and only with ``torch.jit.load`` (no pickle)."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from editor.engine.store import ModelError, ModelStore

if TYPE_CHECKING:
    import torch

CONTENT_NETWORK_ID = "big-lama"

_cache: dict[tuple[Path, str], torch.jit.ScriptModule] = {}
_lock = threading.Lock()


def content_network_installed(store: ModelStore) -> bool:
    """Whether a verified copy of the content network is in one of the store's folders."""
    return store.locate(CONTENT_NETWORK_ID) is not None


def load_content_network(store: ModelStore, device: str) -> torch.jit.ScriptModule:
    """The content network in eval mode on `device`, loaded once per file and device.

    Raises ModelMissing (what to fetch, where to put it) when it is not installed,
    ChecksumMismatch for a file that is not the registry's, and ModelError for one that
    torch.jit cannot load."""
    import torch

    path = store.file_path(CONTENT_NETWORK_ID)  # sha256 first: nothing unverified is loaded
    key = (path, str(device))
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        with warnings.catch_warnings():  # TorchScript is what LaMa ships as; torch 2.13 frowns
            warnings.simplefilter("ignore", DeprecationWarning)
            net = torch.jit.load(str(path), map_location=device).eval()
    except (RuntimeError, ValueError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"{path.name} is not a TorchScript inpainting network: {detail}") from exc
    with _lock:
        _cache[key] = net
    return net


def installed_content_network(
    models_dir: Path | None, device: str
) -> torch.jit.ScriptModule | None:
    """The content network when it is installed, else None (the offline content stage)."""
    store = ModelStore(models_dir=models_dir)
    if not content_network_installed(store):
        return None
    return load_content_network(store, device)


__all__ = [
    "CONTENT_NETWORK_ID",
    "content_network_installed",
    "installed_content_network",
    "load_content_network",
]
