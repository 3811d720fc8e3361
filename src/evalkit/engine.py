"""A Papermill engine that runs a card's cells in a process forked from a zygote, without a kernel.

A Jupyter kernel costs each card its start-up and readiness handshake, a
round trip per cell and a polled shutdown: most of what a batch spends
beyond the card's own work.  This engine keeps what matters of a kernel, a
fresh process per card in which no cell has run, with IPython executing the
cells and their outputs recorded as nbclient records a kernel's
(:mod:`evalkit.shell`), and drops the protocol.

It is registered with Papermill's engine registry as :data:`ENGINE_NAME` when
this module is imported, and chosen with
``papermill.execute_notebook(..., engine_name=ENGINE_NAME)``.  (Not through the
``papermill.engine`` entry point: Papermill loads those while it is being
imported, which fails for a module that imports Papermill itself and is
imported first.)  Papermill still parameterises the notebook and keeps its
metadata through the ``NotebookExecutionManager`` it hands every engine.  A
notebook whose kernelspec is not exactly this interpreter's IPython kernel
runs in a forked kernel through Papermill's own nbclient engine instead.

As nbclient does: empty cells and cells tagged ``skip-execution`` are not
run; a failing cell stops the notebook unless it is tagged
``raises-exception`` or ``allow_errors`` is given; a cell that outlives its
timeout is interrupted (its outputs so far are kept) and raises
``CellTimeoutError``; a process that dies raises ``DeadKernelError``.
Papermill's ``log_output``, ``stdout_file`` and ``stderr_file`` receive the
cells' streams.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.engines import Engine, NBClientEngine, papermill_engines

from .kernels import CELLS_ENGINE_NAME, ForkingKernelManager, ForkingKernelSpecManager, launcher_args
from .processes import kill_group, process_alive
from .zygote_client import CELLS_PRELOAD, ZygoteError, fork_cells

__all__ = ["ENGINE_NAME", "CellsEngine", "runs_in_this_interpreter", "take_strays"]

#: the name :class:`CellsEngine` is registered under with Papermill (``engine_name``)
ENGINE_NAME = CELLS_ENGINE_NAME

#: how long a finished child may take to exit before it is killed (its exit lets the batch find what it left running)
EXIT_GRACE_SECONDS = 5.0
#: how long a card given up on (failed, stopped, timed out) has to end by itself, what its cells started included
STOP_GRACE_SECONDS = 1.0
#: how long a timed-out cell has to stop after its interrupt (its outputs so far come back) before it is killed
INTERRUPT_GRACE_SECONDS = 2.0
#: how often a wait for the child checks that it is still alive (what it started may hold its socket open)
ALIVE_CHECK_SECONDS = 1.0

_log = logging.getLogger("papermill")

#: what the cards' processes stopped because their cells left it running, since :func:`take_strays` last took it
_strays: list[str] = []


def take_strays() -> list[str]:
    """The command lines of the processes that the cards run here since the last call left running (each card's
    process adopts and stops them before its last answer, so that the worker can say so on the card's line)."""
    taken = _strays[:]
    _strays.clear()
    return taken


@lru_cache(maxsize=16)
def _kernel_spec(kernel_name: str) -> tuple[bool, tuple[tuple[str, str], ...]]:
    spec = ForkingKernelSpecManager().get_kernel_spec(kernel_name)
    return launcher_args(spec.argv) == ["-f", "{connection_file}"], tuple(sorted((spec.env or {}).items()))


def runs_in_this_interpreter(kernel_name: str) -> bool:
    """Whether the kernelspec starts this interpreter's IPython kernel with no options of its own (what the cells
    engine gives the cells); any other runs in a kernel."""
    return _kernel_spec(kernel_name)[0]


def _wait_for_exit(pid: int, seconds: float) -> None:
    ends = time.monotonic() + seconds
    pause = 0.0005
    while process_alive(pid):
        if time.monotonic() > ends:
            kill_group(pid)
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


class _Answers:
    """The child's answers, one JSON object per line, each awaited no longer than its cell may run."""

    def __init__(self, connection: socket.socket, pid: int):
        self.connection, self.pid = connection, pid
        self.buffer = bytearray()
        self.searched = 0  # the buffer holds no newline before this

    def next(self, timeout: float | None, waiting_for: str) -> dict[str, Any]:
        ends = None if timeout is None else time.monotonic() + timeout
        while (end := self.buffer.find(b"\n", self.searched)) < 0:
            self.searched = len(self.buffer)
            left = None if ends is None else ends - time.monotonic()
            if left is not None and left <= 0:
                raise CellTimeoutError(f"A cell timed out while it was being executed, after {timeout:g} seconds.")
            self.connection.settimeout(ALIVE_CHECK_SECONDS if left is None else min(left, ALIVE_CHECK_SECONDS))
            try:
                chunk = self.connection.recv(1 << 20)
            except TimeoutError:
                if not process_alive(self.pid):
                    raise DeadKernelError(f"the card's process died while {waiting_for}") from None
                continue
            except OSError as exc:
                raise DeadKernelError(f"the card's process died while {waiting_for} ({exc})") from None
            if not chunk:
                raise DeadKernelError(f"the card's process died while {waiting_for}")
            self.buffer += chunk
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        self.searched = 0
        return json.loads(line.decode("utf-8", "replace"))


def _runnable(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and bool(cell.source.strip()) and "skip-execution" not in cell.metadata.get("tags", [])


def _apply(nb: nbformat.NotebookNode | None, cell: nbformat.NotebookNode, answer: dict[str, Any], record_timing: bool = True) -> None:
    cell.outputs = [nbformat.from_dict(output) for output in answer["outputs"]]
    if answer.get("execution_count"):
        cell.execution_count = answer["execution_count"]
    if record_timing:
        cell.metadata["execution"] = answer["timing"]
    for update in answer.get("updates", []) if nb is not None else ():  # update_display() of an earlier cell's output
        target = nb.cells[update["cell"]].outputs[update["output"]]
        target["data"], target["metadata"] = nbformat.from_dict(update["data"]), nbformat.from_dict(update["metadata"])


def _log_streams(cell: nbformat.NotebookNode, log_output: bool, stdout_file: Any, stderr_file: Any) -> None:
    """Papermill's options for seeing the cells' streams as they run (its nbclient engine's behaviour)."""
    for output in cell.outputs:
        if output.output_type != "stream":
            continue
        target = stdout_file if output.name == "stdout" else stderr_file
        if target is not None:
            target.write(output.text)
            target.flush()
        if log_output:
            _log.info(output.text.rstrip("\n"))


class CellsEngine(Engine):
    """Papermill engine: the notebook's cells run in a child of the zygote (see the module docstring)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: float = 60,
        execution_timeout: float | None = None,
        timeout_func: Callable[[Any], float] | None = None,
        allow_errors: bool = False,
        **kwargs: Any,
    ) -> Any:
        if not runs_in_this_interpreter(kernel_name):
            kwargs.setdefault("kernel_manager_class", ForkingKernelManager)
            return NBClientEngine.execute_managed_notebook(
                nb_man, kernel_name, log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
                start_timeout=start_timeout, execution_timeout=execution_timeout, allow_errors=allow_errors,
                **({"timeout_func": timeout_func} if timeout_func else {}), **kwargs,
            )
        execution_timeout = execution_timeout or kwargs.get("timeout")  # as Papermill's nbclient engine reads them
        nb = nb_man.nb

        def stops(cell: nbformat.NotebookNode) -> bool:
            return not allow_errors and "raises-exception" not in cell.metadata.get("tags", [])

        cells = [[index, cell.source, cell.get("id"), stops(cell)] for index, cell in enumerate(nb.cells) if _runnable(cell)]
        env = {**os.environ, **dict(_kernel_spec(kernel_name)[1])}
        pid, connection = fork_cells(CELLS_PRELOAD, os.getcwd(), env)  # papermill has entered the notebook's cwd
        answers = _Answers(connection, pid)
        finished = False
        try:
            try:
                connection.sendall((json.dumps({"cells": cells}) + "\n").encode("utf-8"))
                hello = answers.next(start_timeout, "starting")
            except (OSError, DeadKernelError, CellTimeoutError) as exc:
                raise ZygoteError(f"the card's process did not start ({exc})") from None
            if hello.get("pid") != pid:
                raise ZygoteError(f"the zygote's reply (pid {pid}) and its child (pid {hello.get('pid')}) disagree")
            nb.metadata["language_info"] = hello["language_info"]
            for index, cell in enumerate(nb.cells):
                nb_man.cell_start(cell, index)
                try:
                    if not _runnable(cell):
                        continue
                    cell.outputs = []
                    limit = timeout_func(cell) if timeout_func else execution_timeout
                    answer = cls._answer(answers, pid, cell, index, None if not limit or limit < 0 else limit)
                    _apply(nb, cell, answer)
                    _log_streams(cell, log_output, stdout_file, stderr_file)
                    if not answer["ok"] and stops(cell):
                        nb_man.cell_exception(cell, cell_index=index)
                        break
                finally:
                    nb_man.cell_complete(cell, cell_index=index)
            with contextlib.suppress(CellTimeoutError, DeadKernelError):  # every cell has answered: nothing is lost
                last = answers.next(EXIT_GRACE_SECONDS, "finishing")  # it stops after a failing cell too
                finished = "done" in last
                _strays.extend(last.get("strays", []))
        finally:
            connection.close()
            # The closed socket ends the child: it stops what its cells started, its group with it. One that cannot
            # (stopped, failed or timed out while a cell holds the interpreter) is killed after a grace.
            _wait_for_exit(pid, EXIT_GRACE_SECONDS if finished else STOP_GRACE_SECONDS)
        return nb

    @staticmethod
    def _answer(answers: _Answers, pid: int, cell: nbformat.NotebookNode, index: int, limit: float | None) -> dict[str, Any]:
        """The cell's answer; one that runs too long is interrupted first, so that what it printed is kept, as nbclient
        keeps the outputs that arrived before a timeout."""
        try:
            return answers.next(limit, f"running cell {index}")
        except CellTimeoutError:
            kill_group(pid, signal.SIGINT)
            with contextlib.suppress(CellTimeoutError, DeadKernelError):
                _apply(None, cell, answers.next(INTERRUPT_GRACE_SECONDS, f"stopping cell {index}"))
            raise


papermill_engines.register(ENGINE_NAME, CellsEngine)
