"""Recording a card's key results in the executed notebook, and reading them back.

scrapbook is unmaintained, so it is used here and nowhere else: replacing it
means rewriting this module only.  The batch index is built from these
scraps, never by recomputing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .card import ReportCard
from .iorw import json_safe
from .opendata import card_tables

__all__ = ["SCRAP_NAMES", "INDICATOR_FIELDS", "record", "read", "from_node", "index_record", "open_data_tables"]

SCRAP_NAMES = ("program", "program_status", "assessment", "indicators", "open_data")


#: what the index shows of each indicator (recorded by indicator id, in the file's order)
INDICATOR_FIELDS = ("indicator_id", "name", "unit", "kind", "status", "status_label", "current", "target", "achievement", "progress", "score")


def _previous_total(card: ReportCard) -> float | None:
    """トータルコスト of the previous cycle's sheet (for "cost up while the status went down")."""
    if card.previous is None or card.previous.fiscal_year not in card.cost_history:
        return None
    return card.cost_history[card.previous.fiscal_year].total_cost


def record(card: ReportCard) -> None:
    """Glue the program's identity, status, assessment table and per-indicator summary (not displayed)."""
    import scrapbook as sb

    program = card.program
    overrides = {o.indicator: o.status for o in card.sheet.overrides}
    evaluation = card.sheet.external_evaluation
    sb.glue("program", json_safe({
        "id": program.id, "name": program.name, "municipality": program.municipality,
        "organization": program.organization, "section": program.section,
        "fiscal_year": card.fiscal_year, "results_lag": card.results_lag, "data_file": card.data_file,
        "score": card.score, "change": card.change,
        "previous_status": card.previous.status if card.previous else None,
        "previous_year": card.previous.fiscal_year if card.previous else None,
        "open_findings": sum(1 for f in card.findings if f.open),
        "earlier_open_findings": len(card.open_findings),
        "overrides": len(overrides),
        "overrides_differ": sum(1 for i, status in overrides.items() if i in card.measures and card.measures[i].status != status),
        "conclusion": evaluation.conclusion if evaluation else None,
        "policy": program.policy,
        "total_cost": card.costs.total_cost if card.costs else None,
        "cost_unit": card.costs.unit if card.costs else None,
        "previous_total_cost": _previous_total(card),
        "diagnostics": [{"code": d.code, "subject": d.subject, "label": d.label, "message": d.message} for d in card.diagnostics],
    }))
    sb.glue("program_status", card.status)
    sb.glue("assessment", card.assessment, encoder="pandas")
    rows = []
    for indicator in program.indicators:
        previous, change = card.indicator_change(indicator.id)
        row = {key: getattr(card.measures[indicator.id], key) for key in INDICATOR_FIELDS}
        rows.append(json_safe({**row, "previous_status": previous, "change": change, "override": overrides.get(indicator.id)}))
    sb.glue("indicators", rows)
    sb.glue("open_data", card_tables(card))


def read(notebook: str | Path) -> dict[str, Any]:
    """The scraps of an executed notebook file as ``{name: value}`` (the assessment as a DataFrame)."""
    import nbformat

    return from_node(nbformat.read(str(notebook), as_version=4))


def from_node(node: Any) -> dict[str, Any]:
    """The scraps of an executed notebook already in memory; a missing scrap is an error."""
    import scrapbook as sb

    scraps = sb.models.Notebook(node).scraps
    missing = [name for name in SCRAP_NAMES if name not in scraps]
    if missing:
        raise ValueError(f"the notebook recorded no {', '.join(missing)} (does it call evalkit.scraps.record(card)?)")
    out = {name: scraps[name].data for name in SCRAP_NAMES if name in scraps}
    if isinstance(out.get("assessment"), pd.DataFrame):
        out["assessment"] = out["assessment"].reset_index(drop=True)
    return out


def index_record(scraps: dict[str, Any]) -> dict[str, Any]:
    """What a cycle index row shows, JSON-safe (it is cached between runs)."""
    return {**scraps["program"], "status": scraps["program_status"], "indicators": scraps["indicators"]}


def open_data_tables(scraps: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The card's rows of each file of its cycle's open-data package (evalkit.opendata), as recorded."""
    return {table: list(rows) for table, rows in scraps["open_data"].items()}
