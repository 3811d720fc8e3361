"""An evaluation cycle (``params/<fiscal-year>.yaml``): its model, thresholds and rating bands.

Pure: validation and the rating rule; reading the file is :mod:`evalkit.loader`'s job.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr, model_validator

from .errors import shown
from .model import DEFAULT_CONCLUSIONS, PROGRAM_ID_PATTERN, Year, finite_number

__all__ = ["Thresholds", "Rating", "Cycle", "grade"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _bound(value: Any) -> float:
    """A band's lower bound; YAML has no plain ``-inf``, so the text forms are accepted."""
    if isinstance(value, str) and value.strip().lower() in {"-inf", "-.inf", "-infinity", "−inf"}:
        return -math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number or -inf, got {shown(value)}")
    return finite_number(value)


Finite = Annotated[float, BeforeValidator(finite_number)]


class Thresholds(_Strict):
    """Status thresholds of the progress measure (docs/method.md, Status); overridable per cycle."""

    substantial: Finite = 0.95
    moderate: Finite = 0.60
    method1_substantial: Finite = 0.015
    method1_moderate: Finite = 0.005

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.substantial > self.moderate >= 0:
            raise ValueError(f"expected substantial > moderate ≥ 0, got {self.substantial} and {self.moderate}")
        if not self.method1_substantial > self.method1_moderate >= 0:
            raise ValueError("expected method1_substantial > method1_moderate ≥ 0")
        return self


class Band(_Strict):
    bound: float
    label: StrictStr


def _bands(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    out = []
    for item in value:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            out.append({"bound": _bound(item[0]), "label": item[1]})
        elif isinstance(item, dict):
            out.append({**item, "bound": _bound(item.get("bound"))})
        else:
            raise ValueError(f"expected [lower bound, label] pairs, got {shown(item)}")
    return out


class Rating(_Strict):
    """Optional grade (docs/method.md, Optional grade): first band whose lower bound the measure reaches."""

    measure: Literal["achievement", "progress", "pace"]
    bands: Annotated[list[Band], BeforeValidator(_bands), Field(min_length=1)]

    @model_validator(mode="after")
    def _descending(self) -> Rating:
        bounds = [b.bound for b in self.bands]
        if bounds != sorted(bounds, reverse=True) or len(set(bounds)) != len(bounds):
            raise ValueError(f"bands: expected strictly descending lower bounds, got {bounds}")
        return self


class Cycle(_Strict):
    fiscal_year: Year
    title: StrictStr | None = None
    results_lag: Annotated[StrictInt, Field(ge=0, le=10)] = 1
    programs: list[Annotated[StrictStr, Field(pattern=PROGRAM_ID_PATTERN)]] | None = None
    rating: Rating | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)
    conclusions: Annotated[list[StrictStr], Field(min_length=1)] = Field(default_factory=lambda: list(DEFAULT_CONCLUSIONS))

    @model_validator(mode="after")
    def _each_program_once(self) -> Cycle:
        seen: dict[str, int] = {}
        for i, program_id in enumerate(self.programs or []):
            if program_id in seen:
                raise ValueError(f"programs: {program_id!r} is listed twice (items {seen[program_id]} and {i}); each card is rendered once")
            seen[program_id] = i
        return self


def grade(rating: Rating | None, value: float | None) -> str | None:
    """The rating label for ``value``, or ``None`` when no rating is set or the measure is undefined."""
    if rating is None or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    for band in rating.bands:
        if value >= band.bound:
            return band.label
    return None
