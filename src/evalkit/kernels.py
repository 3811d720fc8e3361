"""Card processes for batch runs: forked from a zygote that has the notebooks' imports loaded.

A fresh kernel per card costs ~0.5 s of kernel start-up plus ~1.5 s of
importing pandas, seaborn and evalkit.  Forking from :mod:`evalkit.zygote`
pays the imports once per run (run_all starts one zygote, :class:`Zygote`
with ``listen``, that its workers connect to) or once per worker (with
``--kernels``, on Dask, or when the run's zygote is gone); each card still
runs in a new process in which no cell has run.

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
import os
import signal
import sys
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

from .processes import kill_group, process_alive
from .zygote_client import own_zygote_client

__all__ = [
    "PROVISIONER_NAME", "DISABLE_ENV", "ForkingKernelClient", "ForkingKernelManager",
    "ForkingKernelSpecManager", "ForkingProvisioner", "launcher_args", "fork_unsupported_reason",
]

#: the entry point name of :class:`ForkingProvisioner` (group ``jupyter_client.kernel_provisioners``)
PROVISIONER_NAME = "evalkit-zygote"
#: the name :class:`evalkit.engine.CellsEngine` is registered under with Papermill
CELLS_ENGINE_NAME = "evalkit-cells"
#: set to 0 / off / no / false to start every kernel as a new interpreter (like ``--fresh-kernels``)
DISABLE_ENV = "EVALKIT_FORK_KERNELS"

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
        pid = own_zygote_client().fork(args, cwd, env)  # the worker's: a kernel ends with its zygote
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
        kill_group(self.forked_pid, signum)

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
