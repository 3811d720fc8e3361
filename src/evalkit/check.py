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

from .errors import ProgramDataError
from .loader import load_cycle, load_program, read_yaml

__all__ = ["DataFile", "data_files", "file_kind", "check_file", "check_paths"]

DataFile = Literal["program", "cycle"]
_YEAR_STEM = re.compile(r"^[0-9]{4}$")


def file_kind(path: Path) -> DataFile:
    """Whether ``path`` is a cycle or a program file (see the module docstring)."""
    if path.parent.name == "params" or _YEAR_STEM.match(path.stem):
        return "cycle"
    if path.parent.name == "programs":
        return "program"
    try:
        data = read_yaml(path)
    except ProgramDataError:
        return "program"  # unreadable either way; the program loader reports why
    return "cycle" if "fiscal_year" in data and "id" not in data else "program"


def data_files(folder: Path) -> Iterator[Path]:
    """The data files under ``folder``: ``*.yaml`` and ``*.yml``, skipping hidden files and folders."""
    for path in sorted(folder.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if not hidden and path.suffix in {".yaml", ".yml"} and not path.is_dir():
            yield path


def check_file(path: Path) -> list[str]:
    """The problems of one file, one line each (empty when it is valid)."""
    if not path.is_file():
        return [f"{path}: expected a regular file"]
    if path.suffix == ".yml":
        return [f"{path}: expected the extension .yaml (evalkit reads only *.yaml files, so this one is ignored)"]
    try:
        if file_kind(path) == "cycle":
            load_cycle(path)
        else:
            load_program(path)
    except ProgramDataError as exc:
        return str(exc).splitlines()
    return []


def check_paths(paths: list[Path]) -> list[str]:
    """Every problem of every file named or found under a folder named, in path order."""
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            for found in data_files(path):
                problems.extend(check_file(found))
        elif path.exists():
            problems.extend(check_file(path))
        else:
            problems.append(f"{path}: no such file or folder")
    return problems
