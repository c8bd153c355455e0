"""The removal's content network from the model store (`big-lama`), for connected users.

`ContentStages` is the content stage's model family: the network when it is installed, else
the classical stage (the mean of PatchMatch completions), which needs no weights. The file is
TorchScript: it is loaded only after the store has checked its sha256 against the registry,
and only with ``torch.jit.load`` (no pickle)."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from editor.engine.models.base import ModelFamily
from editor.engine.store import ModelError, ModelStore

if TYPE_CHECKING:
    import torch

    from editor.ops.inpaint.content import ContentStage

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


class ContentStages(ModelFamily):
    """Object removal's content stage: the content network when installed, else the mean of
    PatchMatch completions (`editor.ops.inpaint.content`), which needs no weights."""

    id = "content"
    title = "Removal content stage"

    def available(self, **_: object) -> bool:
        return True  # the offline stage always is

    def load(self) -> ContentStage:
        from editor.ops.inpaint.content import NetworkContent, PatchMatchMean

        if not content_network_installed(self.store):
            return PatchMatchMean()
        return NetworkContent(load_content_network(self.store, self.device), self.device)


__all__ = [
    "CONTENT_NETWORK_ID",
    "ContentStages",
    "content_network_installed",
    "load_content_network",
]
