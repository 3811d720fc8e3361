"""Planning a batch: which program × cycle cards to render, with which notebook and parameters.

Pure apart from reading the cycle and program files it plans for.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cycle import Cycle
from .errors import ProgramDataError
from .loader import load_program, program_files, programs_dir, read_yaml
from .years import fiscal_year

__all__ = ["Job", "JobResult", "RunSettings", "machine_labels", "SheetYears", "plan_jobs", "notebook_for"]

TEMPLATE_NOTEBOOK = "report_card.ipynb"

#: program file -> (evaluation years it has sheets for, or None when unreadable; its validation error)
SheetYears = dict[Path, tuple[set[int] | None, str | None]]


@dataclass(frozen=True)
class Job:
    program_id: str
    fiscal_year: int
    notebook: Path
    program_file: Path
    cycle_file: Path
    out_dir: Path  # outputs/<year>
    parameters: dict = field(hash=False)
    data_error: str | None = None  # the program file is invalid: fail without starting a kernel

    @property
    def key(self) -> str:
        return f"{self.fiscal_year}/{self.program_id}"

    @property
    def html(self) -> Path:
        return self.out_dir / f"{self.program_id}.html"

    @property
    def executed(self) -> Path:
        return self.out_dir / f"{self.program_id}.ipynb"

    @property
    def failed_html(self) -> Path:
        return self.out_dir / f"{self.program_id}.failed.html"


@dataclass
class JobResult:
    key: str
    program_id: str
    fiscal_year: int
    ok: bool
    seconds: float
    error: str | None = None
    retry: bool = False  # the run failed, not the data or the notebook (timeout, dead kernel or worker): retry next run
    notes: list[str] = field(default_factory=list)  # what the user should know about a card that rendered
    record: dict[str, Any] = field(default_factory=dict)  # the scraps the index needs
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # its rows of each open-data file


@dataclass(frozen=True)
class RunSettings:
    """How a worker runs each card (the batch's options that matter inside a worker); here, not in
    :mod:`evalkit.execute`, so that the batch's own process never imports nbconvert."""

    work_dir: Path  # where papermill writes the notebook while it runs (not published)
    timeout: float | None = None
    kernel_name: str | None = None
    fork_kernels: bool = True
    #: with fork_kernels: run the cells in a Jupyter kernel forked from the zygote, not in a forked IPython shell
    kernels: bool = False
    max_card_bytes: int = 20 * 2**20
    #: absolute folders -> what a published page says instead (no machine's path is published)
    path_labels: tuple[tuple[str, str], ...] = ()


def machine_labels() -> dict[str, str]:
    """This machine's folders outside any project that a page may show (evalkit's source, Python, the home folder)."""
    return {str(Path(__file__).resolve().parent): "evalkit", sys.prefix: "<python>", sys.base_prefix: "<python>", str(Path.home()): "~"}


def notebook_for(notebooks_dir: Path, program_id: str) -> Path:
    """``notebooks/<id>.ipynb`` when the program has its own, else the shared template."""
    own = notebooks_dir / f"{program_id}.ipynb"
    return own if own.exists() else notebooks_dir / TEMPLATE_NOTEBOOK


def _sheet_years(path: Path) -> tuple[set[int] | None, str | None]:
    """Years the program has sheets for, and its validation error; ``None`` years when unreadable."""
    try:
        program = load_program(path)
        return set(program.sheets), None
    except ProgramDataError as exc:
        error = str(exc)
    try:  # an invalid file may still say which cycles it belongs to
        sheets = read_yaml(path).get("sheets")
        return {fiscal_year(k) for k in sheets}, error
    except Exception:  # noqa: BLE001 - unreadable: report it in every cycle
        return None, error


def plan_jobs(
    cycles: list[tuple[Path, Cycle]],
    data_dir: Path,
    out_dir: Path,
    notebooks_dir: Path,
    sheet_years: SheetYears | None = None,
) -> list[Job]:
    """Every cycle (``(file, cycle)`` pairs, as :func:`~evalkit.loader.load_cycles` gives them) × every program
    it selects (default: programs with a sheet that year).

    ``sheet_years`` may carry already-known results of :func:`_sheet_years` (from the cache)
    so an unchanged program file is not parsed again.
    """
    folder = programs_dir(data_dir)
    files = {p.stem: p for p in program_files(data_dir)}
    known = sheet_years if sheet_years is not None else {}
    jobs: list[Job] = []
    for cycle_file, cycle in cycles:
        for program_id in _selected(cycle, files, known):
            path = files.get(program_id, folder / f"{program_id}.yaml")
            if not path.exists():
                error: str | None = f"{path}: file not found (listed in {cycle_file})"
            else:
                if path not in known:  # listed by the cycle rather than found by its sheets: validate it now
                    known[path] = _sheet_years(path)
                error = known[path][1]
            notebook = notebook_for(notebooks_dir, program_id)
            jobs.append(
                Job(
                    program_id=program_id,
                    fiscal_year=cycle.fiscal_year,
                    notebook=notebook,
                    program_file=path,
                    cycle_file=cycle_file,
                    out_dir=out_dir / str(cycle.fiscal_year),
                    parameters=_parameters(cycle, program_id, data_dir, cycle_file.parent, notebook.parent),
                    data_error=error,
                )
            )
    return jobs


def _selected(cycle: Cycle, files: dict[str, Path], known: dict) -> list[str]:
    if cycle.programs is not None:
        return list(cycle.programs)
    selected = []
    for program_id, path in files.items():
        if path not in known:
            known[path] = _sheet_years(path)
        years, _ = known[path]
        if years is None or cycle.fiscal_year in years:
            selected.append(program_id)
    return selected


def _parameters(cycle: Cycle, program_id: str, data_dir: Path, params_dir: Path, notebook_dir: Path) -> dict:
    """What papermill injects: the required three plus the cycle's other keys (filtered later to those declared).

    ``data_dir`` and ``params_dir`` (every cycle, for the previous status) are relative to the notebook's folder, where it runs: no
    machine's absolute path reaches a published notebook, and a project that
    is moved or copied keeps its cache.
    """
    params = {
        "program_id": program_id,
        "fiscal_year": int(cycle.fiscal_year),
        "data_dir": os.path.relpath(data_dir.resolve(), notebook_dir.resolve()),
        "params_dir": os.path.relpath(params_dir.resolve(), notebook_dir.resolve()),
        "results_lag": int(cycle.results_lag),
        "title": cycle.title or "",
        "thresholds": cycle.thresholds.model_dump(),
    }
    if cycle.rating is not None:
        params["rating"] = {"measure": cycle.rating.measure, "bands": [[b.bound, b.label] for b in cycle.rating.bands]}
    return params
