"""Which super-resolution model serves a scale, and loading it once per (model, scale, device).

Candidates for a scale, best first:

1. the registry's SR models (kind ``"sr"``) whose files the store finds and verifies, ranked by
   their measured Set14 Y-PSNR for that scale (``input.psnr_y[scale].set14`` in the registry;
   on Set5/Set14 x4: RFDN 28.66 > CARN-M 28.43),
2. our own network shipped in the package, ``editor/resources/models/upscaler_x{S}.safetensors``
   (id ``SHIPPED_ID``), always last among the present ones but always there when its file is,
   so the editor upscales with no models folder at all.

Two looks (``LOOKS``): "faithful" (the default) ranks the PSNR-trained networks above;
"sharp" takes a GAN-trained one (Real-ESRGAN x4plus, family ``realesrgan-ncnn``: ESRGAN's
RRDBNet read from ncnn files), which draws believable texture instead of the smooth average;
without it, our own ``semedit-gan-x4`` (``SHIPPED_GAN_ID``, a `CompactSR` distilled from
Real-ESRGAN's outputs, shipped in the package, ~30x faster). A GAN model is x4 only; it
serves x2/x3 as x4 followed by an area downscale (`editor.ops.sr_models.area_downscale`). A
GAN model is never picked for "faithful", and ``--model ID`` names any model, GAN or not.

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

from editor.engine.models.base import ModelFamily
from editor.engine.store import ModelError, ModelInfo, ModelStore, load_state_dict

if TYPE_CHECKING:
    from torch import nn

SHIPPED_ID = "semedit-sr"
"""Model id of the network trained here and shipped in the package (one file per scale)."""

SHIPPED_TITLE = "SemEdit SR"
SHIPPED_LICENCE = "MIT (SemEdit, trained on this project's data; see training/README.md)"
SHIPPED_SCALES = (2, 3, 4)

_KINDS = {"carn-m": "carn-m", "rfdn": "rfdn", "realesrgan-ncnn": "rrdbnet"}
"""Registry ``input.family`` -> `SRModelChoice.kind` (our own net is "residual")."""

GAN_FAMILIES = frozenset({"realesrgan-ncnn"})
"""Registry families trained adversarially (the "sharp" look)."""

GAN_KINDS = frozenset({"rrdbnet", "compact"})
"""`SRModelChoice.kind` values of GAN models (Real-ESRGAN's RRDBNet, our distilled CompactSR)."""

SHIPPED_GAN_ID = "semedit-gan-x4"
"""Model id of the GAN-look network distilled here (training/gan/), shipped in the package."""

SHIPPED_GAN_TITLE = "SemEdit GAN"
SHIPPED_GAN_FILE = "semedit-gan-x4.safetensors"
SHIPPED_GAN_LICENCE = (
    "MIT (SemEdit; distilled from Real-ESRGAN x4plus's outputs, BSD-3-Clause; training/gan/)"
)

SHARP_IDS = ("realesrgan-x4plus",)
"""The GAN models "sharp" picks by itself, best first (the anime one only by --model)."""

GAN_FETCH_ID = "realesrgan-x4plus"

LOOKS = ("faithful", "sharp")
"""faithful: the PSNR networks (closest on average, smooth); sharp: a GAN network."""

_CACHE_SIZE = 4


@dataclass(frozen=True)
class SRModelChoice:
    """One model able to upscale by `scale`, with a verified weights file at `path`.

    id: the registry id (or SHIPPED_ID); title: a short display name ("CARN-M", "RFDN",
    "SemEdit SR"); kind: "residual" | "carn-m" | "rfdn" (the `build_from_state_dict` family);
    licence: the weights' licence as the registry states it; param_path: an ncnn model's
    ``.param`` (then `path` is its ``.bin``), else None.
    """

    id: str
    title: str
    kind: str
    scale: int
    path: Path
    licence: str
    param_path: Path | None = None

    @property
    def gan(self) -> bool:
        """True for an adversarially trained model (the "sharp" look)."""
        return self.kind in GAN_KINDS

    @property
    def licence_short(self) -> str:
        """The licence's name alone ("MIT"), for one-line messages."""
        return self.licence.split()[0] if self.licence else "licence unknown"

    @property
    def label(self) -> str:
        """ "CARN-M ×2 (MIT)": what the UI and the CLI say they used ("Real-ESRGAN ×2 via ×4
        (BSD-3-Clause)" for a GAN model at a scale it reaches by downscaling)."""
        via = " via ×4" if self.gan and self.scale != 4 else ""
        return f"{self.title} ×{self.scale}{via} ({self.licence_short})"


def _sr_entries(store: ModelStore) -> list[ModelInfo]:
    return [
        info
        for info in store.registry.values()
        if info.kind == "sr" and info.input.get("family") in _KINDS
    ]


def _is_gan(info: ModelInfo) -> bool:
    return info.input.get("family") in GAN_FAMILIES


def _scales(info: ModelInfo) -> tuple[int, ...]:
    native = tuple(int(s) for s in info.input.get("scales", ()))
    if _is_gan(info) and 4 in native:
        return (2, 3, 4)  # x4, then an area downscale
    return native


def _quality(info: ModelInfo, scale: int) -> float:
    """Measured Set14 Y-PSNR at `scale` (then Set5); -inf when the registry has none."""
    measured: dict[str, Any] = info.input.get("psnr_y", {}).get(str(scale), {})
    for key in ("set14", "set5"):
        if key in measured:
            return float(measured[key])
    return float("-inf")


def _package_model(name: str) -> Path | None:
    res = resources.files("editor").joinpath(f"resources/models/{name}")
    if not res.is_file():
        return None
    path = Path(str(res))
    return path if path.is_file() else None  # a zipped install is not supported


def shipped_path(scale: int) -> Path | None:
    """The packaged ``upscaler_x{scale}.safetensors`` if it exists as a real file, else None."""
    return _package_model(f"upscaler_x{scale}.safetensors")


def shipped_gan_path() -> Path | None:
    """The packaged ``semedit-gan-x4.safetensors`` if it exists as a real file, else None."""
    return _package_model(SHIPPED_GAN_FILE)


def _shipped_gan_choice(scale: int) -> SRModelChoice | None:
    path = shipped_gan_path()
    if path is None or scale not in SHIPPED_SCALES:
        return None
    return SRModelChoice(
        SHIPPED_GAN_ID, SHIPPED_GAN_TITLE, "compact", scale, path, SHIPPED_GAN_LICENCE
    )


def _shipped_choice(scale: int) -> SRModelChoice | None:
    path = shipped_path(scale)
    if path is None:
        return None
    return SRModelChoice(SHIPPED_ID, SHIPPED_TITLE, "residual", scale, path, SHIPPED_LICENCE)


def _registry_choice(store: ModelStore, info: ModelInfo, scale: int) -> SRModelChoice | None:
    if scale not in _scales(info) or store.locate(info.id) is None:
        return None
    kind = _KINDS[info.input["family"]]
    if kind == "rrdbnet":
        names = [f.name for f in info.files]
        param = next(n for n in names if n.endswith(".param"))
        binary = next(n for n in names if n.endswith(".bin"))
        title = "Real-ESRGAN anime" if "anime" in info.id else "Real-ESRGAN"
        return SRModelChoice(
            id=info.id,
            title=title,
            kind=kind,
            scale=scale,
            path=store.file_path(info.id, binary),
            licence=info.licence,
            param_path=store.file_path(info.id, param),
        )
    return SRModelChoice(
        id=info.id,
        title=info.title.split()[0],
        kind=kind,
        scale=scale,
        path=store.file_path(info.id),
        licence=info.licence,
    )


def supporting_ids(store: ModelStore, scale: int) -> list[str]:
    """Every SR model id that could serve `scale`, installed or not (for error messages)."""
    ids = [info.id for info in _sr_entries(store) if scale in _scales(info)]
    if scale in SHIPPED_SCALES:
        ids += [SHIPPED_ID, SHIPPED_GAN_ID]
    return ids


def _check_look(look: str) -> None:
    if look not in LOOKS:
        raise ValueError(f"unknown upscaling look {look!r}; choose one of {', '.join(LOOKS)}")


def available_upscalers(
    store: ModelStore, scale: int, look: str = "faithful"
) -> list[SRModelChoice]:
    """The models present for `scale` with `look`, best first.

    faithful: the PSNR networks by measured quality, ours last; sharp: the GAN models of
    `SHARP_IDS` in that order, then ours (`SHIPPED_GAN_ID`).
    """
    _check_look(look)
    if look == "sharp":
        entries = {info.id: info for info in _sr_entries(store) if _is_gan(info)}
        found = [entries[i] for i in SHARP_IDS if i in entries]
        gans = [c for info in found if (c := _registry_choice(store, info, scale)) is not None]
        ours = _shipped_gan_choice(scale)
        return gans + ([ours] if ours is not None else [])
    ranked = sorted(
        (info for info in _sr_entries(store) if scale in _scales(info) and not _is_gan(info)),
        key=lambda info: -_quality(info, scale),
    )
    choices = [c for info in ranked if (c := _registry_choice(store, info, scale)) is not None]
    shipped = _shipped_choice(scale)
    if shipped is not None:
        choices.append(shipped)
    return choices


def choose_upscaler(
    store: ModelStore, scale: int, model_id: str | None = None, look: str = "faithful"
) -> SRModelChoice:
    """The model to use for `scale`: the best available one for `look`, or `model_id` if given
    (which wins over `look`).

    Raises ValueError for an id that cannot do `scale` (naming the ids that can) or an unknown
    look, ModelMissing (with where to put the file) for a supporting id that is not installed,
    and ModelError when no model is available for `scale` (for "sharp": naming
    ``semedit models fetch realesrgan-x4plus``).
    """
    _check_look(look)
    if model_id is None:
        found = available_upscalers(store, scale, look)
        if not found and look == "sharp":
            raise ModelError(
                "no GAN upscaling model (Sharp) is installed: run `semedit models fetch "
                f"{GAN_FETCH_ID}` (Real-ESRGAN, BSD-3), or point --models / SEMEDIT_MODELS at a "
                "folder that has realesrgan/realesrgan-x4plus.param and .bin"
            )
        if not found:
            ids = ", ".join(supporting_ids(store, scale)) or "none"
            raise ModelError(
                f"no upscaling model is available for ×{scale} (models that can: {ids}); "
                "point --models / SEMEDIT_MODELS at a folder that has one"
            )
        return found[0]
    valid = supporting_ids(store, scale)
    if model_id not in valid:
        known = model_id in (SHIPPED_ID, SHIPPED_GAN_ID) or any(
            i.id == model_id for i in _sr_entries(store)
        )
        what = f"cannot upscale ×{scale}" if known else "is not an upscaling model"
        raise ValueError(f"'{model_id}' {what}; models for ×{scale}: {', '.join(valid)}")
    built_in = {
        SHIPPED_ID: (_shipped_choice, f"upscaler_x{scale}.safetensors"),
        SHIPPED_GAN_ID: (_shipped_gan_choice, SHIPPED_GAN_FILE),
    }
    if model_id in built_in:
        make, file = built_in[model_id]
        ours = make(scale)
        if ours is None:
            raise ModelError(
                f"the built-in model {model_id} is not installed "
                f"(editor/resources/models/{file} is missing)"
            )
        return ours
    info = store.info(model_id)
    store.file_path(model_id, info.files[0].name)  # raises ModelMissing (offline instructions)
    choice = _registry_choice(store, info, scale)
    assert choice is not None  # located just above
    return choice


_cache: dict[tuple[str, int, str, Path], nn.Module] = {}
_cache_lock = threading.Lock()


def load_upscaler(choice: SRModelChoice, device: str) -> nn.Module:
    """An eval-mode `SRUpscaler` for `choice` on `device`: ``model(lr01) -> hr01``.

    Input float (N, 3, h, w) RGB 0..1 on `device`; output (N, 3, h*s, w*s), not clipped. The
    module also exposes ``scale``, ``overlap`` (LR context pixels per tile side) and ``min_size``.
    Loaded models are cached per (id, scale, device, file), at most a few at a time. On a CPU
    with native bfloat16 (`editor.engine.models.vgg.cpu_has_bf16`; SEMEDIT_BF16=0 turns it off)
    the GAN networks run under bf16 autocast (benchmarks/bench_upscale_gan.py).
    Raises ModelError when the file cannot be read or does not fit the architecture.
    """
    key = (choice.id, choice.scale, device, choice.path)
    with _cache_lock:
        model = _cache.get(key)
        if model is not None:
            return model
    from editor.engine.models.vgg import cpu_has_bf16  # deferred: it imports torch

    model = _build(choice).to(device).eval()
    if str(device) == "cpu" and cpu_has_bf16():
        model.use_bf16()  # the GAN networks only; a no-op for the others
    with _cache_lock:
        while len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = model
    return model


def _build(choice: SRModelChoice) -> nn.Module:
    from editor.ops.sr_models import build_from_state_dict, build_rrdbnet_from_ncnn

    if choice.kind == "rrdbnet":
        if choice.param_path is None:
            raise ModelError(f"{choice.id}: an ncnn model needs its .param file")
        try:
            text = choice.param_path.read_text(encoding="ascii")
            data = choice.path.read_bytes()
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"{choice.id}: cannot read the ncnn files: {exc}") from exc
        try:
            return build_rrdbnet_from_ncnn(text, data, choice.scale)
        except ValueError as exc:
            raise ModelError(f"{choice.param_path.name} / {choice.path.name}: {exc}") from exc
    state_dict = load_state_dict(choice.path)
    try:
        return build_from_state_dict(choice.kind, state_dict, choice.scale)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ModelError(f"{choice.path.name}: {exc}") from exc


class Upscalers(ModelFamily):
    """The super-resolution networks: the registry's faithful and GAN models, and ours."""

    id = "upscaler"
    title = "Upscalers"

    def available(self, *, scale: int = 4, look: str = "faithful") -> bool:
        return bool(available_upscalers(self.store, scale, look))

    def load(self, *, choice: SRModelChoice) -> nn.Module:
        """The network of `choice` (from `choose_upscaler`), eval mode, on the device."""
        return load_upscaler(choice, self.device)


def clear_cache() -> None:
    """Forget loaded models (tests; freeing GPU memory)."""
    with _cache_lock:
        _cache.clear()


__all__ = [
    "GAN_FETCH_ID",
    "GAN_KINDS",
    "LOOKS",
    "SHARP_IDS",
    "SHIPPED_GAN_ID",
    "SHIPPED_ID",
    "SRModelChoice",
    "available_upscalers",
    "choose_upscaler",
    "clear_cache",
    "load_upscaler",
    "shipped_gan_path",
    "shipped_path",
    "supporting_ids",
]
