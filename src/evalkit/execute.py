"""Running one card: parameter checks, a Papermill run, HTML export, atomic writes.

Runs inside a worker process (papermill's working directory is process-wide,
so two cards never run at once in one process).  :func:`render_job` makes a
card's pages without writing into the output folder and :func:`publish` writes
them, so that a card can be rendered on another machine (:mod:`evalkit.cluster`)
and published here; :func:`run_job` does both.  A failure never touches the
previous good card: everything is written to temporary files and renamed into
place only on success.
"""

from __future__ import annotations

import math
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat

from .errors import ProgramDataError
from .export import notebook_to_html
from .iorw import printable, write_atomic, write_atomic_many
from .jobs import Job, JobResult, RunSettings, machine_labels

__all__ = [
    "ParameterError", "NotebookTimeout", "CardTooLarge", "RunSettings", "RUN_FAILURES", "Rendered",
    "declared_parameters", "check_parameters", "render_job", "publish", "run_job", "scrub_paths", "machine_labels",
]

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
    "dict": (dict,), "list": (list, tuple), "None": (type(None),), "NoneType": (type(None),),
}


class ParameterError(ValueError):
    """The parameters do not match what the notebook's ``parameters`` cell declares."""


@lru_cache(maxsize=64)
def _inspect(notebook: str, mtime: float) -> dict:  # mtime: part of the cache key, so an edited notebook is read again
    import papermill

    return papermill.inspect_notebook(notebook)


def declared_parameters(notebook: Path) -> dict:
    """The notebook's annotated parameters (papermill.inspect_notebook), cached per file version."""
    return _inspect(str(notebook), notebook.stat().st_mtime)


def _builtin(value: Any) -> Any:
    """Plain Python types: papermill would render numpy ints and the like as strings."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, dict):
        return {str(k): _builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_builtin(v) for v in value]
    return value


def check_parameters(notebook: Path, parameters: dict, required: tuple[str, ...] = ("program_id", "fiscal_year", "data_dir")) -> dict:
    """Keep the parameters the notebook declares, cast to built-ins, and check their types.

    The required ones must be declared; a value whose type contradicts the
    declared annotation is an error naming the notebook and the parameter.
    """
    declared = declared_parameters(notebook)
    missing = [name for name in required if name not in declared]
    if missing:
        raise ParameterError(f"{notebook}: the parameters cell does not declare {', '.join(missing)}")
    checked = {}
    for name, value in parameters.items():
        if name not in declared:
            continue  # an optional cycle key this notebook does not use (required ones were checked above)
        value = _builtin(value)
        type_name = declared[name].get("inferred_type_name") or "None"
        allowed = [t for part in type_name.replace("Optional[", "").rstrip("]").split("|") for t in _TYPES.get(part.strip(), ())]
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if allowed and (wrong_bool or not isinstance(value, tuple(allowed))):
            raise ParameterError(f"{notebook}: parameter {name!r}: expected {type_name}, got {type(value).__name__} {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"{notebook}: parameter {name!r}: expected a finite number, got {value!r}")
        checked[name] = value
    return checked


class NotebookTimeout(Exception):
    """The whole notebook ran longer than ``--timeout`` (a failure of the run, retried next time)."""


class CardTooLarge(Exception):
    """The card would exceed the size limit: a cell printed or drew far too much."""


#: exceptions that say the run went wrong rather than the data or the notebook: retried on the next run
RUN_FAILURES = ("NotebookTimeout", "DeadKernelError", "CellTimeoutError", "TimeoutError", "MemoryError", "OSError", "ZygoteError")


def _timed_out(seconds: float) -> NotebookTimeout:
    return NotebookTimeout(f"the notebook ran longer than {seconds:g} s")


@contextmanager
def _deadline(seconds: float | None) -> Iterator[Callable[[Any], float] | None]:
    """Stop the whole notebook after ``seconds`` (per-cell timeouts alone let long notebooks run on).

    Yields nbclient's ``timeout_func``: each cell may take only what is left, which works in any thread (a Dask
    worker runs cards in one of its threads).  In the main thread SIGALRM also covers what is not a cell.
    """
    if not seconds:
        yield None
        return
    ends = time.monotonic() + seconds

    def left(cell: Any) -> float:
        return max(ends - time.monotonic(), 0.001)  # never 0: nbclient reads 0 as no limit

    if threading.current_thread() is not threading.main_thread():
        yield left
        return

    def expire(signum: int, frame: object) -> None:
        raise _timed_out(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield left
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@lru_cache(maxsize=16)
def _path_pattern(labels: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One pattern for all the folders, longest first (a folder inside another is tried after it), and their labels."""
    names: dict[str, str] = {}
    for folder, label in labels:
        if folder and folder != "/":
            names.setdefault(folder, label)
    if not names:
        return None, names
    folders = "|".join(re.escape(folder) for folder in sorted(names, key=len, reverse=True))
    return re.compile(r"(?<![A-Za-z0-9+/=._-])(" + folders + r")(?=[/\\\s\"'<>:;,)\]]|$)"), names


