"""Costs of the evaluated year (docs/method.md, Costs): total cost and unit cost."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .assessment import IndicatorAssessment, assess_indicators
from .cycle import Cycle
from .model import Costs, Program

__all__ = ["CostSummary", "cost_summary", "cost_history"]


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
    budget: float = math.nan  # 予算現額
    settled: float = math.nan  # 決算額
    fte: float = math.nan  # 人工

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
        budget=_value(costs.budget), settled=_value(costs.settled), fte=_value(costs.fte),
    )


def cost_history(
    program: Program, fiscal_year: int, cycles: Iterable[Cycle] = (), results_lag: int | None = None, thresholds: Any = None,
) -> dict[int, CostSummary]:
    """Every sheet's costs up to evaluation year ``fiscal_year``, by sheet year, oldest first.

    Each year's unit cost uses that cycle's own assessment (its cut-off and targets); a sheet
    year without a cycle file is assessed with the default results lag of 1; ``results_lag`` and
    ``thresholds``, when given, are those of ``fiscal_year``'s own cycle.
    """
    lags = {cycle.fiscal_year: cycle for cycle in cycles}
    history = {}
    for year in sorted(y for y in program.sheets if y <= fiscal_year):
        sheet = program.sheets[year]
        if sheet.costs is None:
            continue
        cycle = lags.get(year)
        lag, th = (cycle.results_lag, cycle.thresholds) if cycle else (1, None)
        if year == fiscal_year and results_lag is not None:
            lag, th = results_lag, thresholds
        measures = assess_indicators(program, year, lag, th)
        summary = cost_summary(sheet.costs, measures.values())
        if summary is not None:
            history[year] = summary
    return history
