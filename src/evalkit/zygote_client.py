"""The batch's side of :mod:`evalkit.zygote`: starting zygotes, and asking one for a card's process.

run_all starts one :class:`Zygote` that listens for the whole run and that
every worker connects to (:func:`join_zygote`); a worker run with
``--kernels``, a Dask worker, or one whose run's zygote has gone starts one
of its own.  :func:`zygote_client` says which one this process forks from.
Light on purpose (no Jupyter): run_all imports it before its workers start.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from typing import Any

__all__ = [
    "PRELOAD", "CELLS_PRELOAD", "Zygote", "ZygoteClient", "ZygoteError",
    "join_zygote", "zygote_client", "fork_cells", "stop_zygote", "kept_children",
]

#: what the card notebooks import, loaded once per worker (imports and caches only: a forked kernel stays fresh).
#: Not matplotlib_inline's backend: it hooks into IPython when first imported, which must happen in the kernel.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "evalkit",
    "evalkit.sections",
    "evalkit.charts",
    "evalkit.gap",
    "evalkit.shell",
    "scrapbook",
    "evalkit.warmup:warm_up",  # templates compiled, fonts loaded, one chart drawn: caches every card would fill again
)
#: a zygote for the cells engine also makes the IPython shell every card's process inherits (:func:`evalkit.shell.prepare`)
CELLS_PRELOAD = (*PRELOAD, "evalkit.shell:prepare")



class ZygoteError(RuntimeError):
    """The zygote could not fork a card's process (it died): a failure of the run, not of the card."""


class ZygoteClient:
    """One connection to a zygote (:mod:`evalkit.zygote`): each request forks a child and returns its pid."""

    def __init__(self, connection: socket.socket):
        self._connection = connection
        self._lock = threading.Lock()
        self.closed = False

    @classmethod
    def connect(cls, address: str) -> ZygoteClient:
        """A connection to the zygote listening at ``address`` (run_all's, shared by its workers)."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.connect(address)
        except OSError:
            connection.close()
            raise
        return cls(connection)

    def _request(self, request: dict[str, Any], fds: list[int]) -> int:
        """Send one request with the descriptors the child takes over; the forked child's pid."""
        with self._lock:
            if self.closed:
                raise ZygoteError("the kernel zygote connection is closed")
            try:
                socket.send_fds(self._connection, [json.dumps(request).encode()], fds)
                reply = self._connection.recv(1 << 16)
            except BaseException as exc:
                # Interrupted half-way (Ctrl-C, the notebook's deadline) or broken: its reply would be read by the next
                # request. A connection out of step is closed; the next card opens another (or starts a zygote).
                self.close()
                if isinstance(exc, OSError):
                    raise ZygoteError(f"the kernel zygote is gone ({exc})") from None
                raise
        if not reply:
            self.close()
            raise ZygoteError("the kernel zygote exited")
        answer = json.loads(reply)
        if "pid" not in answer:
            raise ZygoteError(f"the kernel zygote refused: {answer.get('error')}")
        return int(answer["pid"])

    def fork(self, args: list[str], cwd: str | None, env: dict[str, str]) -> int:
        """A new kernel process running ``ipykernel_launcher ARGS``; returns its pid."""
        return self._request({"args": args, "cwd": cwd, "env": env}, [2])

    def fork_cells(self, cwd: str | None, env: dict[str, str]) -> tuple[int, socket.socket]:
        """A new process that runs cells sent on the returned socket (:func:`evalkit.shell.serve`); its pid too."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = self._request({"cells": True, "cwd": cwd, "env": env}, [2, theirs.fileno()])
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the child has its own copy
        return pid, ours

    def close(self) -> None:
        self.closed = True
        self._connection.close()


class Zygote:
    """A ``python -m evalkit.zygote`` process: a worker's own (:attr:`client`), or run_all's for all its workers,
    listening at :attr:`address` (an abstract Unix socket: nothing to clean up on disk, and only this user is
    served)."""

    def __init__(self, preload: tuple[str, ...] = PRELOAD, *, listen: bool = False, log: int | None = None):
        self.client: ZygoteClient | None = None
        self.address: str | None = None
        if listen:
            theirs = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.address = f"\0evalkit-zygote-{os.getpid()}-{secrets.token_hex(8)}"
            theirs.bind(self.address)
            theirs.listen(128)  # workers connect at once; their requests wait until the preload is done
            option = "--listen"
        else:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.client = ZygoteClient(ours)
            option = "--connection"
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "evalkit.zygote", f"{option}={theirs.fileno()}", *preload],
                stdin=subprocess.PIPE, stderr=log, pass_fds=[theirs.fileno()],
            )
        except BaseException:
            if self.client is not None:
                self.client.close()
            raise
        finally:
            theirs.close()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self, wait: bool = True) -> None:
        """Closing its stdin ends the zygote, which terminates the kernels it forked (cells children end with their
        worker)."""
        if self.client is not None:
            self.client.close()
        if self.process.stdin:
            with contextlib.suppress(OSError):  # it may be gone already
                self.process.stdin.close()
        if wait:
            self.wait()

    def wait(self, seconds: float = 10) -> None:
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_own: Zygote | None = None  # a zygote this process started for itself
_run: ZygoteClient | None = None  # the connection to the zygote of the run this worker belongs to
_run_address: str | None = None


def join_zygote(address: str) -> None:
    """Fork this process's cards from the zygote at ``address`` (run_all's) instead of starting one of its own."""
    global _run, _run_address
    _run_address = address
    with contextlib.suppress(OSError):  # refused: the first card starts a zygote of its own
        _run = ZygoteClient.connect(address)


def zygote_client(preload: tuple[str, ...] = PRELOAD) -> ZygoteClient:
    """Where this process forks its cards: the run's zygote, or else one of its own started on first use with
    ``preload`` (one per batch worker or Dask worker)."""
    global _own, _run, _run_address
    if _run is not None and not _run.closed:
        return _run
    if _run_address is not None:  # closed after an interrupted request: the zygote may well be there still
        try:
            _run = ZygoteClient.connect(_run_address)
            return _run
        except OSError:
            _run_address = None  # gone: from now on, this process's own
    if _own is None or not _own.alive or _own.client is None or _own.client.closed:
        if _own is not None:
            _own.close()
        _own = Zygote(preload)
    if _own.client is None:  # cannot happen: a zygote started without listen has its client
        raise ZygoteError("the zygote has no connection")
    return _own.client


def fork_cells(preload: tuple[str, ...], cwd: str | None, env: dict[str, str]) -> tuple[int, socket.socket]:
    """:meth:`ZygoteClient.fork_cells` from :func:`zygote_client`; when the run's zygote has gone, from this process's
    own instead (the card does not pay for it)."""
    client = zygote_client(preload)
    try:
        return client.fork_cells(cwd, env)
    except ZygoteError:
        if client is not _run:
            raise
    return zygote_client(preload).fork_cells(cwd, env)


def stop_zygote() -> None:
    """End this process's own zygote and its kernels, and leave the run's."""
    global _own, _run, _run_address
    if _own is not None:
        _own.close()
        _own = None
    if _run is not None:
        _run.close()
        _run = _run_address = None


def kept_children() -> set[int]:
    """The worker's own long-lived children: its zygote."""
    return {_own.process.pid} if _own is not None and _own.alive else set()
