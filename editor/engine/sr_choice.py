"""Which super-resolution model serves a scale, and loading it once per (model, scale, device).

Candidates for a scale, best first:

1. the registry's SR models (kind ``"sr"``) whose files the store finds and verifies, ranked by
   their measured Set14 Y-PSNR for that scale (``input.psnr_y[scale].set14`` in the registry;
   on Set5/Set14 x4: RFDN 28.66 > CARN-M 28.43),
2. our own network shipped in the package, ``editor/resources/models/upscaler_x{S}.safetensors``
   (id ``SHIPPED_ID``), always last among the present ones but always there when its file is,
   so the editor upscales with no models folder at all.

`choose_upscaler` picks the first (or the one the user named); `load_upscaler` builds it as an
eval-mode `editor.ops.sr_models.SRUpscaler` on a device (RGB 0..1 NCHW LR -> RGB 0..1 HR) and
keeps it in a small cache, so repeated previews do not reload weights.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from editor.engine.store import ModelError, ModelInfo, ModelStore, load_state_dict

if TYPE_CHECKING:
    from torch import nn

SHIPPED_ID = "semedit-sr"
"""Model id of the network trained here and shipped in the package (one file per scale)."""

SHIPPED_TITLE = "SemEdit SR"
SHIPPED_LICENCE = "MIT (SemEdit, trained on this project's data; see training/README.md)"
SHIPPED_SCALES = (2, 3, 4)

_KINDS = {"carn-m": "carn-m", "rfdn": "rfdn"}
"""Registry ``input.family`` -> `SRModelChoice.kind` (our own net is "residual")."""

_CACHE_SIZE = 4


@dataclass(frozen=True)
class SRModelChoice:
    """One model able to upscale by `scale`, with a verified weights file at `path`.

    id: the registry id (or SHIPPED_ID); title: a short display name ("CARN-M", "RFDN",
    "SemEdit SR"); kind: "residual" | "carn-m" | "rfdn" (the `build_from_state_dict` family);
    licence: the weights' licence as the registry states it.
    """

    id: str
    title: str
    kind: str
    scale: int
    path: Path
    licence: str

    @property
    def licence_short(self) -> str:
        """The licence's name alone ("MIT"), for one-line messages."""
        return self.licence.split()[0] if self.licence else "licence unknown"

    @property
    def label(self) -> str:
        """ "CARN-M ×2 (MIT)": what the UI and the CLI say they used."""
        return f"{self.title} ×{self.scale} ({self.licence_short})"


def _sr_entries(store: ModelStore) -> list[ModelInfo]:
    return [
        info
        for info in store.registry.values()
        if info.kind == "sr" and info.input.get("family") in _KINDS
    ]


def _scales(info: ModelInfo) -> tuple[int, ...]:
    return tuple(int(s) for s in info.input.get("scales", ()))


def _quality(info: ModelInfo, scale: int) -> float:
    """Measured Set14 Y-PSNR at `scale` (then Set5); -inf when the registry has none."""
    measured: dict[str, Any] = info.input.get("psnr_y", {}).get(str(scale), {})
    for key in ("set14", "set5"):
        if key in measured:
            return float(measured[key])
    return float("-inf")


def shipped_path(scale: int) -> Path | None:
    """The packaged ``upscaler_x{scale}.safetensors`` if it exists as a real file, else None."""
    res = resources.files("editor").joinpath(f"resources/models/upscaler_x{scale}.safetensors")
    if not res.is_file():
        return None
    path = Path(str(res))
    return path if path.is_file() else None  # a zipped install is not supported


def _shipped_choice(scale: int) -> SRModelChoice | None:
    path = shipped_path(scale)
    if path is None:
        return None
    return SRModelChoice(SHIPPED_ID, SHIPPED_TITLE, "residual", scale, path, SHIPPED_LICENCE)


def _registry_choice(store: ModelStore, info: ModelInfo, scale: int) -> SRModelChoice | None:
    if scale not in _scales(info) or store.locate(info.id) is None:
        return None
    return SRModelChoice(
        id=info.id,
        title=info.title.split()[0],
        kind=_KINDS[info.input["family"]],
        scale=scale,
        path=store.file_path(info.id),
        licence=info.licence,
    )


