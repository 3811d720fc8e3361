"""The report card's sections, in the seed sheet's order and wording, as HTML for a notebook cell.

Each function takes a :class:`~evalkit.card.ReportCard` and returns an
``IPython.display.HTML`` object, so a notebook cell is a single call.  Markup
lives in ``templates/card/``; Jinja's autoescaping makes every string from a
data file literal text.
"""

from __future__ import annotations

from functools import lru_cache

from IPython.display import HTML, display
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from . import __version__, charts, fmt
from .assessment import STATUS_LABELS
from .card import ReportCard
from .explain import explain
from .model import Indicator
from .years import era_and_western, era_label

__all__ = [
    "title", "overview", "organisation", "purpose", "indicators", "review", "analysis", "closing", "footer",
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
    """3 事業の目的: outcomes, target population, work items, activities and the logic model."""
    return _html("purpose.html.j2", purpose=card.program.purpose, work_items=card.program.work_items)


def _year_table(card: ReportCard, indicator: Indicator) -> list[dict]:
    """Columns of the 実績 / 目標 / 達成率 table: every year with an actual ≤ C or a target."""
    rates = card.achievements[card.achievements.indicator_id == indicator.id].set_index("year")["achievement"]
    columns = []
    for year, obs in sorted(indicator.observations.items()):
        actual = obs.actual if year <= card.cutoff else None
        if actual is None and obs.target is None:
            continue
        columns.append(
            {
                "year": year,
                "short": era_label(year),
                "actual": actual,
                "target": obs.target,
                "achievement": rates.get(year),
                "cutoff": year == card.cutoff,
            }
        )
    return columns


def indicators(card: ReportCard) -> HTML:
    """4 成果指標: per indicator its rationale, year table, chart, measures, badge and explanation."""
    items = []
    for indicator in card.program.indicators:
        m = card.measures[indicator.id]
        fig = charts.indicator_chart(indicator, m, card.cutoff)
        chart = charts.figure_img(fig, charts.indicator_alt_text(indicator, m, card.cutoff))
        items.append(
            {
                "id": indicator.id,
                "name": indicator.name,
                "unit": indicator.unit,
                "direction": indicator.direction,
                "kind": indicator.kind,
                "rationale": indicator.rationale,
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


STANDARD_SECTIONS = (title, overview, organisation, purpose, indicators, review, analysis, closing)


def standard(card: ReportCard) -> None:
    """Display every standard section in order (for per-program notebooks that add their own)."""
    for section in STANDARD_SECTIONS:
        display(section(card))

