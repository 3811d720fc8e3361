"""A "zygote": imports the notebooks' heavy libraries once, then forks a fresh process per card.

Run as ``python -m evalkit.zygote (--listen=FD | --connection=FD) MODULE ...``
by :mod:`evalkit.kernels` (``MODULE:FUNCTION`` also calls that function,
which only fills caches: :mod:`evalkit.warmup`).  It serves requests on Unix
``SOCK_SEQPACKET`` sockets: one a worker connected to its private zygote
(``--connection``), or any number that batch workers open on the socket
run_all listens on for the whole run (``--listen``; only this user's
processes are served).  A request is one JSON packet carrying file
descriptors: the child's stderr (the worker's log) and, for cells, the
socket it answers on.  The reply is the child's pid.  The child becomes either

- an ordinary IPython kernel on the given connection file, or
- with ``"cells": true``, a kernel-less shell (:mod:`evalkit.shell`) that runs the
  cells its worker sends on that socket and answers there: the zygote is not
  on the data path.

A child starts with the preloaded modules already imported and nothing else:
no cell has run in it, so every card still gets a fresh process, minus the
seconds of imports.

The zygote exits, terminating what it forked, when its stdin closes (the
process that started it ended or let it go).  A cells child ends with its
worker: it watches its socket, and the zygote also ends the children a
worker's connection asked for when that connection closes.  A zygote that
dies (killed, rather than told to stop) loses no card in flight.  A kernel
exits when the zygote does (ipykernel's parent poller).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any

from .processes import become_subreaper, die_with_parent, kill_group, peer_credentials, stop_strays

__all__ = ["main"]

_owner: dict[int, socket.socket] = {}  # every child forked and not yet collected: the worker's connection that asked
_kernels: set[int] = set()  # those that are kernels: they end with the zygote (cells children also with their worker)

#: the backend ipykernel's kernel app selects when the environment names none
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: how often the zygote looks for processes it adopted (left running by a card whose process was killed)
STRAY_SCAN_SECONDS = 1.0


def _reap(signum: int, frame: object) -> None:
    """Collect exited children so that their pids disappear (the worker polls them with kill 0)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _owner.pop(pid, None)  # a pid used again later is someone else's
        _kernels.discard(pid)


def _matplotlib_follows_environment() -> None:
    """Give the preloaded matplotlib the backend a fresh kernel's would have.

    A fresh kernel's matplotlib reads ``MPLBACKEND`` when it is imported, after
    ipykernel has set it to the inline backend (unless the environment names
    one); here matplotlib was imported before, in the zygote, so the same
    default is applied now.  A pyplot chart in a cell then shows inline.
    """
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        matplotlib.rcParams["backend"] = os.environ["MPLBACKEND"]


def _die_with_zygote(zygote: int) -> None:
    """Have Linux kill this kernel when the zygote dies: nobody is left to hear from it (a kernel also notices by
    itself within a second)."""
    die_with_parent()
    if os.getppid() != zygote:  # it died before the request took effect
        os._exit(1)


