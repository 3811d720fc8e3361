"""Kernels for batch runs: forked from a per-worker zygote that has the notebooks' imports loaded.

A fresh kernel per card costs ~0.5 s of kernel start-up plus ~1.5 s of
importing pandas, seaborn and evalkit.  Forking from :mod:`evalkit.zygote`
pays the imports once per worker; each card still runs in a new process in
which no cell has run.  ``ForkingKernelManager`` is a jupyter_client
``AsyncKernelManager`` whose provisioner asks the zygote instead of ``Popen``;
papermill/nbclient use it through their ``kernel_manager_class`` option and
manage the kernel as usual (start, interrupt, shutdown).  A kernelspec that is
not this interpreter's ``ipykernel_launcher`` is launched the ordinary way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

__all__ = ["PRELOAD", "ForkingKernelManager", "ForkingProvisioner", "Zygote", "shared_zygote", "stop_shared_zygote"]

#: what the card notebooks import, loaded once per worker (imports only: a forked kernel stays fresh)
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "matplotlib_inline.backend_inline",
    "evalkit",
    "evalkit.sections",
    "evalkit.charts",
    "evalkit.gap",
    "scrapbook",
)


class Zygote:
    """The ``python -m evalkit.zygote`` process and the pipe to it."""

    def __init__(self, preload: tuple[str, ...] = PRELOAD):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evalkit.zygote", *preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        self._lock = threading.Lock()

    def fork(self, args: list[str], cwd: str | None, env: dict[str, str]) -> int:
        """A new kernel process running ``ipykernel_launcher ARGS``; returns its pid."""
        with self._lock:
            assert self.process.stdin and self.process.stdout
            self.process.stdin.write(json.dumps({"args": args, "cwd": cwd, "env": env}) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the kernel zygote exited (status {self.process.poll()})")
        return int(json.loads(line)["pid"])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Closing its stdin ends the zygote, which terminates the kernels it forked."""
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_shared: Zygote | None = None


def shared_zygote() -> Zygote:
    """This process's zygote, started on first use (one per batch worker)."""
    global _shared
    if _shared is None or not _shared.alive:
        _shared = Zygote()
    return _shared


def stop_shared_zygote() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


def _alive(pid: int) -> bool:
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


class _ForkedProcess:
    """The ``Popen`` surface LocalProvisioner uses, for a process that is the zygote's child."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not _alive(self.pid):
            self.returncode = 0  # the zygote collected the status; a kernel that is gone is done
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _launcher_args(cmd: list[str]) -> list[str] | None:
    """The arguments after ``-m ipykernel_launcher`` when ``cmd`` runs this interpreter's ipykernel."""
    if len(cmd) >= 3 and cmd[1:3] == ["-m", "ipykernel_launcher"]:
        if os.path.realpath(cmd[0]) == os.path.realpath(sys.executable) or cmd[0] in {"python", "python3"}:
            return cmd[3:]
    return None


class ForkingProvisioner(LocalProvisioner):
    """LocalProvisioner that forks the kernel from the zygote instead of starting a new interpreter."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        args = _launcher_args(cmd)
        if args is None:
            return await super().launch_kernel(cmd, **kwargs)
        cwd = kwargs.get("cwd")
        env = {str(k): str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        pid = shared_zygote().fork(args, str(cwd) if cwd else None, env)
        self.process = _ForkedProcess(pid)
        self.pid = self.pgid = pid  # the child leads its own process group
        self.cwd = cwd or os.getcwd()
        return self.connection_info


class ForkingKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels come from the zygote (see the module docstring)."""

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        # jupyter_client creates the provisioner only when none is set, so this one is used.
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or os.urandom(16).hex()
            self.provisioner = ForkingProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)
