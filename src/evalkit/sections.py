"""The report card's sections, in the seed sheet's order and wording, as HTML for a notebook cell.

Each function takes a :class:`~evalkit.card.ReportCard` and returns an
``IPython.display.HTML`` object, so a notebook cell is a single call.  Markup
lives in ``templates/card/``; Jinja's autoescaping makes every string from a
data file literal text.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache

from IPython.display import HTML, display
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from . import __version__, charts, fmt
from .assessment import STATUS_LABELS
from .card import ReportCard
from .explain import explain
from .history import CHANGE_ARROWS, CHANGE_LABELS
from .logicgraph import logic_svg
from .model import Indicator
from .years import era_and_western, era_label

__all__ = [
    "title", "summary", "checks", "overview", "organisation", "purpose", "indicators", "changes", "review", "analysis", "cost_history",
    "external", "closing", "footer",
    "STANDARD_SECTIONS", "standard", "render",
]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("evalkit", "templates/card"), autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(number=fmt.number, percent=fmt.percent, growth=fmt.growth, year_short=fmt.year_short)
    return env


def render(template: str, **context: object) -> str:
    """Render one section template (autoescaped) to an HTML string."""
    return _environment().get_template(template).render(**context)


def _html(template: str, **context: object) -> HTML:
    return HTML(render(template, **context))


def title(card: ReportCard) -> HTML:
    """「令和5年度（2023年度）通知表」, the program, its organisation and the overall status."""
    return _html(
        "title.html.j2",
        program=card.program,
        heading=f"{era_and_western(card.fiscal_year)}通知表",
        cycle_title=card.title or "行政評価・外部評価",
        status=card.status,
        status_label=STATUS_LABELS[card.status],
        results_year=era_and_western(card.cutoff),
        has_sheet=card.has_sheet,
        policy_path=card.policy_path,
    )


def overview(card: ReportCard) -> HTML:
    """1 事業概要: name, start and background."""
    started = era_and_western(card.program.started) if card.program.started else None
    return _html("overview.html.j2", program=card.program, started=started)


def organisation(card: ReportCard) -> HTML:
    """2 事業の実施体制: staff table with its total and note."""
    total = sum(row.count for row in card.sheet.staff)
    return _html("organisation.html.j2", sheet=card.sheet, staff_total=total)


def purpose(card: ReportCard) -> HTML:
    """3 事業の目的: outcomes, target population, work items, activities and the logic model (the graph when there is one)."""
    graph = logic_svg(card.program, card.measures)
    return _html("purpose.html.j2", purpose=card.program.purpose, work_items=card.program.work_items,
                 graph=Markup(graph) if graph else None,  # noqa: S704 - logic_svg escapes every text of the data file
                 single_level_reason=card.program.logic.single_level_reason if card.program.logic else None)


def checks(card: ReportCard) -> HTML:
    """点検: what the office's checks found on this card, each with what to fix."""
    return _html("checks.html.j2", diagnostics=card.diagnostics)


def _year_table(card: ReportCard, indicator: Indicator) -> list[dict]:
    """Columns of the 実績 / 目標 / 達成率 table: every year with an actual ≤ C or a target."""
    return [{**asdict(v), "short": era_label(v.year), "cutoff": v.year == card.cutoff} for v in card.year_values(indicator)]


def indicators(card: ReportCard) -> HTML:
    """4 成果指標: per indicator its rationale, year table, chart, measures, badge and explanation."""
    items = []
    for indicator in card.program.indicators:
        m = card.measures[indicator.id]
        fig = charts.indicator_chart(indicator, m, card.cutoff, card.fiscal_year)
        chart = charts.figure_img(fig, charts.indicator_alt_text(indicator, m, card.cutoff, card.fiscal_year))
        items.append(
            {
                "id": indicator.id,
                "name": indicator.name,
                "unit": indicator.unit,
                "direction": indicator.direction,
                "kind": indicator.kind,
                "rationale": indicator.rationale,
                "source": indicator.source,
                "target_rationale": indicator.target_rationale,
                "table": _year_table(card, indicator),
                "chart": Markup(chart),  # noqa: S704 - figure_img escapes the alt text; the rest is base64
                "row": m,
                "pace": fmt.MISSING if fmt.is_missing(m.pace) else f"{m.pace:.2f}",
                "grade": card.grade(indicator.id),
                "explanation": explain(m),
            }
        )
    return _html("indicators.html.j2", indicators=items, cutoff_short=era_label(card.cutoff))