def _detach(stderr: int, setup_fd: int, zygote_fds: list[int]) -> dict[str, Any]:
    """In a forked child: leave the zygote's sockets and signals, take the worker's log, environment and folder.

    The setup (``env``, ``cwd``, a kernel's ``args``) comes in a memory file, of any size; it is returned."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})  # blocked by the zygote around the fork
    for fd in zygote_fds:  # the sockets to the workers belong to the zygote alone
        os.close(fd)
    os.setpgid(0, 0)  # its own process group: interrupts reach the child alone
    for sig in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as in a new interpreter: a closed pipe is a BrokenPipeError
    signal.signal(signal.SIGINT, signal.default_int_handler)
    setup = json.loads(os.pread(setup_fd, os.fstat(setup_fd).st_size, 0))
    os.close(setup_fd)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(stderr, 2)
    os.dup2(stderr, 1)
    os.close(stderr)
    os.environ.clear()
    os.environ.update(setup.get("env") or {})
    os.environ["JPY_PARENT_PID"] = str(os.getppid())
    _matplotlib_follows_environment()
    if setup.get("cwd"):
        os.chdir(setup["cwd"])
    return setup


def _end_card() -> None:
    """Stop what the cells left running in sessions of their own (adopted here), then this card's process group,
    this process included."""
    stop_strays(keep=set())
    kill_group(0)


def _die_with_worker(connection_fd: int) -> None:
    """End the card when the worker's end of its socket closes: the worker died, or gave up on the card (failed,
    stopped, timed out), and nobody is left to hear from it.  The zygote may have gone long before; that costs the
    card nothing."""
    poller = select.poll()
    poller.register(connection_fd, select.POLLRDHUP)
    while not poller.poll():
        pass
    _end_card()


def _strays() -> dict[str, Any]:
    """What the cells left running (adopted here: this process is their subreaper), stopped before the last answer."""
    return {"strays": stop_strays(keep=set())}


def _run_cells(connection_fd: int, stderr: int, setup_fd: int, zygote_fds: list[int]) -> None:
    """In the forked child: run the cards' cells in :mod:`evalkit.shell`, answering on the worker's socket."""
    code = 1
    log = None
    try:
        _detach(stderr, setup_fd, zygote_fds)
        become_subreaper()
        threading.Thread(target=_die_with_worker, args=(connection_fd,), daemon=True, name="evalkit-worker-watch").start()
        log = os.fdopen(os.dup(2), "w")  # the worker's log: the cells' own stderr is captured from here on
        from ipykernel.ipkernel import IPythonKernel

        from evalkit.shell import serve

        serve(socket.socket(fileno=connection_fd), dict(IPythonKernel.language_info), finish=_strays)
        code = 0
    except BaseException:  # noqa: BLE001 - report, then leave without returning to the zygote's loop
        traceback.print_exc(file=log or sys.__stderr__)
        if log:
            log.flush()
    finally:
        if code == 0:
            kill_group(0)  # what the cells left in this process group ends with the card
        os._exit(code)


def _become_kernel(stderr: int, setup_fd: int, zygote_fds: list[int], zygote: int) -> None:
    """In the forked child: detach from the zygote's streams and signals, then run ipykernel."""
    code = 1
    try:
        _die_with_zygote(zygote)
        setup = _detach(stderr, setup_fd, zygote_fds)
        parent = os.environ["JPY_PARENT_PID"]
        # ipykernel read JPY_PARENT_PID when the zygote imported it, so name the parent explicitly:
        # the kernel then exits with the zygote (parent poller) and stays quiet about Ctrl-C.
        sys.argv = ["ipykernel_launcher", f"--IPKernelApp.parent_handle={parent}", *setup["args"]]
        from IPython.core.interactiveshell import InteractiveShell

        if InteractiveShell.initialized():  # a shell the zygote made for cells children: ipykernel makes its own
            InteractiveShell.clear_instance()
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001 - report, then leave without returning to the zygote's loop
        traceback.print_exc()
    finally:
        os._exit(code)


def _preload(entries: list[str]) -> None:
    """MODULE is imported; MODULE:FUNCTION is imported, then called (to fill caches)."""
    for entry in entries:
        module, _, function = entry.partition(":")
        try:
            loaded = importlib.import_module(module)
            if function:
                getattr(loaded, function)()
        except Exception:  # noqa: BLE001 - a card will show the same error in its cell
            traceback.print_exc()


def _same_user(connection: socket.socket) -> bool:
    """Only this user's processes may have the zygote fork (and so run code as this user)."""
    try:
        return peer_credentials(connection)[1] == os.getuid()
    except OSError:
        return False


def _fork(request: Any, fds: list[int], zygote_fds: list[int], owner: socket.socket) -> dict[str, Any]:
    """Fork the requested child; the reply to send back."""
    try:
        cells = bool(request.get("cells"))
        if len(fds) != (3 if cells else 2):
            return {"error": f"expected {3 if cells else 2} file descriptors with the request, got {len(fds)}"}
        stderr, setup_fd, *connection = fds
        zygote = os.getpid()
        gc.freeze()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # not collected before it is recorded
        try:
            pid = os.fork()
            if pid == 0:
                if cells:
                    _run_cells(connection[0], stderr, setup_fd, zygote_fds)
                _become_kernel(stderr, setup_fd, zygote_fds, zygote)
            _owner[pid] = owner
            if not cells:
                _kernels.add(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        with contextlib.suppress(OSError):  # it may already have done so itself
            os.setpgid(pid, pid)  # also from the parent, so the group exists before the reply
        return {"pid": pid}
    except Exception as exc:  # noqa: BLE001 - fork() refused (process limit, memory), a malformed request: this card only
        return {"error": f"{type(exc).__name__}: {exc}"}


def _end_children(pids: set[int]) -> None:
    """Kill these children's process groups (their worker is gone, or the run is over): a card whose cell holds the
    interpreter cannot end itself.  What they started in sessions of their own comes back to a subreaper."""
    for pid in pids & _owner.keys():  # not yet collected, so the pid is still theirs
        kill_group(pid)


def _reply(message: bytes, flags: int, fds: list[int], zygote_fds: list[int], connection: socket.socket) -> dict[str, Any]:
    """What to answer a request: the forked child's pid, or why there is none."""
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        return {"error": "the request was too large"}
    try:
        request = json.loads(message)
    except ValueError:
        request = None
    if not isinstance(request, dict):
        return {"error": "the request is not a JSON object"}
    return _fork(request, fds, zygote_fds, connection)


def _answer(connection: socket.socket, zygote_fds: list[int]) -> bool:
    """Serve one request on ``connection``; whether it is still open."""
    try:
        message, fds, flags, _ = socket.recv_fds(connection, 1 << 16, 3)
    except OSError:
        return False
    try:
        if not message:  # its worker is gone (its cards' processes watch for that themselves)
            return False
        reply = _reply(message, flags, fds, zygote_fds, connection)
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)  # the child's, now the child's alone: its end of file says it is gone
    return _send(connection, reply)


