"""A Papermill engine that runs a card's cells in a process forked from the worker's zygote, without a kernel.

A Jupyter kernel costs each card its start-up and readiness handshake, a
round trip per cell and a polled shutdown: most of what a batch spends
beyond the card's own work.  This engine keeps what matters of a kernel, a
fresh process per card in which no cell has run, with IPython executing the
cells and their outputs recorded as nbclient records a kernel's
(:mod:`evalkit.shell`), and drops the protocol.

It is registered under Papermill's ``papermill.engine`` entry point group as
:data:`ENGINE_NAME` (see ``pyproject.toml``) and chosen with
``papermill.execute_notebook(..., engine_name=ENGINE_NAME)``.  Papermill still
parameterises the notebook and keeps its metadata through the
``NotebookExecutionManager`` it hands every engine.  A notebook whose
kernelspec is not this interpreter's IPython kernel runs in a forked kernel
through Papermill's own nbclient engine instead.

As nbclient does: empty cells and cells tagged ``skip-execution`` are not
run, a failing cell stops the notebook unless it is tagged
``raises-exception``, a cell that outlives its timeout raises
``CellTimeoutError`` and a process that dies raises ``DeadKernelError``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.engines import Engine, NBClientEngine

from .kernels import CELLS_ENGINE_NAME, ForkingKernelManager, ForkingKernelSpecManager, launcher_args, process_alive, shared_zygote

__all__ = ["ENGINE_NAME", "CellsEngine", "runs_in_this_interpreter"]

#: the entry point name of :class:`CellsEngine` (group ``papermill.engine``)
ENGINE_NAME = CELLS_ENGINE_NAME

#: how long a finished child may take to exit before it is killed (its exit lets the batch find what it left running)
EXIT_GRACE_SECONDS = 5.0


@lru_cache(maxsize=16)
def _kernel_spec(kernel_name: str) -> tuple[bool, tuple[tuple[str, str], ...]]:
    spec = ForkingKernelSpecManager().get_kernel_spec(kernel_name)
    return launcher_args(spec.argv) is not None, tuple(sorted((spec.env or {}).items()))


def runs_in_this_interpreter(kernel_name: str) -> bool:
    """Whether the kernelspec starts this interpreter's IPython kernel (whose cells this engine can run itself)."""
    return _kernel_spec(kernel_name)[0]


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _wait_for_exit(pid: int, seconds: float) -> None:
    ends = time.monotonic() + seconds
    pause = 0.0005
    while process_alive(pid):
        if time.monotonic() > ends:
            _kill_group(pid)
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


class _Answers:
    """The child's answers, one JSON object per line, each awaited no longer than its cell may run."""

    def __init__(self, connection: socket.socket):
        self.connection = connection
        self.buffer = b""

    def next(self, timeout: float | None, waiting_for: str) -> dict[str, Any]:
        ends = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = None if ends is None else ends - time.monotonic()
            if left is not None and left <= 0:
                raise CellTimeoutError(f"A cell timed out while it was being executed, after {timeout:g} seconds.")
            self.connection.settimeout(left)
            try:
                chunk = self.connection.recv(1 << 20)
            except TimeoutError:
                continue
            if not chunk:
                raise DeadKernelError(f"the card's process died while {waiting_for}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)


def _runnable(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and bool(cell.source.strip()) and "skip-execution" not in cell.metadata.get("tags", [])


def _apply(nb: nbformat.NotebookNode, cell: nbformat.NotebookNode, answer: dict[str, Any], record_timing: bool = True) -> None:
    cell.outputs = [nbformat.from_dict(output) for output in answer["outputs"]]
    if answer.get("execution_count"):
        cell.execution_count = answer["execution_count"]
    if record_timing:
        cell.metadata["execution"] = answer["timing"]
    for update in answer.get("updates", []):  # update_display() of an earlier cell's output
        target = nb.cells[update["cell"]].outputs[update["output"]]
        target["data"], target["metadata"] = nbformat.from_dict(update["data"]), nbformat.from_dict(update["metadata"])


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
        **kwargs: Any,
    ) -> Any:
        if not runs_in_this_interpreter(kernel_name):
            kwargs.setdefault("kernel_manager_class", ForkingKernelManager)
            return NBClientEngine.execute_managed_notebook(
                nb_man, kernel_name, log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
                start_timeout=start_timeout, execution_timeout=execution_timeout,
                **({"timeout_func": timeout_func} if timeout_func else {}), **kwargs,
            )
        nb = nb_man.nb
        cells = [[index, cell.source, cell.get("id"), "raises-exception" not in cell.metadata.get("tags", [])]
                 for index, cell in enumerate(nb.cells) if _runnable(cell)]
        env = {**os.environ, **dict(_kernel_spec(kernel_name)[1])}
        pid, connection = shared_zygote().fork_cells(os.getcwd(), env)  # papermill has entered the notebook's cwd
        finished = False
        try:
            connection.sendall((json.dumps({"cells": cells}) + "\n").encode("utf-8"))
            answers = _Answers(connection)
            hello = answers.next(start_timeout, "starting")
            nb.metadata["language_info"] = hello["language_info"]
            for index, cell in enumerate(nb.cells):
                nb_man.cell_start(cell, index)
                try:
                    if not _runnable(cell):
                        continue
                    cell.outputs = []
                    limit = timeout_func(cell) if timeout_func else execution_timeout
                    answer = answers.next(limit or None, f"running cell {index}")
                    _apply(nb, cell, answer)
                    if not answer["ok"] and "raises-exception" not in cell.metadata.get("tags", []):
                        nb_man.cell_exception(cell, cell_index=index)
                        break
                finally:
                    nb_man.cell_complete(cell, cell_index=index)
            answers.next(start_timeout, "finishing")  # the child stops after a failing cell too
            finished = True
        finally:
            connection.close()
            if not finished:  # stopped, failed or timed out: the child and whatever its cells started end now
                _kill_group(pid)
            _wait_for_exit(pid, EXIT_GRACE_SECONDS)  # gone before the worker looks for what the card left running
        return nb
