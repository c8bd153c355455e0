"""Locks that die with their process: how a file says "my writer is still running".

A process id is no proof of life: inside a PID namespace (Docker, Flatpak/bubblewrap) every start
may be PID 1 again, and after a crash another program may reuse the number. An OS lock on an open
file is released by the kernel when the holding process ends, however it ends (SIGKILL, a power
cut aside), so "can I take its lock?" answers "is its owner gone?" exactly.

POSIX uses ``flock`` (per open file: two opens in one process exclude each other too); Windows
locks the first byte with ``msvcrt.locking``. No Qt here: ``editor.core`` imports without a GUI.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def lock_fd(fd: int) -> bool:
        """Take an exclusive lock on an open file without waiting; False if another holds it."""
        position = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, position, os.SEEK_SET)
        return True

else:
    import fcntl

    def lock_fd(fd: int) -> bool:
        """Take an exclusive lock on an open file without waiting; False if another holds it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd` (not removed or replaced meanwhile)."""
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    if os.name == "nt":  # pragma: no cover - st_ino is not always filled in on Windows
        return True
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


class FileLock:
    """A lock file this process holds open; the lock lasts until `release` or the process ends."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: str | os.PathLike[str]) -> FileLock | None:
        """Create or open the lock file at `path` and lock it; None while another holds it.

        Retries when the file was removed between the open and the lock (its previous owner
        cleaning up), so the lock returned is always on the file the path names."""
        path = Path(path)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
            if not lock_fd(fd):
                os.close(fd)
                return None
            if same_file(fd, path):
                return cls(path, fd)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self, *, remove: bool = False) -> None:
        """Let go of the lock; remove=True also deletes the lock file (while still holding it
        on POSIX, so nobody else can be holding the file that is deleted)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if remove and os.name != "nt":
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(fd)
        if remove and os.name == "nt":  # pragma: no cover - an open file cannot be deleted there
            with contextlib.suppress(OSError):
                self.path.unlink()
