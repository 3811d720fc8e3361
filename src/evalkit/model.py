"""The program data contract (``docs/data-format.md``) as a typed model.

Pure: validation only, no file access (see :mod:`evalkit.loader`).  Years are
normalised to western ints, "no data" markers to ``None``, unknown keys and
duplicate years are rejected so that typos never vanish silently.
"""

from __future__ import annotations

import datetime
import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, field_validator, model_validator

from .errors import shown
from .years import era_label, fiscal_year

__all__ = [
    "NO_DATA_MARKERS",
    "RESERVED_IDS",
    "finite_number",
    "PROGRAM_DIRECTIONS",
    "COST_DIRECTIONS",
    "Observation",
    "Indicator",
    "Purpose",
    "StaffRow",
    "Costs",
    "Mandala",
    "Direction",
    "Revision",
    "Break",
    "Override",
    "Finding",
    "ExternalEvaluation",
    "FindingUpdate",
    "Sheet",
    "Program",
    "STATUSES",
    "FINDING_STATUSES",
    "FINDING_SUBJECTS",
    "DEFAULT_CONCLUSIONS",
    "LOGIC_LEVELS",
    "LOGIC_LEVEL_LABELS",
    "LogicNode",
    "Logic",
    "cross_reference_problems",
]

NO_DATA_MARKERS = frozenset({"-", "－", "—", "―", ""})
PROGRAM_DIRECTIONS = ("拡充", "拡大", "継続", "維持", "改善", "見直し", "縮小", "統合", "休止", "廃止", "完了", "終了")
COST_DIRECTIONS = ("増加", "拡充", "維持", "削減", "縮小")
#: the six statuses of the method, best first (their labels are in evalkit.assessment.STATUS_LABELS)
STATUSES = ("target_achieved", "substantial_progress", "moderate_progress", "limited_progress", "deterioration", "not_available")
FINDING_STATUSES = ("open", "in_progress", "addressed", "declined")
#: what a finding may be about besides one of the file's indicators
FINDING_SUBJECTS = ("purpose", "indicators", "costs", "directions", "plan", "other")
#: the committee's conclusions a cycle accepts when its file lists none
DEFAULT_CONCLUSIONS = ("現状通り", "一部改善", "抜本的改善", "縮小", "休止・廃止")
SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
PROGRAM_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
#: names the published site uses for its own pages (``<year>/index.html`` ...) or keeps for them: no program may take one
RESERVED_IDS = frozenset({"index", "booklet", "triage", "plan", "summary", "datapackage", "open-data"})


def _not_reserved(value: str) -> str:
    if value in RESERVED_IDS:
        raise ValueError(f"{value!r} is the name of one of the site's own pages; expected another id (reserved: {', '.join(sorted(RESERVED_IDS))})")
    return value
INDICATOR_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def finite_number(value: Any) -> float:
    """A finite number from YAML (an int or a float, not a bool); ``ValueError`` otherwise, also for a huge int."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        raise ValueError(f"expected a number of at most 308 digits, got one of {len(str(abs(value)))} digits") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {shown(value)}")
    return number


def _number_or_none(value: Any) -> float | None:
    """A measured value: a finite number, or one of the "no data" markers (never zero)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip() in NO_DATA_MARKERS:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number or a no-data marker (null, '-'), got {shown(value)}")
    return finite_number(value)


def _year(value: Any) -> int:
    try:
        return fiscal_year(value)
    except ValueError as exc:
        raise ValueError(f"expected a fiscal year (2023, FY2023, R5, 令和5年度, H31, ...), got {shown(value)}") from exc


def _year_keyed(value: Any) -> Any:
    """Normalise the keys of a year -> X mapping; two keys naming one year are an error.

    An entry with nothing after it (``R2:``) is an empty mapping, not an error.
    """
    if not isinstance(value, dict):
        return value
    out: dict[int, Any] = {}
    written: dict[int, Any] = {}
    for key, item in value.items():
        try:
            year = fiscal_year(key)
        except ValueError:
            raise ValueError(f"key {shown(key)} is not a fiscal year (expected e.g. 2023, FY2023, R5, 令和5年度)") from None
        if year in out:
            raise ValueError(f"duplicate year {year}: {shown(written[year])} and {shown(key)} name the same fiscal year")
        out[year] = {} if item is None else item
        written[year] = key
    return out


def _non_negative(value: Any) -> Any:
    value = _number_or_none(value)
    if value is not None and value < 0:
        raise ValueError(f"expected a number ≥ 0, got {value:g}")
    return value


Number = Annotated[float | None, BeforeValidator(_number_or_none)]
NonNegative = Annotated[float | None, BeforeValidator(_non_negative)]
Year = Annotated[int, BeforeValidator(_year)]
Text = StrictStr
TextList = list[StrictStr]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Observation(_Strict):
    actual: Number = None
    target: Number = None