def scrub_paths(text: str, labels: tuple[tuple[str, str], ...]) -> str:
    """Replace the machine's absolute folders by neutral labels, longest first, where they stand as paths:
    not preceded by a character that could continue a word or a base64 image, and ending at a separator.
    One pass over the text (a page is a few hundred kilobytes, and there are about ten folders)."""
    pattern, names = _path_pattern(tuple(labels))
    return pattern.sub(lambda match: names[match.group(1)], text) if pattern else text


def _error_text(exc: BaseException) -> str:
    """One line for the index: a notebook's own error as ``Name: value``; a data error exactly as the loader words it."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename == "ProgramDataError" or isinstance(exc, ProgramDataError):
        return printable(str(evalue if ename else exc))
    if ename:
        return printable(f"{ename}: {evalue}")
    return printable(f"{type(exc).__name__}: {exc}")


def _is_run_failure(exc: BaseException) -> bool:
    """A cell's own exception is the notebook's (only running out of memory is the run's); otherwise by class."""
    ename = getattr(exc, "ename", None)
    if ename:
        return ename == "MemoryError"
    return any(cls.__name__ in RUN_FAILURES for cls in type(exc).__mro__)


def _publishable(node: nbformat.NotebookNode, job: Job, settings: RunSettings) -> str:
    """The executed notebook as published: papermill's paths relative, no absolute folder anywhere."""
    papermill_meta = node.metadata.get("papermill", {})
    papermill_meta["input_path"] = f"{job.notebook.parent.name}/{job.notebook.name}"
    papermill_meta["output_path"] = f"{job.fiscal_year}/{job.executed.name}"
    return scrub_paths(nbformat.writes(node), settings.path_labels)


def _trimmed(node: nbformat.NotebookNode, limit: int) -> nbformat.NotebookNode:
    """The failing notebook with any output too large to publish replaced by a note (the error cell is small)."""
    share = max(limit // 20, 10_000)
    for cell in node.cells:
        for output in cell.get("outputs", []):
            texts = [output.get("text")] + list(output.get("data", {}).values())
            if sum(len(str(t)) for t in texts if t) > share:
                output.clear()
                note = f"（出力が大きすぎるため省略しました：{share:,}文字を超えています）\n"
                output.update(nbformat.v4.new_output("stream", name="stdout", text=note))
    return node


def _unwritten(exc: BaseException) -> str:
    return f"(the page showing the failing cell could not be written: {type(exc).__name__})"


def _failed_page(job: Job, partial: Path, settings: RunSettings) -> tuple[str | None, str | None]:
    """The notebook with its failing cell, code shown, or why it could not be made; never raises."""
    try:
        if not partial.exists():
            return None, None
        failed = _trimmed(nbformat.read(str(partial), as_version=4), settings.max_card_bytes)
        page = notebook_to_html(failed, title=f"{job.program_id} — 実行エラー", show_code=True)
        return printable(scrub_paths(page, settings.path_labels)), None
    except Exception as exc:  # noqa: BLE001 - the failure of a failure page must not hide the first failure
        return None, _unwritten(exc)


@dataclass
class Rendered:
    """A card rendered but not yet published: its outcome and what :func:`publish` writes into its cycle's folder."""

    result: JobResult
    html: str | None = None  # with ``executed``: the card and its executed notebook, replaced together
    executed: str | None = None
    failed_page: str | None = None  # ``<id>.failed.html``: the failing cell, code shown
    drop_failed_page: bool = False  # an earlier run's failing page no longer applies


def render_job(job: Job, settings: RunSettings) -> Rendered:
    """Execute one card and make its pages, writing nothing into the output folder (:func:`publish` does).

    With ``settings.fork_kernels`` the cells run in a process forked from this process's zygote, without a kernel
    (:mod:`evalkit.engine`), or with ``settings.kernels`` in a kernel forked from it (:mod:`evalkit.kernels`).
    Papermill's notebook is kept in ``settings.work_dir`` while it runs.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError

    from . import scraps
    from .engine import ENGINE_NAME, take_strays
    from .kernels import ForkingKernelManager
    from .processes import stop_strays
    from .zygote_client import kept_children

    started = time.perf_counter()
    result = JobResult(key=job.key, program_id=job.program_id, fiscal_year=job.fiscal_year, ok=False, seconds=0.0)
    if job.data_error:
        result.error = printable(scrub_paths(job.data_error, settings.path_labels))
        result.seconds = time.perf_counter() - started
        return Rendered(result, drop_failed_page=True)  # an earlier run's failing cell is not this failure
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    partial = settings.work_dir / f"{job.fiscal_year}-{job.program_id}.ipynb"
    try:
        parameters = check_parameters(job.notebook, job.parameters)
        with _deadline(settings.timeout) as cell_timeout:
            node = papermill.execute_notebook(
                str(job.notebook),
                str(partial),
                parameters=parameters,
                kernel_name=settings.kernel_name,
                progress_bar=False,
                request_save_on_cell_execute=False,
                log_output=False,
                cwd=str(job.notebook.parent),
                execution_timeout=settings.timeout,
                **({"timeout_func": cell_timeout} if cell_timeout else {}),
                **({"kernel_manager_class": ForkingKernelManager} if settings.fork_kernels and settings.kernels else {}),
                **({"engine_name": ENGINE_NAME} if settings.fork_kernels and not settings.kernels else {}),
            )
        recorded = scraps.from_node(node)
        html = notebook_to_html(node, title=f"{recorded['program']['name']} — {job.fiscal_year}年度 通知表")
        html = scrub_paths(html, settings.path_labels)
        executed = _publishable(node, job, settings)
        size = len(html.encode("utf-8", "backslashreplace"))
        if size > settings.max_card_bytes:
            raise CardTooLarge(
                f"the card would be {size / 2**20:.1f} MiB, more than the limit of {settings.max_card_bytes / 2**20:g} MiB "
                "(--max-card-mb): a cell printed or drew far too much"
            )
    except KeyboardInterrupt:
        raise  # the run is being stopped: write nothing more
    except BaseException as exc:  # noqa: BLE001 - any failure stops this card only
        if isinstance(exc, CellTimeoutError) and settings.timeout:
            exc = _timed_out(settings.timeout)  # a cell was given what was left of the notebook's time
        result.error = scrub_paths(_error_text(exc), settings.path_labels)
        result.retry = _is_run_failure(exc)
        page, problem = _failed_page(job, partial, settings)
        if problem:
            result.error += f" {problem}"
        result.seconds = time.perf_counter() - started
        return Rendered(result, failed_page=page)
    finally:
        partial.unlink(missing_ok=True)
        strays = take_strays() + stop_strays(kept_children())
    if strays:  # started by a cell in a session of its own, it outlived the kernel
        result.notes.append(f"stopped {len(strays)} process(es) the notebook left running: {'; '.join(s[:160] for s in strays)}")
    result.ok = True
    result.record = scraps.index_record(recorded)
    result.tables = scraps.open_data_tables(recorded)
    result.seconds = time.perf_counter() - started
    return Rendered(result, html=html, executed=executed, drop_failed_page=True)


def publish(job: Job, rendered: Rendered, labels: tuple[tuple[str, str], ...] = ()) -> JobResult:
    """Write a rendered card's pages into its cycle's folder, each atomically; returns its outcome.

    A card that cannot be written (a full disk) fails alone and keeps its previous pages; ``labels`` scrub the
    error as :attr:`RunSettings.path_labels` do.
    """
    result = rendered.result
    try:
        if rendered.html is not None and rendered.executed is not None:
            write_atomic_many({job.html: rendered.html, job.executed: rendered.executed})
    except Exception as exc:  # noqa: BLE001 - this card only
        result.ok, result.retry = False, _is_run_failure(exc)
        result.error = scrub_paths(_error_text(exc), labels)
        return result
    if rendered.failed_page is not None:
        try:
            write_atomic(job.failed_html, rendered.failed_page)
        except Exception as exc:  # noqa: BLE001 - the failure of a failure page must not hide the first failure
            result.error = f"{result.error} {_unwritten(exc)}"
    if rendered.drop_failed_page:
        job.failed_html.unlink(missing_ok=True)
    return result


def run_job(job: Job, settings: RunSettings) -> JobResult:
    """Execute one card here; on success replace its HTML and executed notebook, on failure keep them."""
    return publish(job, render_job(job, settings), settings.path_labels)
