"""Reading program and cycle files: YAML in, validated models out, every problem a ProgramDataError.

This is the I/O edge of the data contract.  Messages name the file, the key
path and what was expected, because the people who fix them keep the data,
not the code.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel, ValidationError

from .cycle import Cycle
from .errors import ProgramDataError, shown
from .model import PLAN_ID_PATTERN, PROGRAM_ID_PATTERN, Program, cross_reference_problems
from .plan import CityPlan, affected_items, salvage_plan, tree_problems
from .years import era_label, fiscal_year

__all__ = [
    "read_yaml", "load_program", "load_programs", "load_cycle", "load_cycles",
    "program_path", "programs_dir", "program_files", "ignored_files", "Loaded", "load_plan", "plan_path", "PLAN_FILE", "read_plan", "PlanReading",
]

class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of keeping the last one silently."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {shown(key)}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


#: a data file larger than this is not a program sheet (and would take long to parse)
MAX_FILE_BYTES = 16 * 1024 * 1024
#: values a document may expand to through aliases; far above any real sheet, far below an alias bomb
MAX_EXPANDED_NODES = 100_000


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` stands for once every alias is expanded (shared nodes counted once each use)."""
    key = id(node)
    if key not in sizes:
        sizes[key] = 0  # a recursive alias counts as itself while being measured
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(_expanded_size(item, sizes) for item in node.value)
        else:
            total = 1
        sizes[key] = min(total, MAX_EXPANDED_NODES + 1)
    return sizes[key]


def _check_expansion(path: Path, root: yaml.Node) -> None:
    """Reject alias expansion beyond reason before anything iterates over it (milliseconds, whatever the bomb)."""
    sizes: dict[int, int] = {}
    if _expanded_size(root, sizes) <= MAX_EXPANDED_NODES:
        return
    key = ""
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            if _expanded_size(value_node, sizes) > MAX_EXPANDED_NODES:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
                break
    raise ProgramDataError(str(path), key, f"YAML aliases (*name) expand to more than {MAX_EXPANDED_NODES:,} values; write the values out")


def _unencodable(value: Any, key: str = "") -> str | None:
    """The key path of the first text that cannot be written as UTF-8 (a lone surrogate from a \\ud800 escape)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return key or "(top level)"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _unencodable(k, key) if isinstance(k, str) else None
            found = found or _unencodable(v, f"{key}.{k}" if key else str(k))
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _unencodable(v, f"{key}[{i}]")
            if found:
                return found
    return None


def read_yaml(path: str | Path) -> dict:
    """The top-level mapping of a YAML file; malformed, empty or non-mapping files raise ProgramDataError."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or a FIFO that would block the read
        raise ProgramDataError(str(path), "", "expected a regular file")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProgramDataError(str(path), "", f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB; expected one program's sheets")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProgramDataError(str(path), "", "file not found") from None
    except OSError as exc:
        raise ProgramDataError(str(path), "", f"cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ProgramDataError(str(path), "", f"expected UTF-8 text ({exc.reason} at byte {exc.start})") from None
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_expansion(path, root)
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProgramDataError(str(path), "", f"malformed YAML: {where}{problem}") from None
    except RecursionError:
        raise ProgramDataError(str(path), "", "malformed YAML: nested too deeply") from None
    except ProgramDataError:
        raise
    except ValueError as exc:  # a scalar the constructor cannot read, e.g. an integer of more than 4,300 digits
        message = "a number of more than 4,300 digits" if "integer string conversion" in str(exc) else shown(str(exc))
        raise ProgramDataError(str(path), "", f"unreadable value: {message}") from None
    finally:
        loader.dispose()
    if data is None:
        raise ProgramDataError(str(path), "", "the file is empty (expected a YAML mapping)")
    if not isinstance(data, dict):
        raise ProgramDataError(str(path), "", f"expected a YAML mapping at the top level, got {type(data).__name__}")
    bad = _unencodable(data)
    if bad:
        raise ProgramDataError(str(path), bad, "expected text that can be written as UTF-8 (it holds a lone surrogate, e.g. from a \\ud800 escape)")
    return data


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model whose fields live at ``loc``, to list the keys it allows."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return None
        if isinstance(part, str) and part in model.model_fields:
            found = _models_in(model.model_fields[part].annotation)
            model = found[0] if found else None
        elif isinstance(part, str):
            return None
    return model


def _key_path(loc: tuple, year_keyed: set[str]) -> str:
    out = ""
    previous = None
    for part in loc:
        if isinstance(part, int) and previous in year_keyed:
            out += f".{era_label(part)}" if part >= 1926 else f".{part}"
        elif isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-"):  # a validator's own step in pydantic's location
            continue
        else:
            out += f".{part}" if out else part
        previous = part
    return out


def _message(error: dict, root: type[BaseModel]) -> str:
    kind, ctx, got = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "missing":
        return "required key missing"
    if kind == "extra_forbidden":
        model = _model_at(root, error["loc"][:-1])
        allowed = f" (expected one of: {', '.join(f.alias or name for name, f in model.model_fields.items())})" if model else ""
        return f"unknown key{allowed}"
    if kind == "literal_error":
        expected = str(ctx.get("expected"))
        options = re.findall(r"'([^']*)'", expected)
        if len(options) > 2:  # as the format's own examples word it: "expected one of open, in_progress, ..."
            return f"expected one of {', '.join(options)}, got {shown(got)}"
        return f"expected {expected}, got {shown(got)}"
    if kind == "string_type":
        return f"expected text, got {shown(got)}"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern")
        words = {PROGRAM_ID_PATTERN: "lower-case letters, digits, '-'", PLAN_ID_PATTERN: "ASCII letters, digits, '.', '-', '_'"}.get(
            pattern, "ASCII letters, digits, '-', '_'")
        return f"expected an id matching {pattern} ({words}), got {shown(got)}"
    if kind.startswith(("date_", "datetime_")):
        return f"expected a date such as 2023-08-20, got {shown(got)}"
    if kind in {"too_short", "too_long"}:
        expected = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        field = error["loc"][-1] if error["loc"] else ""
        if field == "cells":
            return f"expected exactly 8 cells (row by row, skipping the centre), got {ctx.get('actual_length')}"
        return f"expected {'at least' if kind == 'too_short' else 'at most'} {expected} items, got {ctx.get('actual_length')}"
    if kind in {"list_type", "tuple_type"}:
        return f"expected a list, got {shown(got)}"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return f"expected a mapping, got {shown(got)}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"expected an integer, got {shown(got)}"
    if kind in {"float_type", "float_parsing"}:
        return f"expected a number, got {shown(got)}"
    if kind in {"greater_than_equal", "less_than_equal"}:
        sign = "≥" if kind == "greater_than_equal" else "≤"
        bound = ctx.get("ge", ctx.get("le"))
        return f"expected a value {sign} {bound}, got {shown(got)}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"{error['msg']}, got {shown(got)}"


_KEY_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z0-9_]+)*$")