def review(card: ReportCard) -> HTML:
    """5 事業のふりかえり: episodes and the results year's activities."""
    return _html("review.html.j2", sheet=card.sheet, results_year_long=era_label(card.cutoff, long=True))


def analysis(card: ReportCard) -> HTML:
    """6 課題分析: status, improvement points, mandala (3×3), directions, plan, costs."""
    rows = []
    mandala = card.sheet.mandala
    if mandala:
        cells = [{"text": t, "center": False} for t in mandala.cells]
        cells.insert(4, {"text": mandala.center, "center": True})
        rows = [cells[0:3], cells[3:6], cells[6:9]]
    cost_rows = card.costs.as_frame().to_dict("records") if card.costs else []
    return _html(
        "analysis.html.j2",
        sheet=card.sheet,
        status=card.status,
        status_label=STATUS_LABELS[card.status],
        mandala_rows=rows,
        costs=card.costs,
        cost_rows=cost_rows,
    )


def closing(card: ReportCard) -> HTML:
    """7 おわりに: questions for evaluators; their comments and the responses when present."""
    return _html("closing.html.j2", sheet=card.sheet)


def footer(card: ReportCard) -> HTML:
    """Provenance: cycle, data file, evalkit version, generation time, source link."""
    source = card.program.source or ""
    program = card.program.model_copy(update={"source": source if source.startswith(("http://", "https://")) else None})
    return _html(
        "footer.html.j2",
        program=program,
        cycle=era_and_western(card.fiscal_year),
        cutoff=era_and_western(card.cutoff),
        data_file=card.data_file,
        version=__version__,
        generated_at=card.generated_at.astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    )


FINDING_STATUS_LABELS = {"open": "未対応", "in_progress": "対応中", "addressed": "対応済み", "declined": "対応しない"}


def _headline(card: ReportCard) -> str | None:
    """The one number a citizen needs: the first outcome indicator's latest value against its final target."""
    outcome = next((i for i in card.program.indicators if i.kind == "outcome"), None)
    if outcome is None:
        return None
    m = card.measures[outcome.id]
    if m.current_year is None:
        return f"{outcome.name}：評価対象年度までの実績はまだありません。"
    text = f"{outcome.name}：直近の実績は{fmt.number(m.current, m.unit)}（{era_label(m.current_year, long=True)}）"
    if m.target_year is not None:
        text += f"、目標は{fmt.number(m.target, m.unit)}（{era_label(m.target_year, long=True)}）"
    return text + "です。"


def summary(card: ReportCard) -> HTML:
    """「ひとことで」: the department's summary, the status (and its change) and the headline number, in plain Japanese."""
    change_text = None
    if card.previous is not None:
        change_text = f"前回{STATUS_LABELS[card.previous.status]}、{CHANGE_ARROWS[card.change]}{CHANGE_LABELS[card.change]}"
    return _html(
        "summary.html.j2", summary=card.sheet.summary, status=card.status, status_label=STATUS_LABELS[card.status],
        change_text=change_text, headline=_headline(card),
    )


