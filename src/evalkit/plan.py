"""The city's comprehensive plan (総合計画, ``data/plan.yaml``): a tree of items (基本目標 → 施策 → …); pure.

Programs name a leaf item with ``policy``; :func:`policy_problem` says when one does not.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from .model import PLAN_ID_PATTERN

__all__ = [
    "PlanItem", "CityPlan", "UNASSIGNED", "UNASSIGNED_LABEL", "policy_problem", "tree_problems", "salvage_plan", "affected_items",
]

#: the roll-up item of programs without a (valid) policy, or of a city without a plan
UNASSIGNED = "unassigned"
UNASSIGNED_LABEL = "未分類"
#: ids the plan view uses for its own pages (plan/index.html, plan/unassigned.html)
RESERVED_ITEM_IDS = frozenset({"index", UNASSIGNED})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanItem(_Strict):
    id: Annotated[StrictStr, Field(pattern=PLAN_ID_PATTERN)]
    name: StrictStr
    items: list[PlanItem] = Field(default_factory=list)


class CityPlan(_Strict):
    name: StrictStr
    levels: Annotated[list[StrictStr], Field(min_length=1, max_length=4)]
    items: Annotated[list[PlanItem], Field(min_length=1)]

    @model_validator(mode="after")
    def _tree(self) -> CityPlan:
        """Unique ids; every item above the last level has items, no item of the last level has any."""
        problems = tree_problems(self.levels, [item.model_dump() for item in self.items])
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def walk(self) -> list[tuple[PlanItem, tuple[PlanItem, ...]]]:
        """Every item with its ancestors (top first), depth first in file order."""
        out: list[tuple[PlanItem, tuple[PlanItem, ...]]] = []

        def visit(items: list[PlanItem], ancestors: tuple[PlanItem, ...]) -> None:
            for item in items:
                out.append((item, ancestors))
                visit(item.items, (*ancestors, item))

        visit(self.items, ())
        return out

    def item(self, item_id: str) -> PlanItem | None:
        return next((item for item, _ in self.walk() if item.id == item_id), None)

    def leaves(self) -> list[PlanItem]:
        return [item for item, _ in self.walk() if not item.items]

    def path(self, item_id: str) -> tuple[PlanItem, ...]:
        """The item and its ancestors, top first (empty for an unknown id)."""
        for item, ancestors in self.walk():
            if item.id == item_id:
                return (*ancestors, item)
        return ()

    def level_of(self, item_id: str) -> str | None:
        path = self.path(item_id)
        return self.levels[len(path) - 1] if path else None


def policy_problem(plan: CityPlan | None, policy: str | None) -> str | None:
    """Why a program's ``policy`` is not a leaf of the plan (``None`` when it is, or when there is nothing to check)."""
    if policy is None:
        return None
    leaves = [leaf.id for leaf in plan.leaves()] if plan else []
    if plan is None:
        return f"there is no data/plan.yaml, so {policy!r} names nothing; add the plan or remove policy"
    if policy in leaves:
        return None
    level = plan.level_of(policy)
    if level is not None:
        return f"expected the id of an item of the last level ({plan.levels[-1]}), got {policy!r}, a {level}"
    shown = ", ".join(leaves[:12]) + (" …" if len(leaves) > 12 else "")
    return f"expected the id of a {plan.levels[-1]} of data/plan.yaml ({shown}), got {policy!r}"


def tree_problems(levels: list[str], items: list[Any]) -> list[str]:
    """The problems of the plan's tree, one ``key.path: message`` line each, on plain data (mappings with ``id``
    and ``items``): used by :class:`CityPlan` and, when another key of the file is invalid, by the loader."""
    problems: list[str] = []
    seen: dict[str, str] = {}

    def walk(entries: list[Any], path: str, depth: int) -> None:
        for i, item in enumerate(entries):
            if not isinstance(item, dict):
                continue
            key, children = f"{path}[{i}]", item.get("items") or []
            item_id = item.get("id")
            if item_id in RESERVED_ITEM_IDS:
                problems.append(f"{key}.id: {item_id!r} names a page of the plan view; expected another id")
            if isinstance(item_id, str):
                if item_id in seen:
                    problems.append(f"{key}.id: duplicate id {item_id!r} (also {seen[item_id]})")
                seen.setdefault(item_id, key)
            last = depth >= len(levels)
            if last and children:
                problems.append(f"{key}.items: {levels[-1]} is the last level; expected no items below it")
                continue  # the levels end here: what lies below is not checked again
            if not last and not children:
                problems.append(f"{key}.items: expected the {levels[depth]} under this {levels[depth - 1]} "
                                f"(the plan has {len(levels)} levels: {', '.join(levels)})")
            if isinstance(children, list):
                walk(children, f"{key}.items", depth + 1)

    if levels:
        walk(items, "items", 1)
    return problems


def salvage_plan(data: Any) -> CityPlan | None:
    """The plan's tree as written, without its checks (for a plan that failed them): programs under items that
    are fine keep their place; ``None`` when the file does not even have the shape of a tree."""
    def items(entries: Any) -> list[PlanItem] | None:
        if not isinstance(entries, list):
            return None
        out = []
        for entry in entries:
            children = items(entry.get("items") or []) if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("name"), str) or children is None:
                return None
            out.append(PlanItem.model_construct(id=entry["id"], name=entry["name"], items=children))
        return out

    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    levels = data.get("levels")
    tree = items(data.get("items"))
    if not (isinstance(levels, list) and 1 <= len(levels) <= 4 and all(isinstance(level, str) for level in levels)) or tree is None:
        return None
    return CityPlan.model_construct(name=data["name"], levels=levels, items=tree)


_ITEM_PATH = re.compile(r"items\[\d+\](?:\.items\[\d+\])*")


def affected_items(data: Any, problems: list[tuple[str, str]]) -> dict[str, str]:
    """Plan item id -> the problem line that concerns it, for every item a problem's key path (or its
    ``also items[…]``) points at: the programs that name these items, or items below them, fail; the others do not."""
    affected: dict[str, str] = {}
    for key, message in problems:
        for path in {m.group(0) for m in _ITEM_PATH.finditer(f"{key} {message}")}:
            node: Any = data
            for index in re.findall(r"\[(\d+)\]", path):
                entries = node.get("items") if isinstance(node, dict) else None
                node = entries[int(index)] if isinstance(entries, list) and int(index) < len(entries) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                affected.setdefault(node["id"], f"{key}: {message}")
    return affected
