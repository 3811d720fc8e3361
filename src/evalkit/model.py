"""The program data contract (``docs/data-format.md``) as a typed model.

Pure: validation only, no file access (see :mod:`evalkit.loader`).  Years are
normalised to western ints, "no data" markers to ``None``, unknown keys and
duplicate years are rejected so that typos never vanish silently.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, field_validator, model_validator

from .errors import shown
from .years import fiscal_year

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
    "Sheet",
    "Program",
]

NO_DATA_MARKERS = frozenset({"-", "－", "—", "―", ""})
PROGRAM_DIRECTIONS = ("拡充", "拡大", "継続", "維持", "改善", "見直し", "縮小", "統合", "休止", "廃止", "完了", "終了")
COST_DIRECTIONS = ("増加", "拡充", "維持", "削減", "縮小")
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


class Indicator(_Strict):
    id: Annotated[StrictStr, Field(pattern=INDICATOR_ID_PATTERN)]
    name: Text
    unit: Text
    direction: Literal["up", "down"]
    kind: Literal["outcome", "activity"] = "outcome"
    rationale: Text | None = None
    baseline: Year | None = None
    limit: Number = None
    observations: Annotated[dict[int, Observation], BeforeValidator(_year_keyed)] = Field(default_factory=dict)


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
    business_cost: NonNegative = None
    personnel_cost: NonNegative = None


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


def _direction_word(value: str | None, accepted: tuple[str, ...]) -> str | None:
    """One of the contract's direction words (surrounding spaces tolerated), else an error listing them."""
    if value is None:
        return None
    if value.strip() not in accepted:
        raise ValueError(f"expected one of {', '.join(accepted)}, got {shown(value)}")
    return value.strip()


class Sheet(_Strict):
    """The narrative of one evaluation year's sheet; every part optional."""

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


class Program(_Strict):
    id: Annotated[StrictStr, Field(pattern=PROGRAM_ID_PATTERN), AfterValidator(_not_reserved)]
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
    def _unique_indicator_ids(self) -> Program:
        seen: set[str] = set()
        for indicator in self.indicators:
            if indicator.id in seen:
                raise ValueError(f"indicators: duplicate indicator id {indicator.id!r}")
            seen.add(indicator.id)
        return self

    def sheet(self, fiscal_year: int) -> Sheet | None:
        """The sheet written in evaluation year ``fiscal_year``, if any."""
        return self.sheets.get(fiscal_year)

    @property
    def outcome_indicators(self) -> list[Indicator]:
        return [i for i in self.indicators if i.kind == "outcome"]
