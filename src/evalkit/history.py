"""A program across cycles (docs/method.md, version 2): its previous status and the change, and findings as of a cycle.

Pure: programs and cycle models in, typed results out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from .assessment import assess_indicators, assessment_frame, program_score, program_status
from .cycle import Cycle
from .model import Finding, FindingUpdate, Program

__all__ = [
    "Change", "CHANGE_LABELS", "CHANGE_ARROWS", "Standing", "standing", "previous_cycle", "previous_standing", "change",
    "FindingState", "findings_as_of", "open_findings_before",
]

Change = Literal["new", "improved", "worsened", "unchanged", ""]
#: worded unlike the statuses (悪化 is a status; a score that fell is 低下)
CHANGE_LABELS: dict[str, str] = {"new": "新規", "improved": "改善", "worsened": "低下", "unchanged": "変化なし", "": "比較不能"}
#: the change in a form that does not rely on colour
CHANGE_ARROWS: dict[str, str] = {"new": "＊", "improved": "↑", "worsened": "↓", "unchanged": "→", "": "－"}


@dataclass(frozen=True)
class Standing:
    """A program's status and score in one cycle, with each indicator's."""

    fiscal_year: int
    status: str
    score: float
    indicators: dict[str, tuple[str, float]] = field(default_factory=dict)  # indicator id -> (status, score)


def standing(program: Program, cycle: Cycle) -> Standing:
    """The program as the cycle judged it: that cycle's targets, cut-off and thresholds."""
    measures = assess_indicators(program, cycle.fiscal_year, cycle.results_lag, cycle.thresholds)
    frame = assessment_frame(measures.values())
    return Standing(
        fiscal_year=cycle.fiscal_year, status=program_status(frame), score=program_score(frame),
        indicators={i: (m.status, m.score) for i, m in measures.items()},
    )


def previous_cycle(program: Program, cycles: list[Cycle], fiscal_year: int) -> Cycle | None:
    """The latest cycle before ``fiscal_year`` in which the program has a card (a sheet, and listed if the cycle lists)."""
    earlier = [
        c for c in cycles
        if c.fiscal_year < fiscal_year and c.fiscal_year in program.sheets and (c.programs is None or program.id in c.programs)
    ]
    return max(earlier, key=lambda c: c.fiscal_year) if earlier else None


def previous_standing(program: Program, cycles: list[Cycle], fiscal_year: int) -> Standing | None:
    cycle = previous_cycle(program, cycles, fiscal_year)
    return standing(program, cycle) if cycle else None


def change(previous: tuple[str, float] | None, now: tuple[str, float]) -> Change:
    """new / improved / worsened / unchanged, or empty when exactly one of the two scores is undefined."""
    if previous is None:
        return "new"
    (before, score_before), (after, score_after) = previous, now
    if after == "target_achieved" and before != "target_achieved":
        return "improved"
    defined_before, defined_after = not math.isnan(score_before), not math.isnan(score_after)
    if defined_before and defined_after:
        if score_after > score_before:
            return "improved"
        if score_after < score_before:
            return "worsened"
        return "unchanged"
    if not defined_before and not defined_after:
        return "unchanged"
    return ""


@dataclass(frozen=True)
class FindingState:
    """A finding as it stands in a cycle: raised in ``raised_in``, its status then, and the updates since."""

    finding: Finding
    raised_in: int
    status: str
    updates: tuple[tuple[int, FindingUpdate], ...] = ()  # (sheet year, update), oldest first

    @property
    def open(self) -> bool:
        return self.status in ("open", "in_progress")


def findings_as_of(program: Program, fiscal_year: int) -> list[FindingState]:
    """Every finding raised in a sheet of a year ≤ ``fiscal_year``, with the status of its latest update up to then."""
    states = []
    for year in sorted(y for y in program.sheets if y <= fiscal_year):
        evaluation = program.sheets[year].external_evaluation
        for finding in evaluation.findings if evaluation else []:
            updates = tuple(
                (later, update)
                for later in sorted(y for y in program.sheets if year < y <= fiscal_year)
                for update in program.sheets[later].finding_updates if update.id == finding.id
            )
            status = updates[-1][1].status if updates else finding.status
            states.append(FindingState(finding=finding, raised_in=year, status=status, updates=updates))
    return states


def open_findings_before(program: Program, fiscal_year: int, previous: int | None) -> list[FindingState]:
    """Findings of earlier sheets still open at the previous cycle, as they stand now (「これまでの指摘への対応」)."""
    if previous is None:
        earlier = [y for y in program.sheets if y < fiscal_year]
        previous = max(earlier) if earlier else None
    if previous is None:
        return []
    open_then = {s.finding.id for s in findings_as_of(program, previous) if s.open}
    return [s for s in findings_as_of(program, fiscal_year) if s.finding.id in open_then and s.raised_in < fiscal_year]
