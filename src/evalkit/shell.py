"""A card's cells run in an IPython shell without a kernel, their outputs recorded as a kernel's client records them.

This runs in a child forked from a zygote (:mod:`evalkit.zygote`),
one child per card, so every card still starts in a process in which no cell
has run.  What a Jupyter kernel would send over its IOPub channel is kept as
nbformat outputs instead, following what ipykernel sends and what nbclient
makes of it:

- ``print`` and warnings are buffered per stream and flushed, stdout then
  stderr, when the code flushes, before any rich output and at the end of
  the cell (ipykernel's ``OutStream`` and ``ZMQDisplayPublisher``); each flush
  is one ``stream`` output, as each stream message is for nbclient;
- ``display()`` is a ``display_data`` output; ``update_display`` changes every
  output with that ``display_id`` (also in an earlier cell) and
  ``clear_output(wait=...)`` clears the cell now or before its next output;
- a cell's last expression is an ``execute_result`` with the cell's count;
- an exception is an ``error`` output with IPython's own traceback text;
- what is written straight to file descriptors 1 and 2 (``os.system``, C
  libraries) joins the cell's streams, as ipykernel captures it.

The shell is set up as ipykernel's ``ZMQInteractiveShell`` is where the cells
can tell: its compiler, environment variables, no virtualenv detection, no
pager, ``input()`` refused, inline matplotlib and no GUI event loops.

The worker sends one JSON line, the cells to run; the child answers one JSON
line per cell, then ``{"done": true}``, encoded as jupyter_client encodes its
messages.  :mod:`evalkit.engine` is the other side.
"""

from __future__ import annotations

import builtins
import codecs
import getpass
import io
import json
import os
import select
import socket
import sys
import threading
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, BinaryIO

from ipykernel.compiler import XCachingCompiler
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.shellapp import InteractiveShellApp
from jupyter_client.jsonutil import json_default
from traitlets import Type
from traitlets.config import Config

__all__ = ["Outputs", "CellShell", "DescriptorCapture", "prepare", "start_shell", "serve", "now", "encode"]

STREAMS = ("stdout", "stderr")