def changes(card: ReportCard) -> HTML:
    """前年度からの変化: previous and current status of the program and each indicator, overrides, revisions, breaks."""
    overrides = {o.indicator: o for o in card.sheet.overrides}
    rows = []
    for indicator in card.program.indicators:
        m = card.measures[indicator.id]
        previous, change = card.indicator_change(indicator.id)
        override = overrides.get(indicator.id)
        rows.append({
            "name": indicator.name, "status": m.status, "status_label": m.status_label,
            "previous": previous, "previous_label": STATUS_LABELS.get(previous or "", ""),
            "change": change, "arrow": CHANGE_ARROWS[change], "change_label": CHANGE_LABELS[change],
            "override": override, "override_label": STATUS_LABELS[override.status] if override else "",
        })
    names = {i.id: i.name for i in card.program.indicators}
    units = {i.id: i.unit for i in card.program.indicators}
    revisions = [
        {"indicator": names[i], "target_year": era_label(r.year, long=True),
         "old": fmt.number(r.from_, units[i]) if r.from_ is not None else "（なし）",
         "new": fmt.number(r.to, units[i]) if r.to is not None else "（取り下げ）", "reason": r.reason}
        for i, r in card.revisions_made()
    ]
    breaks = [
        {"indicator": i.name, "year": era_label(b.year, long=True), "note": b.note}
        for i in card.program.indicators for b in i.breaks if b.year <= card.cutoff
    ]
    previous = card.previous
    return _html(
        "changes.html.j2", previous=previous, previous_label=era_and_western(previous.fiscal_year) if previous else "",
        previous_status_label=STATUS_LABELS[previous.status] if previous else "", status=card.status,
        status_label=STATUS_LABELS[card.status], change=card.change, change_arrow=CHANGE_ARROWS[card.change],
        change_label=CHANGE_LABELS[card.change], indicators=rows, revisions=revisions, breaks=breaks,
        overrides_differ=any(r["override"] and r["override"].status != r["status"] for r in rows),
    )


def cost_history(card: ReportCard) -> HTML:
    """コストの推移: every sheet's costs up to this cycle, a chart of the trend, and the declared cost direction."""
    rows = [
        {"label": era_label(year, long=True), "year": era_label(c.year, long=True) if c.year else "－", "current": year == card.fiscal_year,
         "budget": c.budget, "settled": c.settled, "business": c.business_cost, "personnel": c.personnel_cost,
         "total": c.total_cost, "fte": c.fte, "unit_cost": c.unit_cost, "per_unit": c.per_unit}
        for year, c in card.cost_history.items()
    ]
    chart = None
    if len(card.cost_history) >= 2:
        fig = charts.cost_chart(card.cost_history)
        chart = Markup(charts.figure_img(fig, charts.cost_alt_text(card.cost_history)))  # noqa: S704 - figure_img escapes the alt text
    units = {c.unit for c in card.cost_history.values()}
    return _html("cost_history.html.j2", rows=rows, chart=chart, unit="・".join(sorted(units)) or "千円",
                 directions=card.sheet.directions)


def external(card: ReportCard) -> HTML:
    """外部評価 and 「これまでの指摘への対応」: the committee's conclusion and findings, and what became of earlier ones."""
    names = {i.id: i.name for i in card.program.indicators}
    subjects = {"purpose": "事業の目的", "indicators": "成果指標", "costs": "コスト", "directions": "方向性", "plan": "計画", "other": "その他"}

    def about(value: str | None) -> str:
        return names.get(value or "", subjects.get(value or "", "－"))

    findings = [
        {"text": f.finding.text, "about": about(f.finding.about), "response": f.finding.response,
         "status": f.status, "status_label": FINDING_STATUS_LABELS[f.status]}
        for f in card.findings_raised
    ]
    earlier = [
        {"text": f.finding.text, "raised": era_label(f.raised_in, long=True), "status": f.status,
         "status_label": FINDING_STATUS_LABELS[f.status],
         "updates": [f"{FINDING_STATUS_LABELS[u.status]}{('：' + u.note) if u.note else ''}" for year, u in f.updates if year == card.fiscal_year]}
        for f in card.earlier_findings
    ]
    return _html("external.html.j2", evaluation=card.sheet.external_evaluation, findings=findings, earlier=earlier)


STANDARD_SECTIONS = (title, summary, checks, overview, organisation, purpose, indicators, changes, review, analysis, cost_history, external, closing)


def standard(card: ReportCard) -> None:
    """Display every standard section in order (for per-program notebooks that add their own)."""
    for section in STANDARD_SECTIONS:
        display(section(card))

