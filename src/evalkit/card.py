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

from .assessment import IndicatorAssessment, achievements, assess_indicators, assessment_frame, program_as_of, program_score, program_status
from .costs import CostSummary, cost_history, cost_summary
from .cycle import Cycle, Rating, Thresholds, grade
from .diagnostics import Diagnostic, diagnose
from .errors import ProgramDataError
from .history import Change, FindingState, Standing, change, findings_as_of, open_findings_before, previous_cycle, standing
from .loader import load_cycles, load_program, plan_path, program_path, read_plan
from .model import DEFAULT_CONCLUSIONS, Indicator, Program, Revision, Sheet
from .plan import CityPlan, policy_problem
from .years import era_label

__all__ = ["ReportCard", "YearValues", "build_card", "load_card"]


@dataclass(frozen=True)
class YearValues:
    """One year of an indicator as a card shows it; ``achievement`` is NaN when undefined, ``None`` without an actual."""

    year: int
    actual: float | None
    target: float | None
    achievement: float | None


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
    score: float = float("nan")  # the program score (mean of its outcome indicators' scores)
    previous: Standing | None = None  # the program in the previous cycle in which it had a card
    cost_history: dict[int, CostSummary] = field(default_factory=dict)  # every sheet's costs up to this cycle
    findings: list[FindingState] = field(default_factory=list)  # every finding raised up to this cycle, as it stands
    diagnostics: list[Diagnostic] = field(default_factory=list)  # 点検
    policy_path: tuple[tuple[str, str, str], ...] = ()  # (level, item id, name) from the plan's top to the program's 施策
    earlier_findings: list[FindingState] = field(default_factory=list)  # of earlier sheets, open at the previous cycle
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

    @property
    def change(self) -> Change:
        """The program's status change since the previous cycle."""
        return change((self.previous.status, self.previous.score) if self.previous else None, (self.status, self.score))

    def indicator_change(self, indicator_id: str) -> tuple[str | None, Change]:
        """(previous status or None, change) of one indicator."""
        before = self.previous.indicators.get(indicator_id) if self.previous else None
        m = self.measures[indicator_id]
        return (before[0] if before else None), change(before, (m.status, m.score))

    @property
    def findings_raised(self) -> list[FindingState]:
        """The findings of this cycle's sheet."""
        return [f for f in self.findings if f.raised_in == self.fiscal_year]

    @property
    def open_findings(self) -> list[FindingState]:
        """Findings of earlier sheets that are still open (open or in progress) in this cycle."""
        return [f for f in self.findings if f.open and f.raised_in < self.fiscal_year]

    def revisions_made(self) -> list[tuple[str, Revision]]:
        """Target revisions made in this cycle (``in`` = E): (indicator id, revision)."""
        return [(i.id, r) for i in self.program.indicators for r in i.revisions if r.in_ == self.fiscal_year]

    def year_values(self, indicator: Indicator) -> list[YearValues]:
        """Every year of ``indicator`` (one of ``program``'s) with an actual ≤ C or a target as of this cycle,
        oldest first, with that year's 達成率: the card's year table and the open data's observations."""
        rates = self.achievements[self.achievements["indicator_id"] == indicator.id].set_index("year")["achievement"]
        values = []
        for year, observation in sorted(indicator.observations.items()):
            actual = observation.actual if year <= self.cutoff else None  # later actuals are not this cycle's
            if actual is not None or observation.target is not None:
                values.append(YearValues(year=year, actual=actual, target=observation.target, achievement=rates.get(year)))
        return values

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
    cycles: list[Cycle] | None = None,
    plan: CityPlan | None = None,
) -> ReportCard:
    """Compute a card from an already loaded program (pure apart from the timestamp).

    ``cycles`` are every cycle of the city (for the previous status); the
    program is shown with its targets as they stood in ``fiscal_year``.
    """
    rating = _as_model(Rating, rating)
    thresholds = _as_model(Thresholds, thresholds)
    fiscal_year = int(fiscal_year)
    cycles = list(cycles or [])
    measures = assess_indicators(program, fiscal_year, results_lag, thresholds)
    frame = assessment_frame(measures.values())
    sheet = program.sheet(fiscal_year)
    before = previous_cycle(program, cycles, fiscal_year)
    return ReportCard(
        program=program_as_of(program, fiscal_year),
        fiscal_year=fiscal_year,
        results_lag=int(results_lag),
        measures=measures,
        achievements=achievements(program, fiscal_year, results_lag),
        status=program_status(frame),
        costs=cost_summary(sheet.costs if sheet else None, measures.values()),
        score=program_score(frame),
        previous=standing(program, before) if before else None,
        cost_history=cost_history(program, fiscal_year, cycles, results_lag, thresholds),
        findings=findings_as_of(program, fiscal_year),
        earlier_findings=open_findings_before(program, fiscal_year, before.fiscal_year if before else None),
        diagnostics=diagnose(program, fiscal_year, results_lag, thresholds),
        policy_path=tuple((plan.levels[i], item.id, item.name) for i, item in enumerate(plan.path(program.policy)))
        if plan and program.policy else (),
        rating=rating,
        thresholds=thresholds or Thresholds(),
        title=title or None,
        data_file=data_file,
    )


