"""One batch at a time per output folder: an advisory lock file that names its holder.

``fcntl.flock`` is released by the kernel when the holder dies, even by
SIGKILL, so a stale lock never blocks the next run.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import IO

__all__ = ["RunLock", "LockHeld"]


class LockHeld(Exception):
    """Another run holds the lock; the message names it."""


class RunLock:
    def __init__(self, path: Path, what: str):
        self.path, self.what = path, what
        self._handle: IO[str] | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LockHeld(f"another evalkit run ({holder}) is writing {self.what}; wait for it to end, or stop it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
