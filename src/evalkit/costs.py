"""Costs of the evaluated year (docs/method.md, Costs): total cost and unit cost."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from .assessment import IndicatorAssessment
from .model import Costs

__all__ = ["CostSummary", "cost_summary"]


@dataclass(frozen=True)
class CostSummary:
    """トータルコスト and 単位コスト with their units; NaN where the sheet does not define them."""

    year: int | None
    unit: str
    business_cost: float
    personnel_cost: float
    total_cost: float
    unit_cost: float
    per_unit: str | None  # the indicator unit the unit cost is per (e.g. 者)
    per_indicator: str | None  # that indicator's name

    def as_frame(self) -> pd.DataFrame:
        """The cost table a card prints: one row per item, value and unit."""
        rows = [
            ("事業費", self.business_cost, self.unit),
            ("人件費", self.personnel_cost, self.unit),
            ("トータルコスト（事業費＋人件費）", self.total_cost, self.unit),
            ("単位コスト（トータルコスト÷成果指標の実績）", self.unit_cost,
             f"{self.unit}／{self.per_unit}" if self.per_unit else self.unit),
        ]
        return pd.DataFrame(rows, columns=["item", "value", "unit"])


def _value(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _first_outcome(assessment: pd.DataFrame | Iterable[IndicatorAssessment]) -> tuple[str, str, float] | None:
    """(unit, name, current actual) of the first outcome indicator."""
    rows = assessment.to_dict("records") if isinstance(assessment, pd.DataFrame) else [m.columns() for m in assessment]
    for row in rows:
        if row["kind"] == "outcome":
            return str(row["unit"]), str(row["name"]), float(row["current"])
    return None


def cost_summary(costs: Costs | None, assessment: pd.DataFrame | Iterable[IndicatorAssessment]) -> CostSummary | None:
    """Total = 事業費 + 人件費; unit = total ÷ the current actual of the first outcome indicator.

    ``assessment`` is the assessment table or the card's typed measures.
    ``None`` when the sheet gives no costs.  The total is undefined when either
    part is missing; the unit cost when the total is, or the actual is 0 or missing.
    """
    if costs is None:
        return None
    business, personnel = _value(costs.business_cost), _value(costs.personnel_cost)
    total = business + personnel  # NaN propagates when a part is missing
    first = _first_outcome(assessment)
    per_unit = per_indicator = None
    unit_cost = math.nan
    if first is not None:
        per_unit, per_indicator, current = first
        if math.isfinite(current) and current != 0 and math.isfinite(total):
            unit_cost = total / current
            unit_cost = unit_cost if math.isfinite(unit_cost) else math.nan
    return CostSummary(
        year=costs.year, unit=costs.unit, business_cost=business, personnel_cost=personnel,
        total_cost=total, unit_cost=unit_cost, per_unit=per_unit, per_indicator=per_indicator,
    )
