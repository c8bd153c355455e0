"""Resumable HTTP download of one file into a `.part` file, hashing as it streams.

Kept apart from the store so the store is about *which* file goes *where* and this is only
about bytes on the wire: Range requests (206 resumes, a 200 means the server ignored the
range and we start over), short reads detected against Content-Length, and cancellation
between chunks. Verification and the final atomic rename are the store's job.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from editor import __version__
from editor.engine.jobs import JobCancelled

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
                    chunk = response.read(CHUNK_SIZE)
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