def _validate(model: type[BaseModel], data: dict, path: Path, year_keyed: set[str]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = _key_path(error["loc"], year_keyed)
            # A model-level check may report several problems, one line each, each phrased with its own key
            # below the model's ("revisions[1].from: expected ..."): join the two paths.
            for message in _message(error, model).splitlines():
                head, _, rest = message.partition(": ")
                if rest and _KEY_PATH.match(head):
                    problems.append((f"{key}.{head}" if key else head, rest))
                else:
                    problems.append((key, message))
        for extra in _second_pass(model, data):  # what keys say of each other, checked on the parts that are valid
            if extra not in problems:
                problems.append(extra)
        key, message = problems[0]
        raise ProgramDataError(str(path), key, message, problems=problems) from None


def _second_pass(model: type[BaseModel], data: dict) -> list[tuple[str, str]]:
    """Cross-key problems of a file whose own keys failed: pydantic skips a model's after-checks then, so they
    are run here on the parts that are valid, and every problem of the file is reported in one pass."""
    lines: list[str] = []
    if model is Program:
        indicators = data.get("indicators") if isinstance(data.get("indicators"), list) else []
        ids = [item.get("id") for item in indicators if isinstance(item, dict) and isinstance(item.get("id"), str)]
        sheets = {}
        raw_sheets = data.get("sheets") if isinstance(data.get("sheets"), dict) else {}
        for key, raw in raw_sheets.items():
            try:
                sheets[fiscal_year(key)] = raw if isinstance(raw, dict) else {}
            except ValueError:
                continue
        logic = data.get("logic") if isinstance(data.get("logic"), dict) else None
        lines = cross_reference_problems(ids, sheets, logic)
    elif model is CityPlan and isinstance(data.get("levels"), list) and isinstance(data.get("items"), list):
        levels = [level for level in data["levels"] if isinstance(level, str)]
        if 1 <= len(levels) <= 4:
            lines = tree_problems(levels, data["items"])
    return [(head, rest) for head, _, rest in (line.partition(": ") for line in lines)]


def load_program(path: str | Path) -> Program:
    """Load and validate one program file; the ``id`` must equal the file stem."""
    path = Path(path)
    data = read_yaml(path)
    program = _validate(Program, data, path, {"observations", "sheets"})
    if program.id != path.stem:
        raise ProgramDataError(str(path), "id", f"expected the file name's stem {path.stem!r}, got {shown(program.id)}")
    return program


def program_path(data_dir: str | Path, program_id: str) -> Path:
    """Where the contract puts a program's file (``data/programs/<id>.yaml``)."""
    return programs_dir(data_dir) / f"{program_id}.yaml"


def programs_dir(data_dir: str | Path) -> Path:
    """``data_dir/programs`` when it exists, else ``data_dir`` itself."""
    data_dir = Path(data_dir)
    return data_dir / "programs" if (data_dir / "programs").is_dir() else data_dir


def program_files(data_dir: str | Path) -> list[Path]:
    """The program files: ``*.yaml`` in the programs folder, except hidden ones (editors' ``.#x.yaml``)."""
    return sorted(p for p in programs_dir(data_dir).glob("*.yaml") if not p.name.startswith("."))


def ignored_files(folder: str | Path) -> list[Path]:
    """Files that look like data but are not read: hidden ``*.yaml`` and any ``*.yml`` (say so, once each)."""
    folder = Path(folder)
    return sorted([p for p in folder.glob(".*.yaml")] + [p for p in folder.glob("*.yml")])


class Loaded(NamedTuple):
    """Good programs by id, and one error per bad file: ``programs, errors = load_programs(...)``."""

    programs: dict[str, Program]
    errors: list[ProgramDataError]


def load_programs(data_dir: str | Path) -> Loaded:
    """Load every ``*.yaml`` under ``data_dir/programs`` (or ``data_dir``); a bad file never stops the others."""
    programs: dict[str, Program] = {}
    errors: list[ProgramDataError] = []
    for path in program_files(data_dir):
        try:
            program = load_program(path)
        except ProgramDataError as exc:
            errors.append(exc)
        else:
            programs[program.id] = program
    return Loaded(programs, errors)


def load_cycle(path: str | Path) -> Cycle:
    """Load one cycle file; its stem must be the evaluation year it declares."""
    path = Path(path)
    cycle = _validate(Cycle, read_yaml(path), path, set())
    try:
        stem_year = int(path.stem)
    except ValueError:
        stem_year = None
    if stem_year is not None and stem_year != cycle.fiscal_year:
        raise ProgramDataError(str(path), "fiscal_year", f"expected {stem_year} (the file name), got {cycle.fiscal_year}")
    return cycle


PLAN_FILE = "plan.yaml"


def load_plan(path: str | Path) -> CityPlan:
    """Load and validate the city's plan (``data/plan.yaml``)."""
    path = Path(path)
    return _validate(CityPlan, read_yaml(path), path, set())


class PlanReading(NamedTuple):
    """The plan as far as it can be used: ``plan`` (salvaged when invalid; None when unusable), ``error`` (its
    problems, or None), ``affected`` (item id -> the problem that concerns it)."""

    plan: CityPlan | None
    error: ProgramDataError | None
    affected: dict[str, str]


def read_plan(path: str | Path) -> PlanReading:
    """The plan, and when it is invalid, what of it still holds: an invalid plan costs only the programs under
    the items its problems point at."""
    try:
        return PlanReading(load_plan(path), None, {})
    except ProgramDataError as exc:
        try:
            data = read_yaml(path)
        except ProgramDataError:
            return PlanReading(None, exc, {})
        return PlanReading(salvage_plan(data), exc, affected_items(data, exc.problems))


def plan_path(data_dir: str | Path) -> Path:
    """Where the city's plan lives: ``<data>/plan.yaml`` (it is optional)."""
    return Path(data_dir) / PLAN_FILE


def load_cycles(params_dir: str | Path) -> list[tuple[Path, Cycle]]:
    """Every cycle file in ``params_dir``, oldest first; the first bad one raises."""
    found = [(p, load_cycle(p)) for p in sorted(Path(params_dir).glob("*.yaml")) if not p.name.startswith(".")]
    by_year: dict[int, Path] = {}
    for path, cycle in found:
        if cycle.fiscal_year in by_year:
            other = by_year[cycle.fiscal_year]
            raise ProgramDataError(str(path), "fiscal_year", f"{cycle.fiscal_year} is also the year of {other}; expected one cycle file per year")
        by_year[cycle.fiscal_year] = path
    return sorted(found, key=lambda item: item[1].fiscal_year)
