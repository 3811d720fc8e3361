"""Filling a kernel zygote's caches before it forks: what every card would otherwise pay again in its own kernel.

A forked kernel starts with the zygote's memory, so work done here once is
not done per card: the card templates compiled by Jinja, the chart fonts
opened and measured by matplotlib, seaborn's and pandas' first-use set-up.
It renders every standard section of one made-up card and throws the
result away; nothing is displayed (the zygote has no display) and no state
that a card reads is changed, only caches, so a forked kernel renders
exactly what a fresh one does (the tests compare the two).
"""

from __future__ import annotations

import contextlib

from .card import build_card
from .cycle import Cycle
from .model import Program

__all__ = ["warm_up"]

_PROGRAM = {
    "id": "warm-up", "name": "準備用の事業", "organization": "部", "section": "課", "started": 2020,
    "purpose": {"final_outcome": "目的", "target_population": "市民", "intermediate_outcomes": ["中間"], "activities": "活動"},
    "work_items": ["事務"],
    "logic": {"nodes": [{"id": "act", "level": "activity", "text": "活動"}, {"id": "out", "level": "final", "text": "成果",
                                                                                "indicators": ["a"]}],
              "links": [["act", "out"]]},
    "indicators": [
        {"id": "a", "name": "参加者数", "unit": "人", "direction": "up", "baseline": 2020,
         "observations": {2020: {"actual": 80}, 2021: {"actual": 100}, 2022: {"actual": 104, "target": 110}, 2026: {"target": 120}},
         "revisions": [{"year": 2026, "from": 100, "to": 120, "in": 2023}], "breaks": [{"year": 2021, "note": "変更"}]},
        {"id": "b", "name": "待機者数", "unit": "人", "direction": "down", "kind": "output",
         "observations": {2021: {"actual": 30}, 2022: {"actual": 27}, 2024: {"target": 20}}},
    ],
    "sheets": {
        2022: {"costs": {"year": 2021, "business_cost": 900, "personnel_cost": 400},
               "external_evaluation": {"findings": [{"id": "f1", "about": "a", "text": "指摘"}]}},
        2023: {"summary": "要約", "staff": [{"role": "職員", "count": 1}], "costs": {"year": 2022, "business_cost": 1000, "personnel_cost": 500},
               "episodes": ["出来事"], "mandala": {"center": "中心", "cells": ["一", "二", "三", "四", "五", "六", "七", "八"]},
               "directions": [{"work_item": "事務", "program": "継続", "cost": "維持"}], "plan": ["計画"],
               "overrides": [{"indicator": "a", "status": "limited_progress", "reason": "理由"}],
               "finding_updates": [{"id": "f1", "status": "in_progress"}]},
    },
}


#: what a kernel otherwise imports during every card (ipykernel's debugger, IPython's helpers, the scraps' writers)
IMPORTS = ("ipykernel.debugger", "psutil", "pdb", "sqlite3", "IPython.core.oinspect", "IPython.core.completerlib",
           "IPython.extensions.storemagic", "matplotlib.backends.backend_agg", "pyarrow.parquet", "PIL.PngImagePlugin",
           "evalkit.scraps", "evalkit.opendata")


def warm_up() -> None:
    """Import what a card's kernel would, render every standard section of a made-up card, discard the result."""
    import importlib

    from . import sections

    for name in IMPORTS:
        with contextlib.suppress(ImportError):  # an optional library: the kernel imports it (or not) as before
            importlib.import_module(name)

    program = Program.model_validate(_PROGRAM)
    card = build_card(program, 2023, cycles=[Cycle.model_validate({"fiscal_year": 2022}), Cycle.model_validate({"fiscal_year": 2023})])
    for section in (*sections.STANDARD_SECTIONS, sections.footer):
        section(card)
