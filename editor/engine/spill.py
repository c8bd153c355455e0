"""Spill folders: where a large upscale keeps its blend buffers on disk, and how they go away.

A run's folder is ``$TMPDIR/semedit-upscale-<pid>-<random>`` with a ``.lock`` file inside that the
run holds an exclusive ``flock`` on for as long as the folder lives. The folder is removed when the
run ends in any way (finished, failed, cancelled: `SpillFolder` is a context manager, and the CLI
turns SIGINT/SIGTERM into an exception that unwinds through it). What a killed process (SIGKILL,
a crash, a power cut) leaves behind, `remove_stale` deletes at the next start of the CLI or the
editor: a folder whose lock it can take belongs to nobody. A live run's folder is never touched,
the lock says so; the pid in the name covers the instant between creating the folder and locking
it (and systems without ``fcntl``).

Standard library only: the CLI calls `remove_stale` before any heavy import.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: the pid alone decides
    fcntl = None  # type: ignore[assignment]

PREFIX = "semedit-upscale-"
LOCK_NAME = ".lock"
_OWNED = re.compile(re.escape(PREFIX) + r"(\d+)-")
OLD_FORMAT_AGE_S = 3600.0
"""A folder named before pids were part of the name is stale once this old (seconds)."""
LOCK_GRACE_S = 60.0
"""An unlocked folder whose pid is alive is left alone this long (seconds) after its creation."""


def temp_root() -> Path:
    """Where spill folders go unless a request says otherwise: the system temp folder."""
    return Path(tempfile.gettempdir())


class SpillFolder:
    """``with SpillFolder(root) as folder:`` a fresh, locked folder, removed on the way out."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else temp_root()
        self.path: Path | None = None
        self._lock_fd: int | None = None

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=self.root))
        try:
            self._lock_fd = os.open(self.path / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
            if fcntl is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        except BaseException:
            self.close()
            raise
        return self.path

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the folder (still holding its lock, so no cleaner races us), then unlock."""
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's live process
        return True
    return True


def _lock_free(lock: Path) -> bool | None:
    """True: nobody holds the folder's lock; False: a live process does; None: no lock file."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return None
    try:
        if fcntl is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True  # closing the fd below releases the lock again
    finally:
        os.close(fd)


def _is_stale(folder: Path, now: float) -> bool:
    try:
        age = now - folder.stat().st_mtime
    except OSError:
        return False
    owned = _OWNED.match(folder.name)
    if owned is None:  # an older SemEdit's folder: no pid, no lock
        return age > OLD_FORMAT_AGE_S
    if _lock_free(folder / LOCK_NAME) is False:
        return False  # its run holds the lock: alive
    if not _pid_alive(int(owned.group(1))):
        return True
    # Unlocked but its pid lives: the owner is between creating and locking it (an instant),
    # or the pid was reused by an unrelated process after ours died.
    return age > LOCK_GRACE_S


def remove_stale(root: Path | None = None) -> list[Path]:
    """Delete the spill folders in `root` (default: the temp folder) that no live run holds;
    return what was removed. Never raises: cleaning up must not stop a start."""
    root = Path(root) if root is not None else temp_root()
    removed: list[Path] = []
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(PREFIX) and p.is_dir()]
    except OSError:
        return removed
    now = time.time()
    for folder in candidates:
        try:
            if _is_stale(folder, now):
                shutil.rmtree(folder, ignore_errors=True)
                if not folder.exists():
                    removed.append(folder)
        except OSError:
            continue
    return removed


__all__ = ["LOCK_NAME", "PREFIX", "SpillFolder", "remove_stale", "temp_root"]
