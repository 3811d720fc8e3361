"""Kernels for batch runs: forked from a per-worker zygote that has the notebooks' imports loaded.

A fresh kernel per card costs ~0.5 s of kernel start-up plus ~1.5 s of
importing pandas, seaborn and evalkit.  Forking from :mod:`evalkit.zygote`
pays the imports once per worker; each card still runs in a new process in
which no cell has run.

It plugs into jupyter_client through its public extension points only:

- :class:`ForkingProvisioner` is a kernel provisioner, registered under the
  ``jupyter_client.kernel_provisioners`` entry point group as
  :data:`PROVISIONER_NAME` (see ``pyproject.toml``);
- :class:`ForkingKernelSpecManager` names that provisioner in the kernelspec's
  ``metadata.kernel_provisioner``, as a kernelspec on disk would;
- :class:`ForkingKernelManager` is an ``AsyncKernelManager`` whose
  ``kernel_spec_manager`` is that one; papermill/nbclient take it through
  their documented ``kernel_manager_class`` option.

A kernelspec that is not this interpreter's ``ipykernel_launcher`` is
launched the ordinary way.  Forking needs ``os.fork`` and ``/proc``
(Linux); :func:`fork_unsupported_reason` says why it cannot be used, and the
batch then starts fresh kernels by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from importlib.metadata import entry_points
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client import protocol_version_info
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import DottedObjectName, default

__all__ = [
    "PRELOAD", "CELLS_PRELOAD", "PROVISIONER_NAME", "DISABLE_ENV", "ForkingKernelClient", "ForkingKernelManager",
    "ForkingKernelSpecManager", "ForkingProvisioner",
    "Zygote", "ZygoteError", "become_subreaper", "children_of", "launcher_args", "process_alive", "fork_unsupported_reason",
    "kept_children", "stop_strays",
    "shared_zygote", "stop_shared_zygote",
]

#: the entry point name of :class:`ForkingProvisioner` (group ``jupyter_client.kernel_provisioners``)
PROVISIONER_NAME = "evalkit-zygote"
#: the name :class:`evalkit.engine.CellsEngine` is registered under with Papermill
CELLS_ENGINE_NAME = "evalkit-cells"
#: set to 0 / off / no / false to start every kernel as a new interpreter (like ``--fresh-kernels``)
DISABLE_ENV = "EVALKIT_FORK_KERNELS"

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


def fork_unsupported_reason() -> str | None:
    """Why kernels cannot be forked here (``None`` when they can): the fallback is fresh kernels."""
    if os.environ.get(DISABLE_ENV, "").strip().lower() in {"0", "off", "no", "false"}:
        return f"{DISABLE_ENV}={os.environ[DISABLE_ENV]}"
    if not hasattr(os, "fork") or sys.platform == "win32":
        return "this platform has no fork()"
    if not Path("/proc/self/stat").exists():
        return "/proc is not available"
    if not entry_points(group="jupyter_client.kernel_provisioners", name=PROVISIONER_NAME):
        return f"the {PROVISIONER_NAME!r} kernel provisioner is not registered (install evalkit with pip)"
    return None


class ZygoteError(RuntimeError):
    """The zygote could not fork a kernel (it died): a failure of the run, not of the card."""


class Zygote:
    """The ``python -m evalkit.zygote`` process and the pipe to it."""

    def __init__(self, preload: tuple[str, ...] = PRELOAD):
        self._channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "evalkit.zygote", f"--channel={theirs.fileno()}", *preload],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, pass_fds=[theirs.fileno()],
            )
        finally:
            theirs.close()
        self._lock = threading.Lock()

    def _request(self, request: dict[str, Any], connection: socket.socket | None = None) -> int:
        """Send one request (and the socket the child will answer on); the forked child's pid."""
        with self._lock:
            if self.process.stdin is None or self.process.stdout is None:
                raise ZygoteError("the kernel zygote has no pipe")
            try:
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
                if connection is not None:
                    socket.send_fds(self._channel, [b"c"], [connection.fileno()])
                line = self.process.stdout.readline()
            except BaseException as exc:
                # Interrupted half-way (Ctrl-C, the notebook's deadline) or broken: its reply would be read by the next
                # request, or it waits for a socket that never comes. A zygote out of step is ended; the next card starts
                # a new one.
                self.process.kill()
                self.close()
                if isinstance(exc, OSError):
                    raise ZygoteError(f"the kernel zygote is gone ({exc})") from None
                raise
        if not line:
            raise ZygoteError(f"the kernel zygote exited (status {self.process.poll()})")
        reply = json.loads(line)
        if "pid" not in reply:
            raise ZygoteError(f"the kernel zygote refused: {reply.get('error')}")
        return int(reply["pid"])

    def fork(self, args: list[str], cwd: str | None, env: dict[str, str]) -> int:
        """A new kernel process running ``ipykernel_launcher ARGS``; returns its pid."""
        return self._request({"args": args, "cwd": cwd, "env": env})

    def fork_cells(self, cwd: str | None, env: dict[str, str]) -> tuple[int, socket.socket]:
        """A new process that runs cells sent on the returned socket (:func:`evalkit.shell.serve`); its pid too."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = self._request({"cells": True, "cwd": cwd, "env": env}, theirs)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the child has its own copy
        return pid, ours

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Closing its stdin ends the zygote, which terminates the kernels it forked."""
        if self.process.stdin:
            with contextlib.suppress(OSError):  # it may be gone already, with a request unsent
                self.process.stdin.close()
        self._channel.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