def _send(connection: socket.socket, message: dict[str, Any]) -> bool:
    """Send a message; whether the worker is still there.  Never waits: a client that does not read its replies would
    keep every other worker waiting."""
    try:
        connection.send(json.dumps(message).encode(), socket.MSG_DONTWAIT)
    except OSError:
        return False
    return True


def _ready(connection: socket.socket) -> bool:
    """Tell a worker that the preload is done: its wait for a reply is timed from here."""
    return _send(connection, {"ready": True})


def _serve(selector: selectors.BaseSelector, listener: socket.socket | None, connections: list[socket.socket]) -> None:
    """Answer requests on ``connections`` (and those ``listener`` accepts) until stdin closes.  The run's zygote (with a
    listener) also stops, every second, what it adopted: left running by a card whose process was killed."""
    scanned = time.monotonic()
    for connection in connections:
        _ready(connection)
    while True:
        for key, _ in selector.select(timeout=STRAY_SCAN_SECONDS):
            if key.fileobj == 0:
                if not os.read(0, 4096):
                    return  # the process that started it is done with it, or gone
            elif key.fileobj is listener:
                try:
                    connection, _ = listener.accept()
                except OSError:  # out of descriptors, or the client gave up: it may try again
                    continue
                if _same_user(connection) and _ready(connection):
                    selector.register(connection, selectors.EVENT_READ)
                    connections.append(connection)
                else:
                    connection.close()
            else:
                connection = key.fileobj  # type: ignore[assignment]
                zygote_fds = [c.fileno() for c in connections] + ([listener.fileno()] if listener else [])
                if not _answer(connection, zygote_fds):  # its worker is gone: so are its cards
                    selector.unregister(connection)
                    connections.remove(connection)
                    connection.close()
                    _end_children({pid for pid, owner in list(_owner.items()) if owner is connection})  # list(): _reap
        if listener is not None and time.monotonic() - scanned >= STRAY_SCAN_SECONDS:
            stop_strays(keep=set(_owner), wait=False)
            scanned = time.monotonic()


def _stop_what_they_left(seconds: float = 1.0) -> None:
    """Once the cards are killed, stop what they had started in sessions of their own (adopted here as they die)."""
    ends = time.monotonic() + seconds
    while _owner and time.monotonic() < ends:
        time.sleep(0.01)  # SIGCHLD collects them
    stop_strays(keep=set(_owner), wait=False)


def main(arguments: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch decides; Ctrl-C must not kill live cards' parent
    listener = connection = None
    if arguments and arguments[0].startswith("--listen="):  # run_all's, for all its workers
        listener = socket.socket(fileno=int(arguments[0].partition("=")[2]))
    elif arguments and arguments[0].startswith("--connection="):  # a worker's own
        connection = socket.socket(fileno=int(arguments[0].partition("=")[2]))
    else:
        sys.exit("usage: python -m evalkit.zygote (--listen=FD | --connection=FD) [MODULE[:FUNCTION] ...]")
    os.dup2(2, 1)  # what the preload prints goes to the log
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # the debugger's notice about frozen modules: noise
    # As ipykernel_launcher does: the launch folder is not an import location.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    _preload(arguments[1:])
    gc.collect()
    gc.freeze()  # what the zygote holds is never collected in a child: its collections leave those pages shared
    signal.signal(signal.SIGCHLD, _reap)
    if listener is not None:  # a worker's own zygote leaves that to its worker, which adopts what the cards leave
        become_subreaper()  # what a killed card's process left running comes here, and is stopped
    selector = selectors.PollSelector()  # no descriptor of its own for the children to inherit
    selector.register(0, selectors.EVENT_READ)
    for sock in (listener, connection):
        if sock is not None:
            selector.register(sock, selectors.EVENT_READ)
    code = 0
    try:
        _serve(selector, listener, [connection] if connection is not None else [])
    except BaseException:  # noqa: BLE001 - said in the log; the exit status tells the rest
        traceback.print_exc()
        code = 1
    else:  # the run is over, or run_all is gone: nobody is left to hear from a card still running
        _end_children(_owner.keys() - _kernels)  # kernels are asked to stop below
        if listener is not None:
            _stop_what_they_left()
    finally:
        for pid in list(_kernels):
            kill_group(pid, signal.SIGTERM)
    gc.freeze()  # its exit then skips walking the preloaded libraries' objects, which would only delay the batch
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