def now() -> str:
    """A timestamp as nbclient records one in a cell's ``metadata.execution``."""
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class Outputs:
    """The outputs of the running cell, and changes to earlier cells' outputs (by ``display_id``)."""

    def __init__(self) -> None:
        self.cell = -1
        self.outputs: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []  # {"cell", "output", "data", "metadata"} for earlier cells
        self._buffers: dict[str, list[str]] = {name: [] for name in STREAMS}
        self.lock = threading.RLock()  # cells' threads and the descriptor readers write too
        self.collect: Callable[[], None] = lambda: None  # gathers what is pending elsewhere (the descriptors) before a flush
        self._clear_before_next = False
        self._display_ids: dict[str, dict[int, list[int]]] = {}  # display_id -> cell -> output indexes (nbclient's map)
        self._earlier: dict[int, list[dict[str, Any]]] = {}  # outputs of earlier cells that a display_id points at

    def start_cell(self, cell: int) -> None:
        if self.outputs:
            self._earlier[self.cell] = self.outputs
        self.cell, self.outputs, self.updates = cell, [], []
        self._clear_before_next = False

    def end_cell(self) -> list[dict[str, Any]]:
        self.flush_streams()
        return self.outputs

    def write(self, name: str, text: str) -> None:
        with self.lock:
            self._buffers[name].append(text)

    def flush_streams(self) -> None:
        with self.lock:
            self.collect()
            for name in STREAMS:
                text = "".join(self._buffers[name])
                self._buffers[name].clear()
                if text:
                    self._add({"output_type": "stream", "name": name, "text": text})

    def _add(self, output: dict[str, Any], display_id: str | None = None) -> None:
        if self._clear_before_next:
            self._clear_now()
        if display_id:
            self._display_ids.setdefault(display_id, {}).setdefault(self.cell, []).append(len(self.outputs))
        self.outputs.append(output)

    def _clear_now(self) -> None:
        self.outputs.clear()
        self._clear_before_next = False
        for cells in self._display_ids.values():
            cells.pop(self.cell, None)

    def display(self, data: dict, metadata: dict | None, transient: dict | None, update: bool) -> None:
        self.flush_streams()
        if not isinstance(data, dict) or not isinstance(metadata or {}, dict):
            raise TypeError(f"display data and metadata must be dicts, got {type(data).__name__} and {type(metadata).__name__}")
        encode({"data": data, "metadata": metadata})  # what a kernel could not send fails the display() call, as there
        display_id = (transient or {}).get("display_id")
        for cell, indexes in (self._display_ids.get(display_id) or {}).items() if display_id else ():
            for index in indexes:  # as nbclient does for display_data too: every output with that id shows the new data
                self._update(cell, index, data, metadata or {})
        if not update:
            self._add({"output_type": "display_data", "data": data, "metadata": metadata or {}}, display_id)

    def _update(self, cell: int, index: int, data: dict, metadata: dict) -> None:
        if cell == self.cell:
            self.outputs[index].update(data=data, metadata=metadata)
            return
        earlier = self._earlier.get(cell)
        if earlier is not None and index < len(earlier):
            earlier[index].update(data=data, metadata=metadata)
            self.updates = [u for u in self.updates if (u["cell"], u["output"]) != (cell, index)]  # the last one counts
            self.updates.append({"cell": cell, "output": index, "data": data, "metadata": metadata})

    def execute_result(self, data: dict, metadata: dict, count: int) -> None:
        self.flush_streams()
        encode({"data": data, "metadata": metadata})
        if data:
            self._add({"output_type": "execute_result", "data": data, "metadata": metadata, "execution_count": count})

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self.flush_streams()
        self._add({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": list(traceback)})

    def clear(self, wait: bool) -> None:
        self.flush_streams()
        if wait:
            self._clear_before_next = True
        else:
            self._clear_now()


class OutputStream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` of the cells: text goes to :class:`Outputs`, never to a terminal."""

    def __init__(self, name: str, outputs: Outputs):
        super().__init__()
        self.name, self._outputs = name, outputs

    @property
    def encoding(self) -> str:
        return "UTF-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        """The descriptor the process was given (as ipykernel's streams answer): what a subprocess writes there is
        captured too, unless the capture is off."""
        return STREAMS.index(self.name) + 1

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._outputs.write(self.name, text)
        return len(text)

    def flush(self) -> None:
        self._outputs.flush_streams()


class OutputsDisplayHook(DisplayHook):
    """A cell's last expression becomes an ``execute_result`` (ipykernel's ``ZMQShellDisplayHook``, kept locally)."""

    def start_displayhook(self) -> None:
        super().start_displayhook()
        self._pending: tuple[dict, dict] | None = None

    def write_output_prompt(self) -> None:
        """No prompt: the count goes with the result."""

    def write_format_data(self, format_dict: dict, md_dict: dict | None = None) -> None:
        self._pending = (format_dict, md_dict or {})

    def finish_displayhook(self) -> None:
        super().finish_displayhook()
        if self._pending is not None:
            self.shell.outputs.execute_result(*self._pending, count=self.prompt_count)
        self._pending = None


class OutputsDisplayPublisher(DisplayPublisher):
    """``display()``, ``update_display()`` and ``clear_output()`` kept as outputs (ipykernel's ``ZMQDisplayPublisher``)."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:
        self.shell.outputs.display(data, metadata, transient, update)

    def clear_output(self, wait: bool = False) -> None:
        self.shell.outputs.clear(wait)


class CellShell(InteractiveShell):
    """An IPython shell whose displays, results and tracebacks are recorded in :attr:`outputs`."""

    displayhook_class = Type(OutputsDisplayHook)
    display_pub_class = Type(OutputsDisplayPublisher)

    def __init__(self, **kwargs: Any):
        self.outputs = Outputs()
        self.failed_in_displayhook = False
        super().__init__(**kwargs)

    def _showtraceback(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
        """IPython's documented hook for where a traceback goes (ipykernel sends it as an ``error`` message)."""
        if self.displayhook.is_active:  # a result's _repr_ failed: the cell failed, as ipykernel reports it
            self.failed_in_displayhook = True
        self.outputs.error(str(etype.__name__), str(evalue), stb)

    def init_virtualenv(self) -> None:
        """No virtualenv detection, as in ipykernel: the cells run in the interpreter evalkit runs in."""

    def init_environment(self) -> None:
        """The environment variables ipykernel's shell sets: colours on, pagers off."""
        os.environ.update(TERM="xterm-color", CLICOLOR="1", FORCE_COLOR="1", CLICOLOR_FORCE="1", PAGER="cat", GIT_PAGER="cat")

    def enable_gui(self, gui: str | None = None) -> None:
        """Inline charts only: a GUI event loop needs a kernel (``--kernels``)."""
        if gui not in (None, "inline"):
            raise UsageError(f"the {gui!r} event loop needs a Jupyter kernel: run the batch with --kernels")
        self.active_eventloop = gui


def _no_input(*args: Any, **kwargs: Any) -> str:
    raise StdinNotImplementedError("raw_input was called, but this frontend does not support stdin.")


class DescriptorCapture:
    """Whatever is written to file descriptors 1 and 2 becomes stream text, as ipykernel's ``OutStream`` watches them.

    A thread per descriptor reads its pipe while the cell runs; :meth:`drain` reads what is left before each flush of
    the streams, so that what a finished subprocess wrote comes before what the cell shows next, in its own cell.
    """

    def __init__(self, outputs: Outputs):
        self.outputs = outputs
        self.pipes: dict[str, int] = {}
        self.decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in STREAMS}
        for number, name in enumerate(STREAMS, start=1):
            read, write = os.pipe()
            os.dup2(write, number)
            os.close(write)
            os.set_blocking(read, False)
            self.pipes[name] = read
            threading.Thread(target=self._watch, args=(name,), daemon=True, name=f"evalkit-{name}-capture").start()
        outputs.collect = self.drain

    def _read(self, name: str) -> bool:
        """Read what the pipe has now (under the outputs' lock); False once it is closed."""
        with self.outputs.lock:
            while True:
                try:
                    chunk = os.read(self.pipes[name], 1 << 16)
                except BlockingIOError:
                    return True
                if not chunk:
                    return False
                self.outputs.write(name, self.decoders[name].decode(chunk))

    def _watch(self, name: str) -> None:
        while True:
            select.select([self.pipes[name]], [], [])
            if not self._read(name):
                return

    def drain(self) -> None:
        for name in STREAMS:
            self._read(name)


def _shell() -> CellShell:
    """The process's shell, made on first use (in the zygote by :func:`prepare`, or else in the card's process)."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # a kernel's history is not kept here; nothing is written
    # ipykernel's compiler names cells as a kernel does (warnings and tracebacks show the same file names)
    return CellShell.instance(config=config, compiler_class=XCachingCompiler)


def prepare() -> None:
    """In the zygote, before it forks: make the shell once (no cell ever runs in the zygote), so that each card's
    process inherits it instead of spending 0.025 s making its own; :func:`start_shell` then sets what depends on
    the process."""
    _shell()


def start_shell() -> CellShell:
    """The shell a kernel would give the cells: ``__main__`` namespace, the working folder importable, inline charts."""
    shell = _shell()
    shell.starting_dir = os.getcwd()  # a shell made in the zygote saw the zygote's folder and environment
    shell.history_manager.dir_hist[:] = [os.getcwd()]  # ``_dh``
    shell.init_environment()
    for name in STREAMS:
        setattr(sys, name, OutputStream(name, shell.outputs))
    InteractiveShellApp().init_path()  # the notebook's folder importable, where a kernel's shell puts it
    shell.set_hook("show_in_pager", _no_pager)  # a kernel sends help (obj?) to the front end, not to the cell's output
    builtins.input = getpass.getpass = _no_input  # a batch has nobody to answer
    sys.argv = [sys.argv[0]]
    # scrapbook warns when no kernel is attached, but its glue is a display, recorded like any other
    warnings.filterwarnings("ignore", message="No kernel detected", module="scrapbook")
    return shell


def _no_pager(*args: Any, **kwargs: Any) -> None:
    """Help text goes nowhere, as a kernel's pager payload goes to the front end and not into the notebook."""


def encode(message: dict[str, Any]) -> bytes:
    """One line of JSON as jupyter_client packs a message (``json_default``, no NaN, surrogates escaped to bytes)."""
    text = json.dumps(message, default=json_default, ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _send(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(encode(message) + b"\n")
    stream.flush()


def serve(connection: socket.socket, language_info: dict[str, Any], finish: Callable[[], dict[str, Any]] | None = None) -> None:
    """Run the cells the worker sends on ``connection``, answering each with its outputs.

    The request: ``{"cells": [[index, source, cell_id, stop_on_error], ...]}``.
    Each answer: ``{"cell", "execution_count", "outputs", "updates", "ok", "timing"}``; the
    cells stop at the first failure of a cell with ``stop_on_error``.  The last answer is
    ``{"done": true}`` with what ``finish`` adds (the processes the cells left running).
    """
    with connection.makefile("rb") as requests, connection.makefile("wb") as answers:
        request = json.loads(requests.readline())
        shell = start_shell()
        DescriptorCapture(shell.outputs)  # fds 1 and 2 from here on
        _send(answers, {"language_info": language_info, "pid": os.getpid()})
        for index, source, cell_id, stop_on_error in request["cells"]:
            shell.outputs.start_cell(index)
            shell.failed_in_displayhook = False
            busy = now()
            result = shell.run_cell(source, store_history=True, silent=False, cell_id=cell_id)
            replied = now()
            outputs = shell.outputs.end_cell()
            ok = result.success and not shell.failed_in_displayhook
            _send(answers, {
                "cell": index, "execution_count": shell.execution_count - 1, "outputs": outputs,
                "updates": shell.outputs.updates, "ok": ok,
                "timing": {"iopub.status.busy": busy, "iopub.execute_input": busy, "shell.execute_reply": replied,
                           "iopub.status.idle": now()},
            })
            if stop_on_error and not ok:
                break
        _send(answers, {"done": True, **(finish() if finish else {})})
