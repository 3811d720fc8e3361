"""``evalkit check``: validate data files before a batch, one ``file: key.path: message`` line per problem.

For the people who keep the data: no traceback, nothing printed for a valid
file.  A path may be a program file, a cycle file or a folder of either
(searched recursively); which kind a file is follows from where it lives
(``params/`` or a file named ``<year>.yaml``: a cycle; ``programs/``: a
program) or, elsewhere, from its content (a top-level ``fiscal_year`` and no
``id``: a cycle).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from .card import check_conclusions
from .cycle import Cycle
from .diagnostics import diagnose
from .errors import ProgramDataError
from .loader import PLAN_FILE, load_cycle, load_cycles, load_plan, load_program, program_files, read_yaml
from .model import Program
from .plan import CityPlan, policy_problem

__all__ = ["DataFile", "data_files", "file_kind", "check_file", "check_paths", "cycle_diagnostics"]

DataFile = Literal["program", "cycle", "plan"]
_YEAR_STEM = re.compile(r"^[0-9]{4}$")


def file_kind(path: Path) -> DataFile:
    """Whether ``path`` is a cycle, a program or the plan file (see the module docstring)."""
    if path.name == PLAN_FILE:
        return "plan"
    if path.parent.name == "programs":
        return "program"
    if path.parent.name == "params":
        return "cycle"
    try:
        data = read_yaml(path)
    except ProgramDataError:
        return "cycle" if _YEAR_STEM.match(path.stem) else "program"  # unreadable either way; the loader says why
    return "cycle" if "fiscal_year" in data and "id" not in data else "program"


def data_files(folder: Path) -> Iterator[Path]:
    """The files the batch would read from ``folder`` (its ``programs/`` when it has one), plus look-alikes
    it would not (``*.yml``, and anything that is not a regular file), so that they are reported; hidden files are skipped."""
    if (folder / PLAN_FILE).is_file():
        yield folder / PLAN_FILE
    programs = folder / "programs" if (folder / "programs").is_dir() else folder
    for path in sorted(programs.iterdir()):
        if not path.name.startswith(".") and path.suffix in {".yaml", ".yml"} and path != folder / PLAN_FILE:
            yield path


def check_file(path: Path) -> list[str]:
    """The problems of one file, one line each (empty when it is valid)."""
    if not path.is_file():
        return [f"{path}: expected a regular file"]
    if path.suffix == ".yml":
        return [f"{path}: expected the extension .yaml (evalkit reads only *.yaml files, so this one is ignored)"]
    try:
        kind = file_kind(path)
        if kind == "cycle":
            load_cycle(path)
        elif kind == "plan":
            load_plan(path)
        else:
            load_program(path)
    except ProgramDataError as exc:
        return str(exc).splitlines()
    return []


def check_paths(paths: list[Path]) -> list[str]:
    """Every problem of every file named or found in a folder named, in path order, then what the files say of
    each other (a cycle that lists a program of which no file was given)."""
    problems: list[str] = []
    programs: dict[str, tuple[Path, Program | None]] = {}
    cycles: list[tuple[Path, Cycle]] = []
    plans: list[CityPlan] = []
    for path in paths:
        if not path.exists():
            problems.append(f"{path}: no such file or folder")
            continue
        for found in data_files(path) if path.is_dir() else [path]:
            found_problems = check_file(found)
            problems.extend(found_problems)
            if not found_problems and found.is_file() and file_kind(found) == "cycle":
                cycles.append((found, load_cycle(found)))
            elif not found_problems and found.is_file() and file_kind(found) == "plan":
                plans.append(load_plan(found))
            elif found.suffix == ".yaml" and file_kind(found) == "program":
                programs[found.stem] = (found, None if found_problems else load_program(found))
    if programs:
        for path, cycle in cycles:
            for i, program_id in enumerate(cycle.programs or []):
                if program_id not in programs:
                    problems.append(f"{path}: programs[{i}]: no program file {program_id}.yaml among the files checked")
    # a policy names a leaf of the plan checked with it (or of none, when a whole data folder without a plan was
    # checked); an invalid plan was reported above and is not held against every policy again
    plan_known = bool(plans) or any(p.is_dir() and (p / "programs").is_dir() and not (p / PLAN_FILE).exists() for p in paths)
    for program_path, program in programs.values():
        if program is not None and program.policy is not None and plan_known:
            problem = policy_problem(plans[0] if plans else None, program.policy)
            if problem:
                problems.append(f"{program_path}: policy: {problem}")
    if cycles:  # each sheet's committee conclusion is one its year's cycle accepts
        for program_path, program in programs.values():
            try:
                if program is not None:
                    check_conclusions(program, [cycle for _, cycle in cycles], str(program_path))
            except ProgramDataError as exc:
                problems.extend(str(exc).splitlines())
    return problems


def cycle_diagnostics(data_dir: Path, params_dir: Path, fiscal_year: int) -> list[str]:
    """The diagnostics (点検) of every card of one cycle, one ``file: subject: [code] message`` line each.

    For the office before it publishes; programs that do not load are left to :func:`check_paths`.
    """
    cycles = {cycle.fiscal_year: cycle for _, cycle in load_cycles(params_dir)}
    if fiscal_year not in cycles:
        raise ProgramDataError(str(params_dir), "", f"no cycle file for {fiscal_year}")
    cycle = cycles[fiscal_year]
    lines = []
    for path in program_files(data_dir):
        try:
            program = load_program(path)
        except ProgramDataError:
            continue
        listed = cycle.programs is None and fiscal_year in program.sheets or program.id in (cycle.programs or [])
        if not listed:
            continue
        for d in diagnose(program, fiscal_year, cycle.results_lag, cycle.thresholds):
            lines.append(f"{path}: {d.subject}: [{d.code}] {d.label}{'（推定）' if d.heuristic else ''}：{d.message}")
    return lines
