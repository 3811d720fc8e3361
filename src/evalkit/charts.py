"""Charts for the report card (seaborn on matplotlib), with alt text that states the numbers.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no
global figure state leaks between cells, nothing is shown twice in Jupyter,
and evalkit never touches matplotlib's backend: a pyplot chart that an
analyst adds to a program's notebook shows inline as usual.  Text from data
files is drawn literally (no mathtext: ``$`` in a unit is a dollar sign).
Japanese glyphs come from the IPAex Gothic font that ``matplotlib-fontja`` ships.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from typing import Any

import matplotlib
import matplotlib_fontja  # noqa: F401  (registers IPAexGothic with matplotlib)
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from . import fmt
from .assessment import STATUS_LABELS, IndicatorAssessment, actuals, series_start, shown_actuals
from .model import Indicator

__all__ = ["JAPANESE_FONT", "indicator_chart", "indicator_alt_text", "cost_chart", "cost_alt_text", "status_chart", "status_alt_text",
           "cycles_status_chart", "cycles_status_alt_text",
           "figure_img"]

JAPANESE_FONT = "IPAexGothic"
STATUS_COLOURS = {
    "target_achieved": "#1b7837",
    "substantial_progress": "#4d9221",
    "moderate_progress": "#d6a000",
    "limited_progress": "#e08214",
    "deterioration": "#c51b7d",
    "not_available": "#808080",
}
ACTUAL_COLOUR, TARGET_COLOUR, PATH_COLOUR, BEFORE_BREAK_COLOUR = "#1f4e99", "#c0392b", "#7f8c8d", "#9aa0a6"


@contextmanager
def _style() -> Iterator[None]:
    with sns.axes_style("whitegrid"), matplotlib.rc_context(
        {"font.family": JAPANESE_FONT, "axes.unicode_minus": False, "font.size": 10, "text.parse_math": False}
    ):
        yield


def _series(indicator: Indicator, cutoff: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    actual = pd.DataFrame(list(actuals(indicator, cutoff).items()), columns=["year", "value"])
    target = pd.DataFrame(
        [(y, o.target) for y, o in sorted(indicator.observations.items()) if o.target is not None], columns=["year", "value"]
    )
    return actual, target


def _before_break(indicator: Indicator, cutoff: int) -> pd.DataFrame:
    """Actuals shown but not used: those before the series break in force at the cut-off."""
    used = actuals(indicator, cutoff)
    rows = [(y, v) for y, v in shown_actuals(indicator, cutoff).items() if y not in used]
    return pd.DataFrame(rows, columns=["year", "value"])


def _earlier_targets(indicator: Indicator, fiscal_year: int) -> pd.DataFrame:
    """Targets as they stood before a revision made up to ``fiscal_year`` (drawn faint)."""
    rows = [(r.year, r.from_) for r in indicator.revisions if r.in_ <= fiscal_year and r.from_ is not None]
    return pd.DataFrame(sorted(set(rows)), columns=["year", "value"])


def _required_path(m: IndicatorAssessment) -> pd.DataFrame:
    """Base to final target at the required yearly growth (a straight line where growth is undefined)."""
    if m.base_year is None or m.target_year is None or m.target_year <= m.base_year:
        return pd.DataFrame(columns=["year", "value"])
    t0, tau = m.base_year, m.target_year
    v0, target, rate = m.base, m.target, m.cagr_required
    years = list(range(t0, tau + 1))
    if fmt.is_missing(rate) or v0 == 0:
        values = [v0 + (target - v0) * (y - t0) / (tau - t0) for y in years]
    else:
        values = [v0 * (1 + rate) ** (y - t0) for y in years]
        values[-1] = target
    if not all(math.isfinite(v) for v in values):
        return pd.DataFrame(columns=["year", "value"])
    return pd.DataFrame({"year": years, "value": values})


def indicator_chart(indicator: Indicator, m: IndicatorAssessment, cutoff: int, fiscal_year: int | None = None) -> Figure:
    """Actuals (solid, labelled), targets (diamonds) as they stood in the cycle and earlier ones (faint), the required
    path (dashed), a declared series break (a vertical line; earlier actuals in grey), the cut-off year marked."""
    actual, target = _series(indicator, cutoff)
    before = _before_break(indicator, cutoff)
    earlier = _earlier_targets(indicator, fiscal_year if fiscal_year is not None else cutoff + 1)
    start = series_start(indicator, cutoff)
    path = _required_path(m)
    with _style():
        fig = Figure(figsize=(7.0, 3.2), dpi=100, layout="constrained")
        ax = fig.subplots()
        if not path.empty:
            sns.lineplot(data=path, x="year", y="value", ax=ax, color=PATH_COLOUR, linestyle="--", linewidth=1.2, label="目標達成に必要な経路")
        if not actual.empty:
            sns.lineplot(data=actual, x="year", y="value", ax=ax, color=ACTUAL_COLOUR, marker="o", markersize=7, linewidth=2.2, label="実績")
            for year, value in actual.itertuples(index=False):
                ax.annotate(fmt.number(value), (year, value), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=9, color=ACTUAL_COLOUR)
        if not before.empty:
            ax.plot(before["year"], before["value"], color=BEFORE_BREAK_COLOUR, marker="o", markersize=6, linewidth=1.4,
                    label="計測方法変更前の実績（判定に使わない）")
        if start is not None:
            ax.axvline(start - 0.5, color=BEFORE_BREAK_COLOUR, linestyle="-", linewidth=2)
            ax.annotate("計測方法の変更", (start - 0.5, 0), xycoords=("data", "axes fraction"), xytext=(3, 14),
                        textcoords="offset points", fontsize=8, color="#555555")
        if not earlier.empty:
            ax.scatter(earlier["year"], earlier["value"], facecolors="none", edgecolors=TARGET_COLOUR, alpha=0.45, marker="D", s=60,
                       zorder=4, label="見直し前の目標")
        if not target.empty:
            sns.scatterplot(data=target, x="year", y="value", ax=ax, color=TARGET_COLOUR, marker="D", s=60, zorder=5, label="目標")
            for year, value in target.itertuples(index=False):
                ax.annotate(fmt.number(value), (year, value), textcoords="offset points", xytext=(0, -15), ha="center", fontsize=9,
                            color=TARGET_COLOUR)
        ax.axvline(cutoff, color="#555555", linestyle=":", linewidth=1)
        ax.annotate(f"評価対象 {fmt.year_short(cutoff)}", (cutoff, 0), xycoords=("data", "axes fraction"), xytext=(3, 4),
                    textcoords="offset points", fontsize=8, color="#555555")
        years = sorted(set(actual["year"]) | set(target["year"]) | set(path["year"]) | set(before["year"]) | set(earlier["year"]) | {cutoff})
        ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: fmt.year_short(int(round(x))) if float(x).is_integer() else ""))
        ax.set_xlabel("年度")
        ax.set_ylabel(f"（単位：{indicator.unit}）")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: fmt.number(y)))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8, frameon=True)
        ax.margins(y=0.18)
    return fig


def indicator_alt_text(indicator: Indicator, m: IndicatorAssessment, cutoff: int, fiscal_year: int | None = None) -> str:
    """The chart in words, numbers included, for screen readers and broken images."""
    actual, target = _series(indicator, cutoff)
    before = _before_break(indicator, cutoff)
    earlier = _earlier_targets(indicator, fiscal_year if fiscal_year is not None else cutoff + 1)
    parts = [f"{indicator.name}（単位：{indicator.unit}）の推移。"]
    if not before.empty:
        listed = "、".join(f"{fmt.year_short(y)} {fmt.number(v)}" for y, v in before.itertuples(index=False))
        parts.append(f"計測方法の変更前の実績（判定に使わない）：{listed}。")
    parts.append("実績：" + ("、".join(f"{fmt.year_short(y)} {fmt.number(v)}" for y, v in actual.itertuples(index=False)) or "なし") + "。")
    parts.append("目標：" + ("、".join(f"{fmt.year_short(y)} {fmt.number(v)}" for y, v in target.itertuples(index=False)) or "なし") + "。")
    if not earlier.empty:
        parts.append("見直し前の目標：" + "、".join(f"{fmt.year_short(y)} {fmt.number(v)}" for y, v in earlier.itertuples(index=False)) + "。")
    if m.base_year is not None and m.target_year is not None:
        parts.append(f"破線は基準年度{fmt.year_short(m.base_year)}から最終目標年度{fmt.year_short(m.target_year)}までの必要な経路。")
    parts.append(f"点線は評価対象年度{fmt.year_short(cutoff)}。")
    return "".join(parts)


def cost_chart(history: dict[int, Any]) -> Figure:
    """トータルコスト, 事業費 and 人件費 by evaluation year (the line of a year without a total is broken, not zero)."""
    rows = [(y, name, getattr(c, attr)) for y, c in history.items()
            for name, attr in (("トータルコスト", "total_cost"), ("事業費", "business_cost"), ("人件費", "personnel_cost"))]
    data = pd.DataFrame(rows, columns=["year", "item", "value"])
    unit = next(iter(history.values())).unit if history else ""
    with _style():
        fig = Figure(figsize=(7.0, 2.8), dpi=100, layout="constrained")
        ax = fig.subplots()
        sns.lineplot(data=data, x="year", y="value", hue="item", style="item", markers=True, dashes=True, ax=ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: fmt.year_short(int(round(x))) if float(x).is_integer() else ""))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: fmt.number(y)))
        ax.set_xlabel("評価年度")
        ax.set_ylabel(f"（単位：{unit}）")
        ax.legend(title=None, fontsize=8)
        ax.margins(y=0.15)
    return fig


def cost_alt_text(history: dict[int, Any]) -> str:
    parts = [
        f"{fmt.year_short(y)} トータルコスト{fmt.number(c.total_cost)}（事業費{fmt.number(c.business_cost)}、人件費{fmt.number(c.personnel_cost)}）"
        for y, c in history.items()
    ]
    unit = next(iter(history.values())).unit if history else ""
    return f"コストの推移（単位：{unit}）。" + "、".join(parts) + "。"


def status_chart(statuses: pd.Series) -> Figure:
    """How many programs are in each status: the distribution on a cycle's index page."""
    order = list(STATUS_LABELS)
    counts = statuses.value_counts().reindex(order, fill_value=0)
    data = pd.DataFrame({"status": [STATUS_LABELS[s] for s in order], "count": counts.values, "key": order})
    with _style():
        fig = Figure(figsize=(7.0, 2.6), dpi=100, layout="constrained")
        ax = fig.subplots()
        sns.barplot(data=data, y="status", x="count", hue="key", palette=STATUS_COLOURS, legend=False, ax=ax, orient="h")
        for i, value in enumerate(data["count"]):
            ax.annotate(str(value), (value, i), xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
        ax.set_xlabel("事業数")
        ax.set_ylabel("")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def cycles_status_chart(distribution: dict[str, dict[str, int]]) -> Figure:
    """How the programs' statuses were distributed in each cycle: one stacked bar per cycle, counts written on the bars."""
    order = list(STATUS_LABELS)
    labels = list(distribution)
    with _style():
        fig = Figure(figsize=(7.0, 1.2 + 0.45 * max(len(labels), 1)), dpi=100, layout="constrained")
        ax = fig.subplots()
        left = [0] * len(labels)
        hatches = {"target_achieved": "", "substantial_progress": "", "moderate_progress": "..", "limited_progress": "//",
                   "deterioration": "xx", "not_available": ""}
        for status in order:
            counts = [distribution[label].get(status, 0) for label in labels]
            bars = ax.barh(labels, counts, left=left, color=STATUS_COLOURS[status], hatch=hatches[status], edgecolor="white",
                           label=STATUS_LABELS[status])
            for bar, count in zip(bars, counts, strict=True):
                if count:
                    ax.annotate(str(count), (bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2), ha="center",
                                va="center", fontsize=8, color="white")
            left = [a + b for a, b in zip(left, counts, strict=True)]
        ax.invert_yaxis()
        ax.set_xlabel("事業数")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=6, fontsize=8, frameon=False)
    return fig


def cycles_status_alt_text(distribution: dict[str, dict[str, int]]) -> str:
    parts = [
        f"{label}：" + "、".join(f"{name} {counts.get(key, 0)}件" for key, name in STATUS_LABELS.items())
        for label, counts in distribution.items()
    ]
    return "評価年度別の判定の分布。" + "。".join(parts) + "。"


def status_alt_text(statuses: pd.Series) -> str:
    counts = statuses.value_counts()
    return "判定別の事業数：" + "、".join(f"{label} {int(counts.get(key, 0))}件" for key, label in STATUS_LABELS.items()) + "。"


def figure_img(fig: Figure, alt: str, css_class: str = "chart") -> str:
    """An ``<img>`` with the figure embedded as a PNG data URI (self-contained HTML, no files beside it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=144)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    width = math.ceil(fig.get_figwidth() * 96)
    return f'<img class="{escape(css_class)}" src="data:image/png;base64,{data}" alt="{escape(alt)}" width="{width}">'