class Revision(_Strict):
    """A change of the target of ``year``, made in evaluation year ``in`` (so past cycles keep the target they had)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    year: Year
    from_: Number = Field(default=None, alias="from")  # null: the target was newly set
    to: Number = None  # null: the target was withdrawn
    in_: Year = Field(alias="in")
    reason: Text | None = None


class Break(_Strict):
    """The way the indicator is measured changed from results year ``year`` on."""

    year: Year
    note: Text


class Indicator(_Strict):
    id: Annotated[StrictStr, Field(pattern=INDICATOR_ID_PATTERN)]
    name: Text
    unit: Text
    direction: Literal["up", "down"]
    kind: Literal["outcome", "output", "activity"] = "outcome"
    rationale: Text | None = None
    source: Text | None = None  # 根拠とした統計・データ
    target_rationale: Text | None = None  # why this target value
    baseline: Year | None = None
    limit: Number = None
    observations: Annotated[dict[int, Observation], BeforeValidator(_year_keyed)] = Field(default_factory=dict)
    revisions: list[Revision] = Field(default_factory=list)
    breaks: list[Break] = Field(default_factory=list)

    @model_validator(mode="after")
    def _revisions_chain(self) -> Indicator:
        """Per target year: distinct ``in`` years; each ``to`` is the next ``from``; the last ``to`` is today's target."""
        problems = []
        by_year: dict[int, list[tuple[int, Revision]]] = {}
        for i, revision in enumerate(self.revisions):
            by_year.setdefault(revision.year, []).append((i, revision))
        for year, items in by_year.items():
            seen: dict[int, int] = {}
            for i, revision in items:
                if revision.in_ in seen:
                    problems.append(f"revisions[{i}].in: {revision.in_} is also the `in` of revisions[{seen[revision.in_]}] "
                                    f"for the same target year; expected one revision per target year and evaluation year")
                seen[revision.in_] = i
            ordered = sorted(items, key=lambda item: item[1].in_)
            for (_, earlier), (j, later) in zip(ordered, ordered[1:], strict=False):
                if earlier.to != later.from_:
                    problems.append(f"revisions[{j}].from: expected {_value(earlier.to)} (the `to` of the revision made in "
                                    f"{earlier.in_}), got {_value(later.from_)}")
            last_index, last = ordered[-1]
            held = self.observations.get(year)
            current = held.target if held else None
            if last.to != current:
                problems.append(f"revisions[{last_index}].to: expected {_value(current)} (the target that observations hold "
                                f"for {year}), got {_value(last.to)}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _value(number: float | None) -> str:
    return "null" if number is None else f"{number:g}"


class Purpose(_Strict):
    final_outcome: Text | None = None
    target_population: Text | None = None
    intermediate_outcomes: TextList = Field(default_factory=list)
    notes: TextList = Field(default_factory=list)  # extension: footnotes to the outcomes
    activities: Text | None = None


class StaffRow(_Strict):
    role: Text
    count: Annotated[float, BeforeValidator(_non_negative)]


class Costs(_Strict):
    year: Year | None = None
    unit: Text = "千円"
    business_cost: NonNegative = None  # 事業費
    personnel_cost: NonNegative = None  # 人件費
    budget: NonNegative = None  # 予算現額
    settled: NonNegative = None  # 決算額
    fte: NonNegative = None  # 人工 (staff-years on the program)


class Mandala(_Strict):
    title: Text | None = None
    note: Text | None = None  # extension: why and how the chart was made
    center: Text
    cells: Annotated[TextList, Field(min_length=8, max_length=8)]


class Direction(_Strict):
    work_item: Text
    program: Text | None = None
    cost: Text | None = None

    @field_validator("program")
    @classmethod
    def _program_word(cls, value: str | None) -> str | None:
        return _direction_word(value, PROGRAM_DIRECTIONS)

    @field_validator("cost")
    @classmethod
    def _cost_word(cls, value: str | None) -> str | None:
        return _direction_word(value, COST_DIRECTIONS)


def _label(year: int) -> str:
    return era_label(year)


def _direction_word(value: str | None, accepted: tuple[str, ...]) -> str | None:
    """One of the contract's direction words (surrounding spaces tolerated), else an error listing them."""
    if value is None:
        return None
    if value.strip() not in accepted:
        raise ValueError(f"expected one of {', '.join(accepted)}, got {shown(value)}")
    return value.strip()


def _date(value: Any) -> Any:
    """A date as YAML writes it (2023-08-20) or its ISO text; never a number read as seconds since 1970."""
    if isinstance(value, (bool, int, float)):
        raise ValueError(f"expected a date such as 2023-08-20, got {shown(value)}")
    return value


class Override(_Strict):
    """The department's own judgement of an indicator, shown beside (never instead of) the computed status."""

    indicator: Text
    status: Literal[STATUSES]  # type: ignore[valid-type]
    reason: Text


class Finding(_Strict):
    """One finding of the external committee, with the department's response."""

    id: Annotated[StrictStr, Field(pattern=SLUG_PATTERN)]
    about: Text | None = None  # an indicator id of the file, or one of FINDING_SUBJECTS
    text: Text
    response: Text | None = None
    status: Literal[FINDING_STATUSES] = "open"  # type: ignore[valid-type]


class ExternalEvaluation(_Strict):
    """外部評価: what the committee concluded and found in this sheet's year."""

    held: Annotated[datetime.date | None, BeforeValidator(_date)] = None
    by: TextList = Field(default_factory=list)
    conclusion: Text | None = None  # one of the cycle's `conclusions`
    findings: list[Finding] = Field(default_factory=list)


class FindingUpdate(_Strict):
    """Progress, in a later sheet, on a finding of an earlier one."""

    id: Annotated[StrictStr, Field(pattern=SLUG_PATTERN)]
    status: Literal[FINDING_STATUSES]  # type: ignore[valid-type]
    note: Text | None = None


class Sheet(_Strict):
    """The narrative of one evaluation year's sheet; every part optional."""

    summary: Text | None = None  # 「ひとことで」
    staff: list[StaffRow] = Field(default_factory=list)
    staff_note: Text | None = None
    costs: Costs | None = None
    episodes: TextList = Field(default_factory=list)
    activities_last_year: TextList = Field(default_factory=list)
    status_comment: Text | None = None
    improvement_points: TextList = Field(default_factory=list)
    mandala: Mandala | None = None
    directions: list[Direction] = Field(default_factory=list)
    plan: TextList = Field(default_factory=list)
    questions: TextList = Field(default_factory=list)
    external_comments: TextList = Field(default_factory=list)
    responses: TextList = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)
    external_evaluation: ExternalEvaluation | None = None
    finding_updates: list[FindingUpdate] = Field(default_factory=list)


