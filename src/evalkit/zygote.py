"""A kernel "zygote": imports the notebooks' heavy libraries once, then forks a fresh kernel per card.

Run as ``python -m evalkit.zygote [--channel=FD] MODULE ...`` by :mod:`evalkit.kernels`,
one per worker process (``MODULE:FUNCTION`` also calls that function, which only
fills caches: :mod:`evalkit.warmup`).  Each request (a JSON line on stdin) forks a
child; the reply (a JSON line on stdout) is its pid.  The child becomes either

- an ordinary IPython kernel on the given connection file, or
- with ``"cells": true``, a kernel-less shell (:mod:`evalkit.shell`) that runs the
  cells sent on a socket the worker passes along on the ``--channel`` Unix socket.

A child starts with the preloaded modules already imported and nothing else:
no cell has run in it, so every card still gets a fresh process, minus the
seconds of imports.

The zygote exits, terminating its kernels, when its stdin closes (its worker
ended); kernels exit when the zygote does (ipykernel's parent poller).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import signal
import socket
import sys
import traceback
from typing import Any

__all__ = ["main"]

_children: set[int] = set()

#: the backend ipykernel's kernel app selects when the environment names none
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def _reap(signum: int, frame: object) -> None:
    """Collect exited kernels so that their pids disappear (the worker polls them with kill 0)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _children.discard(pid)


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
    """Have Linux kill this child when the zygote dies (it died with its worker, or was killed): nobody is left to
    hear from it.  A kernel also notices on its own within a second; a cells child would run on to its end."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != zygote:  # it died before the request took effect
        os._exit(1)


def _detach(request: dict[str, Any], zygote_fds: list[int], zygote: int) -> None:
    """In a forked child: leave the zygote's pipes and signals, take the worker's environment and folder."""
    _die_with_zygote(zygote)
    for fd in zygote_fds:  # the pipes to the worker belong to the zygote alone
        os.close(fd)
    os.setpgid(0, 0)  # its own process group: interrupts reach the child alone
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.environ.clear()
    os.environ.update(request.get("env") or {})
    os.environ["JPY_PARENT_PID"] = str(os.getppid())
    _matplotlib_follows_environment()
    if request.get("cwd"):
        os.chdir(request["cwd"])


def _run_cells(connection_fd: int, zygote_fds: list[int], request: dict[str, Any], zygote: int) -> None:
    """In the forked child: run the cards' cells in :mod:`evalkit.shell`, answering on the worker's socket."""
    code = 1
    log = None
    try:
        _detach(request, zygote_fds, zygote)
        log = os.fdopen(os.dup(2), "w")  # the worker's log: the cells' own stderr is captured from here on
        from ipykernel.ipkernel import IPythonKernel

        from evalkit.shell import serve

        serve(socket.socket(fileno=connection_fd), dict(IPythonKernel.language_info))
        code = 0
    except BaseException:  # noqa: BLE001 - report, then leave without returning to the zygote's loop
        traceback.print_exc(file=log or sys.__stderr__)
        if log:
            log.flush()
    finally:
        os._exit(code)


def _become_kernel(request: dict[str, Any], zygote_fds: list[int], zygote: int) -> None:
    """In the forked child: detach from the zygote's streams and signals, then run ipykernel."""
    code = 1
    try:
        _detach(request, zygote_fds, zygote)
        parent = os.environ["JPY_PARENT_PID"]
        # ipykernel read JPY_PARENT_PID when the zygote imported it, so name the parent explicitly:
        # the kernel then exits with the zygote (parent poller) and stays quiet about Ctrl-C.
        sys.argv = ["ipykernel_launcher", f"--IPKernelApp.parent_handle={parent}", *request["args"]]
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


def main(arguments: list[str]) -> None:
    channel = None  # the Unix socket on which the worker passes each cells child its connection
    if arguments and arguments[0].startswith("--channel="):
        channel = socket.socket(fileno=int(arguments[0].partition("=")[2]))
        arguments = arguments[1:]
    preload = arguments
    # As ipykernel_launcher does: the launch folder is not an import location.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    for entry in preload:  # MODULE is imported; MODULE:FUNCTION is imported, then called (to fill caches)
        module, _, function = entry.partition(":")
        try:
            loaded = importlib.import_module(module)
            if function:
                with contextlib.redirect_stdout(sys.stderr):  # stdout is the worker's reply pipe
                    getattr(loaded, function)()
        except Exception:  # noqa: BLE001 - a kernel will show the same error in its cell
            traceback.print_exc()
    gc.collect()
    gc.freeze()  # what the zygote holds is never collected in a child: its collections leave those pages shared
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides; Ctrl-C must not kill live kernels' parent
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    try:
        for line in sys.stdin:
            request = json.loads(line)
            zygote_fds = [reply.fileno()] + ([channel.fileno()] if channel is not None else [])
            connection = None
            if request.get("cells"):
                if channel is None:
                    reply.write(json.dumps({"error": "the zygote was started without a --channel"}) + "\n")
                    continue
                _, fds, _, _ = socket.recv_fds(channel, 1, 1)
                if not fds:
                    reply.write(json.dumps({"error": "no connection came with the request"}) + "\n")
                    continue
                connection = fds[0]
                os.set_inheritable(connection, False)  # only the child holds it: its end of file says it is gone
            zygote = os.getpid()
            gc.freeze()
            pid = os.fork()
            if pid == 0:
                if connection is not None:
                    _run_cells(connection, zygote_fds, request, zygote)
                _become_kernel(request, zygote_fds, zygote)
            if connection is not None:
                os.close(connection)  # the child's end, now the child's alone
            with contextlib.suppress(OSError):  # it may already have done so itself
                os.setpgid(pid, pid)  # also from the parent, so the group exists before the reply
            _children.add(pid)
            reply.write(json.dumps({"pid": pid}) + "\n")
    except BaseException:  # noqa: BLE001 - said in the worker's log; the exit status tells the rest
        traceback.print_exc()
        code = 1
    else:
        code = 0
    finally:
        for pid in list(_children):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGTERM)
    gc.freeze()  # its exit then skips walking the preloaded libraries' objects, which would only delay the worker
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
