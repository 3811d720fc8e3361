"""One batch at a time per output folder: an advisory lock on the folder itself, and a file naming the holder.

The lock is taken on the output folder's own inode, so every spelling of it
(a symlink, another ``--state``) meets the same lock.  ``fcntl.flock`` is
released by the kernel when the holder dies, even by SIGKILL, so a stale lock
never blocks the next run.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

__all__ = ["RunLock", "LockHeld"]


class LockHeld(Exception):
    """Another run holds the lock; the message names it."""


class RunLock:
    def __init__(self, holder_file: Path, folder: Path, what: str):
        self.holder_file, self.folder, self.what = holder_file, folder, what
        self._fd: int | None = None

    def _holder(self) -> str:
        try:
            return self.holder_file.read_text(encoding="utf-8").strip() or "another process"
        except OSError:
            return "another process"

    def __enter__(self) -> RunLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder.resolve(), os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(f"another evalkit run ({self._holder()}) is writing {self.what}; wait for it to end, or stop it") from None
        self._fd = fd
        self.holder_file.parent.mkdir(parents=True, exist_ok=True)
        self.holder_file.write_text(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.holder_file.unlink(missing_ok=True)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