def check_conclusions(program: Program, cycles: list[Cycle], path: str, up_to: int | None = None) -> None:
    """Each sheet's committee conclusion (up to ``up_to``) must be one its year's cycle accepts (the default list
    when that year has no cycle file); every problem is one line of the raised :class:`ProgramDataError`."""
    accepted = {cycle.fiscal_year: cycle.conclusions for cycle in cycles}
    problems = []
    for year, sheet in sorted(program.sheets.items()):
        conclusion = sheet.external_evaluation.conclusion if sheet.external_evaluation else None
        allowed = accepted.get(year, list(DEFAULT_CONCLUSIONS))
        if conclusion is not None and (up_to is None or year <= up_to) and conclusion not in allowed:
            problems.append((f"sheets.{era_label(year)}.external_evaluation.conclusion",
                             f"expected one of {', '.join(allowed)} (the cycle's conclusions), got {conclusion!r}"))
    if problems:
        raise ProgramDataError(path, problems[0][0], problems[0][1], problems=problems)


def load_card(
    program_id: str, fiscal_year: int, data_dir: str | Path = "data", results_lag: int = 1, params_dir: str | Path | None = None,
    **options: Any,
) -> ReportCard:
    """Load ``<data_dir>/programs/<program_id>.yaml`` and build its card for evaluation year ``fiscal_year``.

    ``params_dir`` (default: ``params`` beside the data folder) holds the city's cycles, for the previous status.
    """
    path = program_path(data_dir, program_id)
    program = load_program(path)
    # provenance names the file as the data folder sees it, never a machine's absolute path
    data_file = f"{Path(data_dir).resolve().name}/{path.relative_to(Path(data_dir)).as_posix()}"
    params = Path(params_dir) if params_dir is not None else Path(data_dir).parent / "params"
    cycles = [cycle for _, cycle in load_cycles(params)] if params.is_dir() else []
    check_conclusions(program, cycles, data_file, up_to=int(fiscal_year))
    plan = None
    if program.policy is not None:  # only a program that names a policy depends on the plan
        plan_file = f"{Path(data_dir).resolve().name}/{plan_path(data_dir).name}"  # named as the data folder sees it
        reading = read_plan(plan_path(data_dir)) if plan_path(data_dir).is_file() else None
        plan = reading.plan if reading else None
        if reading and reading.error:
            concerned = [item.id for item in plan.path(program.policy)] if plan else []
            problem = next((reading.affected[i] for i in concerned if i in reading.affected), None)
            if plan is None or problem:
                raise ProgramDataError(data_file, "policy", f"{program.policy!r} is under an item of {plan_file} that is invalid "
                                       f"({problem or str(reading.error).splitlines()[0]}); fix the plan")
        problem = policy_problem(plan, program.policy)
        if problem:
            raise ProgramDataError(data_file, "policy", problem)
    return build_card(program, fiscal_year, results_lag, data_file=data_file, cycles=cycles, plan=plan, **options)
