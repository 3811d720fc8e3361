"""The evaluator's entry points: one index page per cycle, one listing the cycles, the triage and plan pages.

Built from the records the executed notebooks' scraps yielded (cached between
runs), never by recomputing an assessment.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from . import charts, fmt
from .assessment import STATUS_LABELS
from .export import TEMPLATE_DIR
from .history import CHANGE_ARROWS, CHANGE_LABELS
from .plan import UNASSIGNED, CityPlan
from .rollup import Rollup
from .triage import REASONS, TriageRow
from .years import era_and_western, era_label

__all__ = [
    "cycle_index_html", "root_index_html", "triage_html", "triage_csv", "TRIAGE_COLUMNS",
    "plan_pages",
]

_RANK = {status: i for i, status in enumerate(STATUS_LABELS)}
_CHANGE_RANK = {"improved": 0, "unchanged": 1, "new": 2, "": 3, "worsened": 4}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("evalkit", "templates/index"), autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(number=fmt.number, percent=fmt.percent)
    return env


@lru_cache(maxsize=1)
def _css() -> Markup:
    return Markup((TEMPLATE_DIR / "evalkit" / "evalkit.css").read_text(encoding="utf-8"))  # noqa: S704 - evalkit's own stylesheet


def _first(indicators: list[dict], key: str) -> float:
    values = [i.get(key) for i in indicators if i.get("kind", "outcome") == "outcome" and i.get(key) is not None]
    return values[0] if values else float("nan")


def cycle_index_html(
    fiscal_year: int, title: str | None, entries: list[dict[str, Any]], results_lag: int = 1, plan: CityPlan | None = None,
    booklet: bool = False,
) -> str:
    """One row per program: ``entries`` hold ``id``, ``ok``, ``error``, ``previous`` and the scraps' record;
    ``booklet``: the cycle's booklet.pdf is published (linked)."""
    order = {item.id: i for i, (item, _) in enumerate(plan.walk())} if plan else {}  # the plan's own order, for grouping
    rows = []
    for entry in sorted(entries, key=lambda e: str(e.get("name") or e["id"])):
        ok = entry["ok"]
        status = entry.get("status", "not_available") if ok else ("pending" if entry.get("pending") else "failed")
        indicators = entry.get("indicators", []) if ok else []
        rows.append({
            **entry,
            "name": entry.get("name") or entry["id"],
            "status": status,
            "status_label": STATUS_LABELS.get(status, "未作成" if status == "pending" else "作成失敗"),
            "rank": _RANK.get(status, len(_RANK)),
            "indicators": indicators,
            "href": f"{entry['id']}.html",
            "failed_href": entry.get("failed_href"),
            "sort_achievement": _first(indicators, "achievement"),
            "sort_progress": _first(indicators, "progress"),
            "change": entry.get("change", "") if ok else "",
            "plan_ids": " ".join(item.id for item in plan.path(entry.get("policy") or "")) if plan else "",
            "plan_label": " ".join(f"{item.id} {item.name}" for item in plan.path(entry.get("policy") or "")[-1:]) if plan else "",
            "plan_rank": order.get(entry.get("policy") or "", len(order)),
            "change_rank": _CHANGE_RANK.get(entry.get("change", "") if ok else "", len(_CHANGE_RANK)),
        })
    statuses = pd.Series([r["status"] for r in rows if r["ok"]], dtype=object)
    img = charts.figure_img(charts.status_chart(statuses), charts.status_alt_text(statuses), css_class="chart status-chart")
    chart = Markup(img)  # noqa: S704 - figure_img escapes the alt text; the rest is base64
    sections = sorted({r["section"] for r in rows if r.get("section")})
    return _environment().get_template("cycle.html.j2").render(
        heading=era_and_western(fiscal_year), title=title, rows=rows, css=_css(), chart=chart,
        statuses=list(STATUS_LABELS.items()), sections=sections, status_labels=STATUS_LABELS,
        plan_items=[(item.id, f"{'　' * len(ancestors)}{plan.levels[len(ancestors)]} {item.id} {item.name}") for item, ancestors in plan.walk()]
        if plan else [],
        changes=[(k, v) for k, v in CHANGE_LABELS.items() if k], change_labels=CHANGE_LABELS, arrows=CHANGE_ARROWS,
        ok_count=sum(r["ok"] for r in rows), failed_count=sum(r["status"] == "failed" for r in rows),
        pending_count=sum(r["status"] == "pending" for r in rows),
        cutoff=era_and_western(fiscal_year - results_lag), booklet=booklet,
    )


