"""Running one card: parameter checks, a Papermill run, HTML export, atomic writes.

Runs inside a worker process (papermill's working directory is process-wide,
so threads would not do).  A failure never touches the previous good card:
everything is written to temporary files and renamed into place only on success.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat

from .export import notebook_to_html
from .iorw import write_atomic
from .jobs import Job, JobResult

__all__ = ["ParameterError", "declared_parameters", "check_parameters", "run_job"]

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
    pass


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the whole notebook after ``seconds`` (per-cell timeouts alone let long notebooks run on)."""
    if not seconds:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise NotebookTimeout(f"the notebook ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return f"{type(exc).__name__}: {exc}"


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def run_job(job: Job, timeout: float | None = None, kernel_name: str | None = None, fork_kernels: bool = True) -> JobResult:
    """Execute one card; on success replace its HTML and executed notebook, on failure keep them.

    With ``fork_kernels`` the kernel is forked from this process's zygote (:mod:`evalkit.kernels`).
    """
    import papermill

    from . import scraps
    from .kernels import ForkingKernelManager

    started = time.perf_counter()
    result = JobResult(key=job.key, program_id=job.program_id, fiscal_year=job.fiscal_year, ok=False, seconds=0.0)
    if job.data_error:
        result.error = job.data_error
        result.seconds = time.perf_counter() - started
        return result
    job.out_dir.mkdir(parents=True, exist_ok=True)
    partial = _tmp(job.executed)
    try:
        parameters = check_parameters(job.notebook, job.parameters)
        with _deadline(timeout):
            node = papermill.execute_notebook(
                str(job.notebook),
                str(partial),
                parameters=parameters,
                kernel_name=kernel_name,
                progress_bar=False,
                request_save_on_cell_execute=False,
                log_output=False,
                cwd=str(job.notebook.parent),
                execution_timeout=timeout,
                **({"kernel_manager_class": ForkingKernelManager} if fork_kernels else {}),
            )
        recorded = scraps.from_node(node)
        html = notebook_to_html(node, title=f"{recorded['program']['name']} — {job.fiscal_year}年度 通知表")
    except BaseException as exc:
        result.error = _error_text(exc)
        if partial.exists():  # papermill saved the notebook with the failing cell: show it
            failed = nbformat.read(str(partial), as_version=4)
            write_atomic(job.failed_html, notebook_to_html(failed, title=f"{job.program_id} — 実行エラー", show_code=True))
            partial.unlink(missing_ok=True)
        if isinstance(exc, KeyboardInterrupt):
            raise
        result.seconds = time.perf_counter() - started
        return result
    write_atomic(job.html, html)
    partial.replace(job.executed)
    job.failed_html.unlink(missing_ok=True)
    result.ok = True
    result.record = scraps.index_record(recorded)
    result.rows = scraps.summary_rows(recorded)
    result.seconds = time.perf_counter() - started
    return result
