"""The model store: which weight files exist, where they are, and whether they are the right bytes.

The registry (`editor/resources/registry.json`) is the one list of models: files, URLs, sha256,
sizes, licences, input conventions. The store resolves a model from, in order:

1. an explicit path the caller was given (a file for a one-file model, or a folder),
2. the models folder (`--models`, the GUI setting, or the `SEMEDIT_MODELS` env var),
3. the user data folder (`platformdirs.user_data_dir("semedit")/models`), where `fetch` and
   `import_file` put files.

Every folder uses the same layout: a file lives at `<folder>/<registry name>`, e.g.
`<folder>/vgg19/vgg19_conv1_1-conv3_4.safetensors`, so `../shared/models` works as a models folder.

A file is used only after it checks out: its size always, its sha256 once. The digest is then
remembered in a small JSON cache keyed by (path, size, mtime), so startup does not rehash hundreds
of megabytes. A file that fails is reported "corrupt" and skipped, never loaded.

Callers should use `file_path(model_id, name)`; `locate` exists for status displays.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from editor.engine.download import DownloadError, download_to_part

if TYPE_CHECKING:
    import torch

ENV_MODELS_DIR = "SEMEDIT_MODELS"
MISSING_URLS_LISTED = 2
"""A missing model of more files than this is named file by file without URLs: ten addresses
would drown the one line that says what to do."""
APP_NAME = "semedit"

Progress = Callable[[int, "int | None", str], None]
"""progress(bytes_done, bytes_total or None, message)."""


class ModelError(Exception):
    """A model problem whose str is one line fit to show the user."""


class ModelMissing(ModelError):
    """A model's files are nowhere (or failed to download); the message says what goes where."""


class ChecksumMismatch(ModelError):
    """A file has the wrong bytes (size or sha256 differ from the registry)."""


@dataclass(frozen=True)
class ModelFile:
    """One file of a model, as the registry lists it.

    sha256 is the full digest; where only a prefix of it is published (torchvision names its
    files `<name>-<first 8 hex of sha256>.pth`), sha256 is None and sha256_prefix is checked.
    """

    name: str
    url: str | None
    sha256: str | None
    sha256_prefix: str | None
    size: int | None

    def matches(self, digest: str) -> bool:
        """Whether a full sha256 hex digest is this file's."""
        digest = digest.lower()
        if self.sha256:
            return digest == self.sha256.lower()
        return bool(self.sha256_prefix) and digest.startswith(self.sha256_prefix.lower())

    def size_ok(self, size: int) -> bool:
        return self.size is None or size == self.size

    @property
    def expected(self) -> str:
        """The expected digest and size in words, for error messages."""
        digest = self.sha256 or f"{self.sha256_prefix}… (prefix)"
        size = f"{self.size} bytes" if self.size is not None else "size unknown"
        return f"sha256 {digest}, {size}"


@dataclass(frozen=True)
class ModelInfo:
    """One registry entry; `input` is its input convention (words and machine-readable fields)."""

    id: str
    title: str
    kind: str
    files: tuple[ModelFile, ...]
    licence: str
    source: str
    input: dict[str, Any]

    def file(self, name: str | None = None) -> ModelFile:
        """The file called `name` (registry name or base name); name=None for one-file models."""
        if name is None:
            if len(self.files) != 1:
                names = ", ".join(f.name for f in self.files)
                raise ModelError(f"model '{self.id}' has several files; name one of: {names}")
            return self.files[0]
        for f in self.files:
            if name in (f.name, f.name.rsplit("/", 1)[-1]):
                return f
        raise ModelError(f"model '{self.id}' has no file '{name}'")


# --------------------------------------------------------------------------------------- registry


def _parse_file(raw: Mapping[str, Any], model_id: str) -> ModelFile:
    name = raw["name"]
    sha256 = raw.get("sha256")
    prefix = raw.get("sha256_prefix")
    if not sha256 and not prefix:
        raise ModelError(f"registry: {model_id}/{name} has neither sha256 nor sha256_prefix")
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ModelError(f"registry: {model_id}/{name} must be a relative path inside a folder")
    size = raw.get("size")
    return ModelFile(
        name=name,
        url=raw.get("url"),
        sha256=sha256.lower() if sha256 else None,
        sha256_prefix=prefix.lower() if prefix else None,
        size=int(size) if size is not None else None,
    )