#: the levels of a logic model, lowest first (活動 → 最終アウトカム)
LOGIC_LEVELS = ("activity", "output", "short", "mid", "long", "final")
LOGIC_LEVEL_LABELS = {"activity": "活動", "output": "アウトプット", "short": "短期アウトカム", "mid": "中期アウトカム",
                      "long": "長期アウトカム", "final": "最終アウトカム"}
PLAN_ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$"


class LogicNode(_Strict):
    id: Annotated[StrictStr, Field(pattern=SLUG_PATTERN)]
    level: Literal[LOGIC_LEVELS]  # type: ignore[valid-type]
    text: Text
    indicators: list[StrictStr] = Field(default_factory=list)  # ids of this file's indicators


class Logic(_Strict):
    """The logic model as a graph: nodes by level, links that go up a level (from a lower level to a higher)."""

    nodes: list[LogicNode] = Field(default_factory=list)
    links: list[Annotated[list[StrictStr], Field(min_length=2, max_length=2)]] = Field(default_factory=list)
    single_level_reason: Text | None = None  # why the outcomes are not staged


class Program(_Strict):
    id: Annotated[StrictStr, Field(pattern=PROGRAM_ID_PATTERN), AfterValidator(_not_reserved)]
    policy: Annotated[StrictStr, Field(pattern=PLAN_ID_PATTERN)] | None = None  # a leaf item of data/plan.yaml
    logic: Logic | None = None
    name: Text
    municipality: Text | None = None
    tagline: Text | None = None  # extension: the city's banner line printed under the title
    source: Text | None = None
    notes: Text | None = None
    organization: Text | None = None
    section: Text | None = None
    started: Year | None = None
    background: Text | None = None
    purpose: Purpose = Field(default_factory=Purpose)
    work_items: TextList = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list)
    sheets: Annotated[dict[int, Sheet], BeforeValidator(_year_keyed)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Program:
        """What keys say of each other: unique ids, overrides and findings naming what exists, updates after their finding."""
        sheets = {year: sheet.model_dump(by_alias=True) for year, sheet in self.sheets.items()}
        logic = self.logic.model_dump() if self.logic else None
        problems = cross_reference_problems([i.id for i in self.indicators], sheets, logic)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def sheet(self, fiscal_year: int) -> Sheet | None:
        """The sheet written in evaluation year ``fiscal_year``, if any."""
        return self.sheets.get(fiscal_year)

    @property
    def outcome_indicators(self) -> list[Indicator]:
        return [i for i in self.indicators if i.kind == "outcome"]


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def cross_reference_problems(ids: list[str], sheets: dict[int, Any], logic: Any) -> list[str]:
    """The problems of what a program's keys say of each other, one ``key.path: message`` line each.

    Works on plain data (sheets and logic as mappings), so that the loader can run it on a file whose other
    keys are invalid and report every problem in one pass; :class:`Program` runs it on its own dump.
    """
    problems = []
    for i, indicator_id in enumerate(ids):
        if indicator_id in ids[:i]:
            problems.append(f"indicators[{i}].id: duplicate indicator id {indicator_id!r}")
    problems.extend(_logic_problems(logic if isinstance(logic, dict) else None, ids))
    raised: dict[str, int] = {}
    for year in sorted(sheets):
        sheet, where = sheets[year] if isinstance(sheets[year], dict) else {}, f"sheets.{_label(year)}"
        overridden: list[object] = []
        for i, override in enumerate(sheet.get("overrides") or []):
            indicator = override.get("indicator") if isinstance(override, dict) else None
            if isinstance(indicator, str) and indicator not in ids:
                problems.append(f"{where}.overrides[{i}].indicator: expected an indicator id of this file "
                                f"({', '.join(ids) or 'none'}), got {shown(indicator)}")
            elif isinstance(indicator, str) and indicator in overridden:
                problems.append(f"{where}.overrides[{i}].indicator: {indicator!r} already has an override in this sheet; "
                                f"expected one judgement per indicator")
            overridden.append(indicator)
        evaluation = sheet.get("external_evaluation") if isinstance(sheet.get("external_evaluation"), dict) else {}
        findings = evaluation.get("findings") if isinstance(evaluation.get("findings"), list) else []
        finding_ids = [f.get("id") if isinstance(f, dict) else None for f in findings]
        for i, finding in enumerate(findings):
            if not isinstance(finding, dict):
                continue
            key, finding_id, about = f"{where}.external_evaluation.findings[{i}]", finding.get("id"), finding.get("about")
            if isinstance(finding_id, str) and finding_id in raised:
                problems.append(f"{key}.id: duplicate finding id {finding_id!r} (also raised in {_label(raised[finding_id])})")
            elif isinstance(finding_id, str) and finding_id in finding_ids[:i]:
                problems.append(f"{key}.id: duplicate finding id {finding_id!r} (also raised earlier in this sheet)")
            if isinstance(about, str) and about not in ids and about not in FINDING_SUBJECTS:
                problems.append(f"{key}.about: expected an indicator id of this file or one of "
                                f"{', '.join(FINDING_SUBJECTS)}, got {shown(about)}")
        for i, update in enumerate(sheet.get("finding_updates") or []):
            update_id = update.get("id") if isinstance(update, dict) else None
            if not isinstance(update_id, str):
                continue
            if update_id in finding_ids:
                problems.append(f"{where}.finding_updates[{i}].id: {update_id!r} is raised in this same sheet; "
                                f"expected a finding of an earlier sheet")
            elif update_id not in raised:
                problems.append(f"{where}.finding_updates[{i}].id: expected the id of a finding of an earlier sheet, "
                                f"got {shown(update_id)}")
        for finding_id in finding_ids:
            if isinstance(finding_id, str):
                raised.setdefault(finding_id, year)
    return problems


def _logic_problems(logic: dict | None, indicator_ids: list[str]) -> list[str]:
    if logic is None:
        return []
    problems = []
    levels: dict[str, int] = {}
    for i, node in enumerate(logic.get("nodes") or []):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            continue
        if node["id"] in levels:
            problems.append(f"logic.nodes[{i}].id: duplicate node id {node['id']!r}")
        levels[node["id"]] = LOGIC_LEVELS.index(node["level"]) if node.get("level") in LOGIC_LEVELS else -1
        for j, indicator in enumerate(node.get("indicators") or []):
            if isinstance(indicator, str) and indicator not in indicator_ids:
                problems.append(f"logic.nodes[{i}].indicators[{j}]: expected an indicator id of this file "
                                f"({', '.join(indicator_ids) or 'none'}), got {shown(indicator)}")
    for i, link in enumerate(logic.get("links") or []):
        if not (isinstance(link, list) and len(link) == 2 and all(isinstance(end, str) for end in link)):
            continue
        source, target = link
        unknown = [end for end in (source, target) if end not in levels]
        if unknown:
            problems.append(f"logic.links[{i}]: expected node ids of logic.nodes, got unknown {', '.join(map(repr, unknown))}")
        elif min(levels[source], levels[target]) >= 0 and levels[source] >= levels[target]:
            problems.append(f"logic.links[{i}]: a link must go up a level (活動 → … → 最終アウトカム); {source!r} "
                            f"({LOGIC_LEVELS[levels[source]]}) → {target!r} ({LOGIC_LEVELS[levels[target]]}) does not")
    return problems