def supporting_ids(store: ModelStore, scale: int) -> list[str]:
    """Every SR model id that could serve `scale`, installed or not (for error messages)."""
    ids = [info.id for info in _sr_entries(store) if scale in _scales(info)]
    if scale in SHIPPED_SCALES:
        ids.append(SHIPPED_ID)
    return ids


def available_upscalers(store: ModelStore, scale: int) -> list[SRModelChoice]:
    """The models present for `scale`, best first (measured quality), ours last."""
    ranked = sorted(
        (info for info in _sr_entries(store) if scale in _scales(info)),
        key=lambda info: -_quality(info, scale),
    )
    choices = [c for info in ranked if (c := _registry_choice(store, info, scale)) is not None]
    shipped = _shipped_choice(scale)
    if shipped is not None:
        choices.append(shipped)
    return choices


def choose_upscaler(store: ModelStore, scale: int, model_id: str | None = None) -> SRModelChoice:
    """The model to use for `scale`: the best available one, or `model_id` if given.

    Raises ValueError for an id that cannot do `scale` (naming the ids that can), ModelMissing
    (with where to put the file) for a supporting id that is not installed, and ModelError when
    no model at all is available for `scale`.
    """
    if model_id is None:
        found = available_upscalers(store, scale)
        if not found:
            ids = ", ".join(supporting_ids(store, scale)) or "none"
            raise ModelError(
                f"no upscaling model is available for ×{scale} (models that can: {ids}); "
                "point --models / SEMEDIT_MODELS at a folder that has one"
            )
        return found[0]
    valid = supporting_ids(store, scale)
    if model_id not in valid:
        known = model_id == SHIPPED_ID or any(i.id == model_id for i in _sr_entries(store))
        what = f"cannot upscale ×{scale}" if known else "is not an upscaling model"
        raise ValueError(f"'{model_id}' {what}; models for ×{scale}: {', '.join(valid)}")
    if model_id == SHIPPED_ID:
        shipped = _shipped_choice(scale)
        if shipped is None:
            raise ModelError(
                f"the built-in ×{scale} model is not installed "
                f"(editor/resources/models/upscaler_x{scale}.safetensors is missing)"
            )
        return shipped
    info = store.info(model_id)
    store.file_path(model_id)  # raises ModelMissing with the offline instructions
    choice = _registry_choice(store, info, scale)
    assert choice is not None  # located just above
    return choice


_cache: dict[tuple[str, int, str, Path], nn.Module] = {}
_cache_lock = threading.Lock()


def load_upscaler(choice: SRModelChoice, device: str) -> nn.Module:
    """An eval-mode `SRUpscaler` for `choice` on `device`: ``model(lr01) -> hr01``.

    Input float (N, 3, h, w) RGB 0..1 on `device`; output (N, 3, h*s, w*s), not clipped. The
    module also exposes ``scale``, ``overlap`` (LR context pixels per tile side) and ``min_size``.
    Loaded models are cached per (id, scale, device, file), at most a few at a time.
    Raises ModelError when the file cannot be read or does not fit the architecture.
    """
    key = (choice.id, choice.scale, device, choice.path)
    with _cache_lock:
        model = _cache.get(key)
        if model is not None:
            return model
    from editor.ops.sr_models import build_from_state_dict

    state_dict = load_state_dict(choice.path)
    try:
        model = build_from_state_dict(choice.kind, state_dict, choice.scale)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ModelError(f"{choice.path.name}: {exc}") from exc
    model = model.to(device).eval()
    with _cache_lock:
        while len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = model
    return model


def clear_cache() -> None:
    """Forget loaded models (tests; freeing GPU memory)."""
    with _cache_lock:
        _cache.clear()


__all__ = [
    "SHIPPED_ID",
    "SRModelChoice",
    "available_upscalers",
    "choose_upscaler",
    "clear_cache",
    "load_upscaler",
    "shipped_path",
    "supporting_ids",
]