_zygote: Zygote | None = None


def shared_zygote(preload: tuple[str, ...] = PRELOAD) -> Zygote:
    """This process's zygote, started on first use (one per batch worker) with ``preload``."""
    global _zygote
    if _zygote is None or not _zygote.alive:
        _zygote = Zygote(preload)
    return _zygote


def stop_shared_zygote() -> None:
    global _zygote
    if _zygote is not None:
        _zygote.close()
        _zygote = None


def process_alive(pid: int) -> bool:
    """Whether a process that is not our child still runs (the zygote, not us, collects its status)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # exited but not yet collected by the zygote
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def become_subreaper() -> bool:
    """Adopt the orphans of this process's descendants (Linux ``PR_SET_CHILD_SUBREAPER``).

    A process that a notebook starts in a new session survives its kernel;
    adopted by the worker instead of init, :func:`stop_strays` can end it.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def children_of(pid: int) -> list[int]:
    """The pids of a process's children (from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(proc.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def stop_strays(keep: set[int]) -> list[str]:
    """Kill this process's children other than ``keep`` (processes a finished card left running); their command lines."""
    stopped = []
    for pid in children_of(os.getpid()):
        if pid in keep:
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            command = str(pid)
        if "multiprocessing.resource_tracker" in command or "multiprocessing.forkserver" in command:
            continue  # Python's own helpers of this process, not something a card left behind
        try:
            group = os.getpgid(pid)
            if group != os.getpgid(0):  # its own group (the kernel's, or a session of its own): end all of it
                os.killpg(group, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        stopped.append(command or str(pid))
    return stopped


def kept_children() -> set[int]:
    """The worker's own long-lived children: its zygote."""
    return {_zygote.process.pid} if _zygote is not None and _zygote.alive else set()


def launcher_args(cmd: list[str]) -> list[str] | None:
    """The arguments after ``-m ipykernel_launcher`` when ``cmd`` runs this interpreter's ipykernel.

    ``-X`` options before ``-m`` are let through (``python -m ipykernel install`` writes ``-Xfrozen_modules=off``,
    which only matters to a debugger): the zygote's interpreter runs without them.
    """
    this_python = os.path.realpath(cmd[0]) == os.path.realpath(sys.executable) or cmd[0] in {"python", "python3"} if cmd else False
    rest = list(cmd[1:])
    while rest and rest[0].startswith("-X"):
        rest = rest[2:] if rest[0] == "-X" else rest[1:]
    return rest[2:] if this_python and rest[:2] == ["-m", "ipykernel_launcher"] else None


class ForkingProvisioner(LocalProvisioner):
    """A provisioner that forks the kernel from the zygote instead of starting a new interpreter.

    The kernel is the zygote's child and leads its own process group, so
    signals go to the group (the kernel and whatever its cells started), and
    liveness is read from ``/proc``.  Any other command is launched by
    :class:`LocalProvisioner` unchanged.
    """

    forked_pid: int | None = None

    @property
    def has_process(self) -> bool:
        return self.forked_pid is not None or super().has_process

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        args = launcher_args(cmd)
        if args is None:
            return await super().launch_kernel(cmd, **kwargs)
        cwd = str(kwargs.get("cwd") or os.getcwd())  # as Popen would: this process's folder unless told
        env = {str(k): str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        pid = shared_zygote().fork(args, cwd, env)
        self.forked_pid = self.pid = self.pgid = pid
        self.cwd = cwd
        return self.connection_info

    async def poll(self) -> int | None:
        if self.forked_pid is None:
            return await super().poll()
        return None if process_alive(self.forked_pid) else 0

    async def wait(self) -> int | None:
        if self.forked_pid is None:
            return await super().wait()
        while process_alive(self.forked_pid):
            await asyncio.sleep(0.05)
        self.forked_pid = None
        return 0

    async def send_signal(self, signum: int) -> None:
        if self.forked_pid is None:
            return await super().send_signal(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.forked_pid, signum)

    async def kill(self, restart: bool = False) -> None:
        if self.forked_pid is None:
            return await super().kill(restart)
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        if self.forked_pid is None:
            return await super().terminate(restart)
        await self.send_signal(signal.SIGTERM)


class ForkingKernelSpecManager(KernelSpecManager):
    """Kernelspecs as installed, with :data:`PROVISIONER_NAME` as their provisioner unless they name one."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        spec = super().get_kernel_spec(kernel_name)
        if "kernel_provisioner" not in spec.metadata:
            spec.metadata = {**spec.metadata, "kernel_provisioner": {"provisioner_name": PROVISIONER_NAME, "config": {}}}
        return spec


class ForkingKernelClient(AsyncKernelClient):
    """A client that knows a forked kernel is ready as soon as it has answered ``kernel_info`` on both channels.

    jupyter_client's own ``wait_for_ready`` then waits for 0.2 s of silence on
    IOPub, a fifth of a second per card; here the kernel's ``idle`` status for
    that very request is the last message to wait for (every message of the
    request has arrived), and nothing is left to flush.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            request = self.kernel_info()
            if await self._reply_and_idle(request, deadline):
                return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    async def _reply_and_idle(self, request: str, deadline: float) -> bool:
        """Whether the reply to ``request`` came on the shell channel and its ``idle`` on IOPub (within a second each)."""
        replied = idle = False
        until = min(time.monotonic() + 1, deadline)
        while not (replied and idle) and time.monotonic() < until:
            channel = self.iopub_channel if replied else self.shell_channel
            try:
                message = await channel.get_msg(timeout=max(0.0, until - time.monotonic()))
            except Empty:
                return False
            if message.get("parent_header", {}).get("msg_id") != request:
                continue  # e.g. the kernel's "starting" status
            if message["msg_type"] == "kernel_info_reply":
                replied = True
                major = int(str(message["content"].get("protocol_version", "5")).split(".")[0])
                if major != protocol_version_info[0]:
                    self.session.adapt_version = major  # as jupyter_client does for a kernel of another protocol
            elif message["msg_type"] == "status" and message["content"].get("execution_state") == "idle":
                idle = True
        return replied and idle


class ForkingKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels come from the zygote (see the module docstring)."""

    client_class = DottedObjectName("evalkit.kernels.ForkingKernelClient")

    @default("kernel_spec_manager")
    def _forking_kernel_spec_manager(self) -> KernelSpecManager:
        return ForkingKernelSpecManager(data_dir=self.data_dir)