def load_registry(path: Path | None = None) -> dict[str, ModelInfo]:
    """Read the registry (the packaged `registry.json` unless `path` is given), by model id."""
    try:
        if path is None:
            text = resources.files("editor").joinpath("resources/registry.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = json.loads(text)
        models: dict[str, ModelInfo] = {}
        for raw in data["models"]:
            info = ModelInfo(
                id=raw["id"],
                title=raw.get("title", raw["id"]),
                kind=raw.get("kind", ""),
                files=tuple(_parse_file(f, raw["id"]) for f in raw["files"]),
                licence=raw.get("licence", ""),
                source=raw.get("source", ""),
                input=dict(raw.get("input", {})),
            )
            if info.id in models:
                raise ModelError(f"registry: model id '{info.id}' appears twice")
            models[info.id] = info
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read the model registry: {exc!r}") from exc
    return models


def default_models_dir() -> Path | None:
    """The models folder from the environment (`SEMEDIT_MODELS`), or None.

    The GUI passes its own setting explicitly; this is for the CLI and scripts.
    """
    value = os.environ.get(ENV_MODELS_DIR, "").strip()
    return Path(value).expanduser() if value else None


def user_models_dir() -> Path:
    """Where downloads and imports go: the per-user data folder's `models` subfolder."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "models"


def _default_hash_cache() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME)) / "model-hashes.json"


# ------------------------------------------------------------------------------------ hash cache


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB blocks."""
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


class _HashCache:
    """sha256 digests kept by (path, size, mtime): a file is hashed once, not at every start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._entries: dict[str, dict[str, Any]] = json.loads(path.read_text("utf-8"))
            if not isinstance(self._entries, dict):
                self._entries = {}
        except (OSError, ValueError):
            self._entries = {}

    def digest(self, file: Path) -> str:
        st = file.stat()
        key = str(file.resolve())
        with self._lock:
            entry = self._entries.get(key)
        if (
            isinstance(entry, dict)
            and entry.get("size") == st.st_size
            and entry.get("mtime_ns") == st.st_mtime_ns
        ):
            return str(entry["sha256"])
        digest = sha256_file(file)
        self.remember(file, digest)
        return digest

    def remember(self, file: Path, digest: str) -> None:
        st = file.stat()
        with self._lock:
            self._entries[str(file.resolve())] = {
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "sha256": digest,
            }
            self._save()

    def _save(self) -> None:
        # A cache is an optimisation: a read-only home must not break model loading.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self._entries, indent=0), "utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass


# ----------------------------------------------------------------------------------------- store

_Resolved = tuple[Path, dict[str, Path]]
"""(anchor: the root folder, or the explicit file; {registry name: concrete path})."""


class ModelStore:
    """Finds, verifies, downloads and imports model files (see the module docstring).

    models_dir is used as given (pass `default_models_dir()` or the GUI setting); user_dir
    defaults to `user_models_dir()`, registry to the packaged one.
    """

    def __init__(
        self,
        models_dir: Path | None = None,
        user_dir: Path | None = None,
        registry: dict[str, ModelInfo] | None = None,
        *,
        hash_cache: Path | None = None,
    ) -> None:
        self.models_dir = Path(models_dir).expanduser() if models_dir is not None else None
        self.user_dir = Path(user_dir) if user_dir is not None else user_models_dir()
        self.registry = registry if registry is not None else load_registry()
        self._hashes = _HashCache(hash_cache if hash_cache is not None else _default_hash_cache())

    # -- lookup

    def info(self, model_id: str) -> ModelInfo:
        try:
            return self.registry[model_id]
        except KeyError:
            known = ", ".join(sorted(self.registry))
            raise ModelError(f"unknown model '{model_id}' (known: {known})") from None

    def roots(self) -> list[Path]:
        """The folders searched, in order (models dir, then user dir)."""
        return [r for r in (self.models_dir, self.user_dir) if r is not None]

    def _check(self, f: ModelFile, path: Path) -> str:
        """'present', 'missing' or 'corrupt' for one file at one place."""
        try:
            if not path.is_file():
                return "missing"
            if not f.size_ok(path.stat().st_size):
                return "corrupt"
            return "present" if f.matches(self._hashes.digest(path)) else "corrupt"
        except OSError:
            return "missing"

    def _check_root(self, info: ModelInfo, root: Path, flat: bool = False) -> tuple[str, dict]:
        """A model's state in one folder: present only if every file is; corrupt if any file is."""
        found: dict[str, Path] = {}
        states = []
        for f in info.files:
            path = root / (f.name.rsplit("/", 1)[-1] if flat else f.name)
            state = self._check(f, path)
            states.append(state)
            if state == "present":
                found[f.name] = path
        if "corrupt" in states:
            return "corrupt", found
        if "missing" in states:
            return "missing", found
        return "present", found

    def _explicit(self, info: ModelInfo, path: Path) -> _Resolved:
        """Resolve from a path the user gave; a wrong explicit path is an error, not skipped."""
        path = Path(path).expanduser()
        if path.is_file():
            f = info.file(None) if len(info.files) == 1 else None
            if f is None:
                raise ModelError(
                    f"model '{info.id}' has {len(info.files)} files; give the folder holding them"
                    f" instead of {path}"
                )
            if self._check(f, path) != "present":
                raise ChecksumMismatch(
                    f"{path} is not {f.name} of model '{info.id}' (expected {f.expected})"
                )
            return path, {f.name: path}
        if path.is_dir():
            for flat in (False, True):
                state, found = self._check_root(info, path, flat=flat)
                if state == "present":
                    return path, found
                if state == "corrupt":
                    raise ChecksumMismatch(
                        f"{path} holds a damaged copy of model '{info.id}' (wrong size or sha256)"
                    )
        raise self._missing(info, info.files, where=path)

    def _resolve(self, model_id: str, path: Path | None = None) -> _Resolved | None:
        info = self.info(model_id)
        if path is not None:
            return self._explicit(info, path)
        for root in self.roots():
            state, found = self._check_root(info, root)
            if state == "present":
                return root, found
        return None

    def locate(self, model_id: str, path: Path | None = None) -> Path | None:
        """Where the model is, verified: the folder whose `<folder>/<name>` files all check out.

        With an explicit `path`: that file (one-file model) or folder; a bad explicit path raises
        ModelMissing / ChecksumMismatch rather than silently using another copy.
        """
        resolved = self._resolve(model_id, path)
        return resolved[0] if resolved else None

    def file_path(
        self, model_id: str, name: str | None = None, *, path: Path | None = None
    ) -> Path:
        """The verified path of one file of a model (name may be omitted for one-file models).

        Raises ModelMissing (with what to put where) when no folder has the whole model.
        """
        info = self.info(model_id)
        wanted = info.file(name)
        resolved = self._resolve(model_id, path)
        if resolved is None:
            raise self._missing(info, self._absent_files(info))
        return resolved[1][wanted.name]

    def _absent_files(self, info: ModelInfo) -> tuple[ModelFile, ...]:
        """The files of a model that no searched folder has a good copy of (for messages)."""
        absent = tuple(
            f
            for f in info.files
            if not any(self._check(f, root / f.name) == "present" for root in self.roots())
        )
        return absent or info.files

    def load(self, model_id: str, name: str | None = None, *, path: Path | None = None) -> dict:
        """`load_state_dict(file_path(...))`: the weights of one file of a model, on the CPU."""
        return load_state_dict(self.file_path(model_id, name, path=path))

    def status(self) -> list[tuple[ModelInfo, str, Path | None]]:
        """Every registry model with 'present' / 'missing' / 'corrupt' and the folder concerned."""
        rows: list[tuple[ModelInfo, str, Path | None]] = []
        for info in self.registry.values():
            corrupt_at: Path | None = None
            for root in self.roots():
                state, _ = self._check_root(info, root)
                if state == "present":
                    rows.append((info, "present", root))
                    break
                if state == "corrupt" and corrupt_at is None:
                    corrupt_at = root
            else:
                state = "corrupt" if corrupt_at is not None else "missing"
                rows.append((info, state, corrupt_at))
        return rows

    def _missing(
        self,
        info: ModelInfo,
        files: tuple[ModelFile, ...] | list[ModelFile],
        reason: str | None = None,
        where: Path | None = None,
    ) -> ModelMissing:
        """The offline message: which file(s), from where, into which folder, and alternatives."""
        if len(files) <= MISSING_URLS_LISTED:
            listed = "; ".join(f"{f.name} (from {f.url})" if f.url else f.name for f in files)
        else:  # a many-file model: the names, and where the download addresses are shown
            listed = ", ".join(f.name for f in files)
            if any(f.url for f in files):
                listed += " (their download addresses are in SemEdit's registry.json)"
        head = f"model '{info.id}' is not available"
        if where is not None:
            head += f" in {where}"
        if reason:
            head += f" ({reason})"
        dest = self.user_dir / files[0].name if files else self.user_dir
        hint = f"`semedit models fetch {info.id}` or " if all(f.url for f in files) else ""
        return ModelMissing(
            f"{head}. Needed: {listed}. Put the file(s) in {self.user_dir} keeping the sub-folder"
            f" (e.g. {dest}), or set {ENV_MODELS_DIR} / --models to a folder that has them,"
            f" or run {hint}`semedit models import FILE`."
        )

    # -- download

    def fetch(
        self,
        model_id: str,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Make the model present: download each missing file into the user dir, verified.

        Returns the folder that holds the model (where it already was, if it was present).
        Resumes from `<name>.part` with a Range request; a part whose final digest is wrong
        is deleted and ChecksumMismatch raised; network trouble raises ModelMissing and keeps
        the part; cancel raises JobCancelled and keeps the part.
        """
        info = self.info(model_id)
        resolved = self._resolve(model_id)
        if resolved is not None:
            return resolved[0]
        todo = [f for f in info.files if self._check(f, self.user_dir / f.name) != "present"]
        if any(f.url is None for f in todo):
            no_url = tuple(f for f in todo if f.url is None)
            raise self._missing(info, no_url, reason="no download URL is known")
        sizes = [f.size for f in todo]
        total = sum(s for s in sizes if s is not None) if None not in sizes else None
        done_before = 0
        for index, f in enumerate(todo):
            dest = self.user_dir / f.name
            part = dest.with_name(dest.name + ".part")
            message = f"{f.name} ({index + 1}/{len(todo)})"

            def on_bytes(
                done: int, file_total: int | None, _msg: str = message, _base: int = done_before
            ) -> None:
                if progress is not None:
                    shown_total = (
                        total if total is not None else (file_total if len(todo) == 1 else None)
                    )
                    progress(_base + done, shown_total, _msg)

            assert f.url is not None
            try:
                digest, size = download_to_part(
                    f.url, part, max_size=f.size, on_bytes=on_bytes, cancel=cancel
                )
            except DownloadError as exc:
                raise self._missing(
                    info, todo[index:], reason=f"download of {f.name} failed: {exc}"
                ) from exc
            if not (f.size_ok(size) and f.matches(digest)):
                part.unlink(missing_ok=True)
                raise ChecksumMismatch(
                    f"the download of {f.name} has the wrong bytes (got sha256 {digest}, {size}"
                    f" bytes; expected {f.expected}); it was deleted"
                )
            os.replace(part, dest)
            self._hashes.remember(dest, digest)
            done_before += size
        if progress is not None:
            progress(done_before, total if total is not None else done_before, "verified")
        return self.user_dir

    # -- import

    def import_file(self, path: Path) -> tuple[str, Path]:
        """Copy a weights file the registry knows into the user dir; returns (model id, new path).

        The file is identified by its content (size, then sha256 or the sha256 prefix), not its
        name, so a renamed download still lands in the right place. The copy is written to a
        temporary file in the user dir while hashing, then renamed into place atomically.
        """
        source = Path(path).expanduser()
        if not source.is_file():
            raise ModelError(f"{source}: no such file")
        size = source.stat().st_size
        candidates = [
            (info, f) for info in self.registry.values() for f in info.files if f.size_ok(size)
        ]
        if not candidates:
            raise ModelError(f"{source.name} is not a model file the registry knows ({size} bytes)")
        self.user_dir.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=".import-", suffix=".tmp", dir=self.user_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    hasher.update(block)
                    out.write(block)
            digest = hasher.hexdigest()
            for info, f in candidates:
                if f.matches(digest):
                    dest = self.user_dir / f.name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp, dest)
                    self._hashes.remember(dest, digest)
                    return info.id, dest
            raise ModelError(
                f"{source.name} is not a model file the registry knows (sha256 {digest})"
            )
        finally:
            tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------- weights


def _unwrap_state_dict(obj: Any) -> Any:
    """Peel `{"model": sd}` / `{"state_dict": sd}` wrappers (training checkpoints)."""
    while isinstance(obj, Mapping):
        inner = next(
            (obj[k] for k in ("state_dict", "model") if isinstance(obj.get(k), Mapping)), None
        )
        if inner is None:
            return obj
        obj = inner
    return obj


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a weights file to a CPU `{name: tensor}` dict without running any pickled code.

    `.safetensors` via safetensors; `.pt`/`.pth` via `torch.load(weights_only=True)`, which
    refuses arbitrary pickled objects (that becomes a ModelError). Non-tensor entries such as
    an epoch counter are dropped.
    """
    import torch  # deferred: `semedit models list` should not pay for importing torch

    path = Path(path)
    if not path.is_file():
        raise ModelMissing(f"{path}: no such weights file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means "not a weights file we trust"
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"{path.name} cannot be loaded as plain weights: {detail}") from exc
    obj = _unwrap_state_dict(obj)
    if not isinstance(obj, Mapping):
        raise ModelError(f"{path.name} does not hold a state dict (found {type(obj).__name__})")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ModelError(f"{path.name} holds no tensors")
    return tensors


__all__ = [
    "ChecksumMismatch",
    "ModelError",
    "ModelFile",
    "ModelInfo",
    "ModelMissing",
    "ModelStore",
    "default_models_dir",
    "load_registry",
    "load_state_dict",
    "sha256_file",
    "user_models_dir",
]
