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
import weakref
from typing import Any

from .processes import peer_credentials

__all__ = [
    "PRELOAD", "CELLS_PRELOAD", "Zygote", "ZygoteClient", "ZygoteError",
    "join_zygote", "zygote_client", "own_zygote_client", "fork_cells", "stop_zygote", "kept_children",
]

#: what the card notebooks import, loaded once per zygote (imports and caches only: a forked kernel stays fresh).
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

#: how long a worker waits for the zygote to finish its preload (imports and warm-up: seconds, unless the machine is
#: badly overloaded or an import hangs)
READY_TIMEOUT_SECONDS = 600.0
#: how long a worker waits for the reply to a request once the zygote is ready (a fork takes milliseconds)
REPLY_TIMEOUT_SECONDS = 60.0


class ZygoteError(RuntimeError):
    """The zygote could not fork a card's process (it died): a failure of the run, not of the card."""


def _memory_file(data: bytes) -> int:
    """A descriptor of an anonymous file holding ``data``: a request's setup, of any size, for the child to read."""
    fd = os.memfd_create("evalkit-card-setup", os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return fd


class ZygoteClient:
    """One connection to a zygote (:mod:`evalkit.zygote`): each request forks a child and returns its pid.

    A worker's connection, which serves one card at a time: when it closes (the worker ends or dies, or a request
    was interrupted), the zygote ends the children it asked for.
    """

    def __init__(self, connection: socket.socket):
        self._connection = connection
        self._lock = threading.Lock()
        self._ready = False  # the zygote says so once, when its preload is done
        self.closed = False

    @classmethod
    def connect(cls, address: str, owner: int) -> ZygoteClient:
        """A connection to the zygote listening at ``address``, whose socket ``owner`` (run_all) made: once the run's
        zygote is gone, anyone may take its name, and must not be sent a card."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.connect(address)
            if peer_credentials(connection)[:2] != (owner, os.getuid()):
                raise ConnectionRefusedError(f"{address!r} is not the run's zygote")
        except OSError:
            connection.close()
            raise
        return cls(connection)

    def _request(self, request: dict[str, Any], setup: dict[str, Any], fds: list[int]) -> int:
        """Send one request with the descriptors the child takes over (after the worker's log and ``setup``); the
        forked child's pid."""
        with self._lock:
            if self.closed:
                raise ZygoteError("the kernel zygote connection is closed")
            try:
                if not self._ready:
                    self._connection.settimeout(READY_TIMEOUT_SECONDS)
                    if json.loads(self._connection.recv(1 << 16) or b"{}").get("ready") is not True:
                        raise ConnectionError("the zygote did not get ready")
                    self._ready = True
                    self._connection.settimeout(REPLY_TIMEOUT_SECONDS)
                setup_fd = _memory_file(json.dumps(setup).encode())
                try:
                    socket.send_fds(self._connection, [json.dumps(request).encode()], [2, setup_fd, *fds])
                finally:
                    os.close(setup_fd)
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
        return self._request({"cells": False}, {"args": args, "cwd": cwd, "env": env}, [])

    def fork_cells(self, cwd: str | None, env: dict[str, str]) -> tuple[int, socket.socket]:
        """A new process that runs cells sent on the returned socket (:func:`evalkit.shell.serve`); its pid too."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = self._request({"cells": True}, {"cwd": cwd, "env": env}, [theirs.fileno()])
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
    listening at :attr:`address` (an abstract Unix socket: nothing to clean up on disk; the zygote serves only this
    user, and a worker checks that the socket is :attr:`owner`'s)."""

    def __init__(self, preload: tuple[str, ...] = PRELOAD, *, listen: bool = False, log: int | None = None):
        self.client: ZygoteClient | None = None
        self.address: str | None = None
        self.owner = os.getpid()
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
        _started.add(self)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self, wait: bool = True) -> None:
        """Closing its stdin ends the zygote, which ends what it forked (by then the cards are done)."""
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


_started: weakref.WeakSet[Zygote] = weakref.WeakSet()  # every zygote this process started (never a stray of its own)
_own: Zygote | None = None  # a zygote this process started for its own cards
_run: ZygoteClient | None = None  # the connection to the zygote of the run this worker belongs to
_run_address: tuple[str, int] | None = None


def join_zygote(address: str, owner: int) -> None:
    """Fork this process's cards from the zygote at ``address`` (run_all's, ``owner``) instead of starting one."""
    global _run, _run_address
    _run_address = (address, owner)
    with contextlib.suppress(OSError):  # refused: the first card connects again, or starts a zygote of its own
        _run = ZygoteClient.connect(address, owner)


def own_zygote_client(preload: tuple[str, ...] = PRELOAD) -> ZygoteClient:
    """This process's own zygote, started on first use with ``preload`` (and again if it died)."""
    global _own
    client = _own.client if _own is not None and _own.alive else None
    if client is None or client.closed:
        if _own is not None:
            _own.close()
        _own = Zygote(preload)
        client = _own.client
    if client is None:  # a zygote that does not listen always has one
        raise ZygoteError("the zygote has no connection")
    return client


def zygote_client(preload: tuple[str, ...] = PRELOAD) -> ZygoteClient:
    """Where this process forks its cards: the run's zygote, or else its own (one per batch worker or Dask worker)."""
    global _run, _run_address
    if _run is not None and not _run.closed:
        return _run
    if _run_address is not None:  # closed after an interrupted request: the zygote may well be there still
        try:
            _run = ZygoteClient.connect(*_run_address)
            return _run
        except OSError:
            _run_address = None  # gone: from now on, this process's own
    return own_zygote_client(preload)


def fork_cells(preload: tuple[str, ...], cwd: str | None, env: dict[str, str]) -> tuple[int, socket.socket]:
    """:meth:`ZygoteClient.fork_cells` from :func:`zygote_client`; when the run's zygote has gone (or does not answer),
    from this process's own instead: the card does not pay for it."""
    global _run_address
    client = zygote_client(preload)
    try:
        return client.fork_cells(cwd, env)
    except ZygoteError:
        if client is not _run or not client.closed:
            raise
    _run_address = None
    return own_zygote_client(preload).fork_cells(cwd, env)


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
    """The zygotes this process started and that still run: its own children, but never strays."""
    return {zygote.process.pid for zygote in list(_started) if zygote.alive}
