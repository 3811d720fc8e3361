"""Plan roll-up (docs/method.md): each plan item's status, score, programs and total cost in one cycle; pure.

Built from each program's card results (what the index records), never by recomputing an assessment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .assessment import status_from_score
from .plan import UNASSIGNED, UNASSIGNED_LABEL, CityPlan

__all__ = ["ProgramResult", "Rollup", "roll_up"]


@dataclass(frozen=True)
class ProgramResult:
    """What the roll-up needs of one program's card in the cycle."""

    program_id: str
    name: str
    status: str
    score: float  # NaN when the program has no score
    policy: str | None = None
    total_cost: float = math.nan  # トータルコスト; NaN when the sheet does not define it
    cost_unit: str | None = None


@dataclass(frozen=True)
class Rollup:
    item_id: str
    name: str
    level: str  # the plan level's name (基本目標, 施策 …) or 未分類
    depth: int  # 1 for the top level; 1 for 未分類
    programs: tuple[ProgramResult, ...] = ()
    score: float = math.nan
    status: str = "not_available"
    total_cost: float = math.nan  # empty (NaN) when no program has one, or when units differ
    cost_unit: str | None = None
    cost_programs: int = 0  # how many programs' costs were summed
    cost_note: str | None = None  # why the total is empty although some programs have costs
    ancestors: tuple[str, ...] = field(default_factory=tuple)  # item ids, top first

    @property
    def count(self) -> int:
        return len(self.programs)

    @property
    def scored(self) -> int:
        return sum(1 for p in self.programs if not math.isnan(p.score))

    def distribution(self) -> dict[str, int]:
        statuses = [p.status for p in self.programs]
        return {status: statuses.count(status) for status in dict.fromkeys(statuses)}


def _rollup(item_id: str, name: str, level: str, depth: int, programs: list[ProgramResult], ancestors: tuple[str, ...]) -> Rollup:
    scored = [p for p in programs if not math.isnan(p.score)]
    if not scored:
        score, status = math.nan, "not_available"
    else:
        score = sum(p.score for p in scored) / len(scored)
        status = "target_achieved" if all(p.status == "target_achieved" for p in scored) else status_from_score(score)
    costed = [p for p in programs if not math.isnan(p.total_cost)]
    units = {p.cost_unit for p in costed}
    total, unit, note = math.nan, None, None
    if costed and len(units) == 1:
        total, unit = sum(p.total_cost for p in costed), units.pop()
    elif costed:
        note = f"コストの単位が事業によって異なる（{'・'.join(sorted(u or '－' for u in units))}）ため、合計しません。"
    return Rollup(item_id=item_id, name=name, level=level, depth=depth, programs=tuple(programs), score=score, status=status,
                  total_cost=total, cost_unit=unit, cost_programs=0 if note else len(costed), cost_note=note, ancestors=ancestors)


def roll_up(plan: CityPlan | None, programs: list[ProgramResult]) -> list[Rollup]:
    """Every plan item (depth first, in file order) and 未分類 (programs without a leaf ``policy``), each program once."""
    leaves = {leaf.id for leaf in plan.leaves()} if plan else set()
    out = []
    if plan is not None:
        for item, ancestors in plan.walk():
            below = {item.id} | {descendant.id for descendant, chain in plan.walk() if item in chain}
            members = [p for p in programs if p.policy in below and p.policy in leaves]
            out.append(_rollup(item.id, item.name, plan.levels[len(ancestors)], len(ancestors) + 1, members,
                               tuple(a.id for a in ancestors)))
    unassigned = [p for p in programs if p.policy not in leaves]
    if unassigned or plan is None:
        out.append(_rollup(UNASSIGNED, UNASSIGNED_LABEL, UNASSIGNED_LABEL, 1, unassigned, ()))
    return out
