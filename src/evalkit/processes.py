"""Linux process bookkeeping for the batch: who is alive, who is whose child, what a card left running.

Plain functions over ``/proc``, ``kill`` and ``prctl``, shared by the batch
(run_all and its workers), the zygote and the processes it forks: none of
them imports Jupyter, so a forked card can use them without paying for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
from pathlib import Path

__all__ = ["process_alive", "become_subreaper", "die_with_parent", "children_of", "stop_strays", "kill_group",
           "peer_credentials"]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def process_alive(pid: int) -> bool:
    """Whether a process that may not be our child still runs (an exited one that nobody collected yet does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # exited but not yet collected by its parent
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def become_subreaper() -> bool:
    """Adopt the orphans of this process's descendants (Linux ``PR_SET_CHILD_SUBREAPER``).

    A process that a notebook starts in a new session survives the process
    that ran its cells; adopted here instead of by init, :func:`stop_strays`
    can end it.
    """
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(signum: int = signal.SIGKILL) -> bool:
    """Have Linux send ``signum`` to this process when its parent (thread) ends (``PR_SET_PDEATHSIG``)."""
    return _prctl(_PR_SET_PDEATHSIG, signum)


def peer_credentials(connection: socket.socket) -> tuple[int, int, int]:
    """The pid, uid and gid of the process at the other end of a Unix socket (``SO_PEERCRED``; for a listening
    socket, the process that made it listen)."""
    size = struct.calcsize("3i")
    pid, uid, gid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size))
    return pid, uid, gid


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


def kill_group(group: int, signum: int = signal.SIGKILL) -> None:
    """Signal a process group that may be gone already."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip() or str(pid)
    except OSError:
        return str(pid)


def stop_strays(keep: set[int], wait: bool = True) -> list[str]:
    """Kill this process's children other than ``keep`` (processes a finished card left running), each with its
    process group when that is not ours; the command lines of those that were running.

    All are looked at before any is killed: killing one's group may end another, which was running all the same.
    A group that a kept process leads is spared (only the stray in it is killed).  Without ``wait`` they are left
    for a SIGCHLD handler to collect (one that is slow to die must not hold up the caller).
    """
    found = []
    for pid in children_of(os.getpid()):
        if pid in keep:
            continue
        command = _command(pid)
        if "multiprocessing.resource_tracker" in command or "multiprocessing.forkserver" in command:
            continue  # Python's own helpers of this process, not something a card left behind
        found.append((pid, command, process_alive(pid)))  # an exited one only waits to be collected
    own_group = os.getpgid(0)
    for pid, _, _ in found:
        try:
            group = os.getpgid(pid)
            if group != own_group and group not in keep:  # its own group (a card's, or its own session): end all of it
                kill_group(group)
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid, _, _ in found if wait else ():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return [command for _, command, running in found if running]
