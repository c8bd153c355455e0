"""The WCT networks (model `wct16x`): five compressed VGG19 encoders and decoders, from the store.

`load_wct_models(store, device)` finds the ten files through the model store (verified: size and
sha256 from the registry), builds `editor.ops.wct.CompressedEncoder` / `CompressedDecoder` from
them (strict loading) and keeps the result per (folder, device), so the brush preview and
successive runs do not reload ~10 MB of weights. `WCTModels.deep_features()` is the VGG19-like
deep feature extractor (relu1_1 .. relu5_1 from the encoders' aux heads) for perceptual losses.

Missing files raise ModelMissing naming the files, their download URLs and where to put them;
files that do not fit the layout raise ModelError.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from editor.engine.models.base import ModelFamily
from editor.engine.store import ModelError, ModelMissing, ModelStore, load_state_dict
from editor.ops.wct import LEVELS, CompressedDecoder, CompressedEncoder, DeepFeatures

MODEL_ID = "wct16x"


def encoder_file(level: int) -> str:
    return f"wct16x/encoder{level}.pth"


def decoder_file(level: int) -> str:
    return f"wct16x/decoder{level}.pth"


@dataclass
class WCTModels:
    """Encoders and decoders by level (1..5), frozen, in eval mode, on `device`.

    Pass `encoders` / `decoders` to `editor.ops.wct.stylise_wct`, `prepare_style`, ...
    """

    encoders: Mapping[int, CompressedEncoder]
    decoders: Mapping[int, CompressedDecoder]
    device: torch.device
    folder: Path
    _deep: DeepFeatures | None = field(default=None, repr=False)

    def deep_features(self, sources: Mapping[str, int] | None = None) -> DeepFeatures:
        """VGG19-like relu{j}_1 features from the aux heads: ``deep(rgb01, layers) -> {layer: t}``.

        Default: every layer (relu1_1 .. relu5_1) from encoder 5, one forward pass; `sources`
        maps layers to other encoder levels (e.g. {"relu4_1": 4}). See `DeepFeatures`.
        """
        if sources is not None:
            return DeepFeatures(self.encoders, sources)
        if self._deep is None:
            self._deep = DeepFeatures(self.encoders)
        return self._deep


_cache: dict[tuple[str, str], WCTModels] = {}
_cache_lock = threading.Lock()


def _paths(store: ModelStore, path: Path | None) -> dict[str, Path]:
    """{registry name: verified path} of all ten files, or ModelMissing with what to do."""
    names = [encoder_file(k) for k in LEVELS] + [decoder_file(k) for k in LEVELS]
    try:
        return {name: store.file_path(MODEL_ID, name, path=path) for name in names}
    except ModelMissing as exc:
        raise ModelMissing(f"universal style transfer (WCT) needs its networks: {exc}") from exc


def load_wct_models(
    store: ModelStore, device: str | torch.device = "cpu", *, path: Path | None = None
) -> WCTModels:
    """The five encoders and decoders of model `wct16x` on `device`, cached per folder and device.

    path: an explicit folder holding the files (else the store's search order). Raises
    ModelMissing (what to download and where to put it) or ModelError (a file that is not the
    expected network).
    """
    device = torch.device(device)
    paths = _paths(store, path)
    folder = store.locate(MODEL_ID, path) or paths[encoder_file(1)].parent.parent
    key = (str(folder.resolve()), str(device))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    encoders: dict[int, CompressedEncoder] = {}
    decoders: dict[int, CompressedDecoder] = {}
    for k in LEVELS:
        for name, build, into in (
            (encoder_file(k), CompressedEncoder, encoders),
            (decoder_file(k), CompressedDecoder, decoders),
        ):
            try:
                net = build(load_state_dict(paths[name]))
            except ValueError as exc:
                raise ModelError(f"{paths[name]}: not the expected WCT network ({exc})") from exc
            if net.level != k:
                raise ModelError(f"{paths[name]}: holds a level-{net.level} network, not {k}")
            into[k] = net.to(device)
    models = WCTModels(encoders=encoders, decoders=decoders, device=device, folder=folder)
    with _cache_lock:
        return _cache.setdefault(key, models)


def load_deep_features(store: ModelStore, device: str | torch.device = "cpu") -> DeepFeatures:
    """The aux-head deep features (relu1_1 .. relu5_1, VGG19-normalised scale) on `device`."""
    return load_wct_models(store, device).deep_features()


class WCTNetworks(ModelFamily):
    """The compressed WCT encoders and decoders (`wct16x`, Wang et al. 2020): the one-pass
    style and, through their aux heads, approximate deep VGG layers."""

    id = MODEL_ID
    title = "WCT encoders/decoders"

    def available(self, **_: object) -> bool:
        return self.store.locate(MODEL_ID) is not None

    def load(self, *, path: Path | None = None) -> WCTModels:
        return load_wct_models(self.store, self.device, path=path)


def clear_cache() -> None:
    """Forget loaded networks (tests; freeing GPU memory)."""
    with _cache_lock:
        _cache.clear()


__all__ = [
    "MODEL_ID",
    "WCTModels",
    "clear_cache",
    "load_deep_features",
    "load_wct_models",
]
