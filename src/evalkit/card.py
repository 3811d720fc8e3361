"""Everything one report card shows, assembled once: the program, its sheet and the computed measures.

``load_card`` is the I/O edge a notebook calls; :class:`ReportCard` itself is
plain data that sections, charts and scraps read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from .assessment import IndicatorAssessment, achievements, assess_indicators, assessment_frame, program_status
from .costs import CostSummary, cost_summary
from .cycle import Rating, Thresholds, grade
from .loader import load_program, program_path
from .model import Program, Sheet

__all__ = ["ReportCard", "build_card", "load_card"]


@dataclass(frozen=True)
class ReportCard:
    """One card.  ``measures`` is the typed assessment by indicator id: every section, chart
    and scrap reads it by id, so an indicator's numbers can never land on another's row."""

    program: Program
    fiscal_year: int
    results_lag: int
    measures: dict[str, IndicatorAssessment]
    achievements: pd.DataFrame
    status: str
    costs: CostSummary | None
    rating: Rating | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    title: str | None = None
    data_file: str | None = None
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @cached_property
    def assessment(self) -> pd.DataFrame:
        """The measures as the spec's assessment table (one row per indicator, in the file's order)."""
        return assessment_frame(self.measures.values())

    @property
    def cutoff(self) -> int:
        """The last year whose actuals count (C = E − results_lag)."""
        return self.fiscal_year - self.results_lag

    @property
    def sheet(self) -> Sheet:
        """This cycle's sheet; an empty one when the file has none, so every section still renders."""
        return self.program.sheet(self.fiscal_year) or Sheet()

    @property
    def has_sheet(self) -> bool:
        return self.fiscal_year in self.program.sheets

    def grade(self, indicator_id: str) -> str | None:
        """The indicator's grade from the cycle's rating bands (None when no rating is configured)."""
        if self.rating is None:
            return None
        return grade(self.rating, getattr(self.measures[indicator_id], self.rating.measure))


def _as_model(model: type, value: Any) -> Any:
    """A cycle option as papermill passes it (a dict, ``{}`` for none) or already validated."""
    if isinstance(value, dict):
        return model.model_validate(value) if value else None
    return value


def build_card(
    program: Program,
    fiscal_year: int,
    results_lag: int = 1,
    *,
    rating: Rating | dict | None = None,
    thresholds: Thresholds | dict | None = None,
    title: str | None = None,
    data_file: str | None = None,
) -> ReportCard:
    """Compute a card from an already loaded program (pure apart from the timestamp)."""
    rating = _as_model(Rating, rating)
    thresholds = _as_model(Thresholds, thresholds)
    measures = assess_indicators(program, fiscal_year, results_lag, thresholds)
    frame = assessment_frame(measures.values())
    sheet = program.sheet(fiscal_year)
    return ReportCard(
        program=program,
        fiscal_year=int(fiscal_year),
        results_lag=int(results_lag),
        measures=measures,
        achievements=achievements(program, fiscal_year, results_lag),
        status=program_status(frame),
        costs=cost_summary(sheet.costs if sheet else None, measures.values()),
        rating=rating,
        thresholds=thresholds or Thresholds(),
        title=title or None,
        data_file=data_file,
    )


def load_card(program_id: str, fiscal_year: int, data_dir: str | Path = "data", results_lag: int = 1, **options: Any) -> ReportCard:
    """Load ``<data_dir>/programs/<program_id>.yaml`` and build its card for evaluation year ``fiscal_year``."""
    path = program_path(data_dir, program_id)
    program = load_program(path)
    # provenance names the file as the data folder sees it, never a machine's absolute path
    data_file = f"{Path(data_dir).resolve().name}/{path.relative_to(Path(data_dir)).as_posix()}"
    return build_card(program, fiscal_year, results_lag, data_file=data_file, **options)