def root_index_html(cycles: list[dict[str, Any]]) -> str:
    """``cycles``: ``year``, ``title``, ``count``, ``failed`` and ``statuses`` (status -> programs) per cycle."""
    items = [{**c, "label": era_and_western(c["year"]), "statuses": c.get("statuses", {})} for c in sorted(cycles, key=lambda c: -c["year"])]
    chart = None
    if items:
        distribution = {era_label(c["year"]): c["statuses"] for c in sorted(items, key=lambda c: c["year"])}
        img = charts.figure_img(charts.cycles_status_chart(distribution), charts.cycles_status_alt_text(distribution), css_class="chart")
        chart = Markup(img)  # noqa: S704 - figure_img escapes the alt text; the rest is base64
    return _environment().get_template("root.html.j2").render(cycles=items, css=_css(), chart=chart, statuses=list(STATUS_LABELS.items()))


TRIAGE_COLUMNS = ["fiscal_year", "program_id", "program_name", "organization", "section", "status", "change", "points", "reasons"]


def triage_html(fiscal_year: int, title: str | None, rows: list[TriageRow]) -> str:
    """The committee's triage page: programs by points, each with its reasons; sortable, filterable, printable."""
    sections = sorted({r.section for r in rows if r.section})
    return _environment().get_template("triage.html.j2").render(
        heading=era_and_western(fiscal_year), title=title, rows=rows, css=_css(), reasons=list(REASONS.items()),
        sections=sections, ranks={**_RANK, "failed": len(_RANK)}, status_labels=STATUS_LABELS, arrows=CHANGE_ARROWS,
        change_labels=CHANGE_LABELS,
    )


def triage_csv(fiscal_year: int, rows: list[TriageRow]) -> str:
    """The triage list for Excel (UTF-8 with BOM); reasons joined with ' / '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(TRIAGE_COLUMNS)
    for r in rows:
        writer.writerow([fiscal_year, r.program_id, r.name, r.organization or "", r.section or "", r.status, r.change, r.points,
                         " / ".join(text for _, text in r.reasons)])
    return "\ufeff" + buffer.getvalue()


def item_file(item_id: str) -> str:
    return f"{item_id}.html"


def plan_pages(fiscal_year: int, plan: CityPlan | None, rollups: list[Rollup]) -> dict[str, str]:
    """The plan view of a cycle: ``{file name: html}`` for ``plan/index.html`` and one page per plan item (and 未分類)."""
    heading = era_and_western(fiscal_year)
    names = {r.item_id: r for r in rollups}
    rows = [{**r.__dict__, "count": r.count, "scored": r.scored, "distribution": list(r.distribution().items()), "href": item_file(r.item_id)}
            for r in rollups]
    env = _environment()
    common = {"heading": heading, "css": _css(), "status_labels": STATUS_LABELS, "unassigned": UNASSIGNED}
    pages = {"index.html": env.get_template("plan.html.j2").render(
        rollups=rows, plan_name=plan.name if plan else "総合計画", **common)}
    for row, r in zip(rows, rollups, strict=True):
        path = [(names[a].level, a, names[a].name, item_file(a)) for a in r.ancestors if a in names]
        pages[item_file(r.item_id)] = env.get_template("plan_item.html.j2").render(r={**row, "programs": r.programs}, path=path, **common)
    return pages
