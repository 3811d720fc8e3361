"""The open data of a cycle, as rows: one table per file of the package (docs/open-data.md).

Pure: a card's rows are computed from its :class:`~evalkit.card.ReportCard`
(recorded in the notebook as a scrap, so the batch never recomputes), and the
plan's rows from the roll-up.  Writing them as CSV and describing them as a
Frictionless Data Package is :mod:`evalkit.datapackage`'s job.

Every value is JSON-safe: ``None`` is an undefined value (an empty cell),
rates are fractions, years are western fiscal years.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .assessment import STATUS_LABELS, actuals
from .card import ReportCard
from .iorw import json_safe
from .plan import UNASSIGNED
from .rollup import Rollup
from .years import era_label

__all__ = ["Field", "TABLES", "KEYS", "PROGRAM_TABLES", "card_tables", "failed_program_row", "plan_rows"]


@dataclass(frozen=True)
class Field:
    """One column: its Table Schema type, and the Japanese title and description of the data dictionary."""

    name: str
    type: str
    title: str
    description: str


def _fields(*rows: tuple[str, str, str, str]) -> tuple[Field, ...]:
    return tuple(Field(*row) for row in rows)


_PROGRAM_ID = ("program_id", "string", "事業ID", "事業を識別する記号（事業ファイルの名前）")
_INDICATOR_ID = ("indicator_id", "string", "指標ID", "事業の中で指標を識別する記号")
_STATUS = "状態の名前：target_achieved（目標達成）, substantial_progress（順調）, moderate_progress（概ね順調（加速が必要））, " \
          "limited_progress（遅れ）, deterioration（悪化）, not_available（判定不能）"

#: file stem -> its columns, in order (docs/open-data.md)
TABLES: dict[str, tuple[Field, ...]] = {
    "programs": _fields(
        _PROGRAM_ID,
        ("name", "string", "事業名", "事業の名称"),
        ("municipality", "string", "自治体", "事業を行う自治体"),
        ("organization", "string", "部", "担当する部（組織）"),
        ("section", "string", "課", "担当する課"),
        ("policy_id", "string", "施策ID", "事業が属する計画の施策のID（plan.csv）。計画に位置づけられていない事業は空"),
        ("rendered", "boolean", "通知表作成", "この評価年度の通知表が作成できたか（false の事業は他の列が空）"),
        ("status", "string", "事業の状態", "成果指標の得点の平均から決まる事業の状態。" + _STATUS),
        ("status_label", "string", "事業の状態（表示）", "事業の状態の日本語表示"),
        ("score", "number", "得点", "得点のある成果指標の得点の平均（-5〜5）。得点のある成果指標がなければ空"),
        ("previous_status", "string", "前回の状態", "前回の評価年度での事業の状態。前回がなければ空"),
        ("change", "string", "前回からの変化", "improved（改善）, worsened（悪化）, unchanged（変化なし）, new（初回）。"
                                              "前回と今回の一方だけ得点が未定義で比べられないときは空"),
        ("outcome_indicators", "integer", "成果指標の数", "成果指標（kind = outcome）の数"),
        ("scored_indicators", "integer", "得点のある成果指標の数", "得点が計算できた成果指標の数"),
        ("total_cost", "number", "トータルコスト", "事業費＋人件費（cost_unit の単位）。どちらかが欠ければ空"),
        ("cost_unit", "string", "コストの単位", "total_cost の単位（例：千円）"),
        ("cost_year", "integer", "コストの年度", "コストが示す年度（西暦）"),
        ("conclusion", "string", "外部評価の結論", "外部評価委員会の結論（例：拡充、継続、見直し）"),
        ("findings_raised", "integer", "今回の指摘数", "この評価年度の外部評価で出された指摘の数"),
        ("findings_open", "integer", "未対応の指摘数", "この評価年度の時点で未対応（open / in_progress）の指摘の数"
                                                      "（過去の年度に出されたものを含む）"),
        ("diagnostics", "integer", "点検の件数", "データの点検で見つかった項目の数（diagnostics.csv）"),
        ("card", "string", "通知表", "通知表（HTML）のこのファイルからの相対パス"),
    ),
    "indicators": _fields(
        _PROGRAM_ID, _INDICATOR_ID,
        ("name", "string", "指標名", "指標の名称"),
        ("unit", "string", "単位", "指標の単位"),
        ("direction", "string", "望ましい方向", "up（高いほどよい）または down（低いほどよい）"),
        ("kind", "string", "指標の種類", "outcome（成果）, output（活動の結果）, activity（活動）"),
        ("base_year", "integer", "基準年度", "基準値の年度（西暦）"),
        ("base", "number", "基準値", "基準年度の実績"),
        ("current_year", "integer", "直近年度", "評価に使う最新の実績の年度（西暦）"),
        ("current", "number", "直近の実績", "直近年度の実績"),
        ("target_year", "integer", "目標年度", "最終目標の年度（西暦）"),
        ("target", "number", "目標値", "最終目標の値（この評価年度の時点の目標）"),
        ("achievement", "number", "達成率", "直近の実績の達成率（割合：0.946 は 94.6%）"),
        ("progress", "number", "進捗率", "基準値から目標値までのうち進んだ割合"),
        ("elapsed", "number", "経過率", "基準年度から目標年度までのうち経過した割合"),
        ("cagr_observed", "number", "実績の年平均伸び率", "基準値から直近の実績までの年平均伸び率（割合）"),
        ("cagr_required", "number", "必要な年平均伸び率", "基準値から目標値に届くのに必要な年平均伸び率（割合）"),
        ("pace", "number", "ペース", "目標があるときは実績の年平均伸び率を必要な年平均伸び率で割った値、"
                                  "目標がないときは実績の年平均伸び率そのもの（どちらも望ましい方向を正とする）"),
        ("projected", "number", "目標年度の見込み", "実績の伸び率が続いた場合の目標年度の値"),
        ("status", "string", "状態", "指標の状態。" + _STATUS),
        ("status_label", "string", "状態（表示）", "指標の状態の日本語表示"),
        ("score", "number", "得点", "指標の得点（-5〜5）"),
        ("override_status", "string", "担当課の判断", "担当課が計算と異なる状態を示した場合のその状態"),
        ("override_reason", "string", "判断の理由", "担当課がその判断をした理由"),
        ("revised_in_cycle", "boolean", "今回の目標見直し", "この評価年度に目標が見直されたか"),
        ("break_year", "integer", "系列の断絶年度", "統計の取り方が変わった年度（西暦）。この年度より前の実績は評価に使わない"),
    ),
    "observations": _fields(
        _PROGRAM_ID, _INDICATOR_ID,
        ("year", "integer", "年度", "実績または目標の年度（西暦）"),
        ("year_label", "string", "年度（和暦）", "年度の和暦表示"),
        ("actual", "number", "実績", "その年度の実績（評価の基準年度までのもの）"),
        ("target", "number", "目標", "その年度の目標（この評価年度の時点の目標）"),
        ("achievement", "number", "達成率", "その年度の実績の達成率（割合）。その年度の目標、なければ次の目標に対して"),
        ("used", "boolean", "評価に使用", "その実績がこの評価年度の評価に使われるか（系列の断絶より前の実績は false）"),
    ),
    "findings": _fields(
        _PROGRAM_ID,
        ("finding_id", "string", "指摘ID", "事業の中で指摘を識別する記号"),
        ("raised_in", "integer", "指摘年度", "指摘が出された評価年度（西暦）"),
        ("about", "string", "対象", "指摘の対象（指標ID または項目名）"),
        ("text", "string", "指摘", "外部評価委員会の指摘の内容"),
        ("response", "string", "対応", "担当課の対応"),
        ("status", "string", "対応状況", "この評価年度の時点の状況：open, in_progress, done, declined など"),
        ("open", "boolean", "未対応", "この評価年度の時点で未対応（open / in_progress）か"),
    ),
    "diagnostics": _fields(
        _PROGRAM_ID,
        ("subject", "string", "対象", "点検の対象（指標ID、ロジックモデルの要素ID、項目名）。事業全体なら空"),
        ("code", "string", "点検コード", "点検の種類を表す記号"),
        ("message", "string", "内容", "点検の内容（日本語）"),
    ),
    "plan": _fields(
        ("policy_id", "string", "計画項目ID", "計画（基本目標・施策など）の項目のID"),
        ("name", "string", "名称", "計画の項目の名称"),
        ("level", "string", "階層", "項目の階層の名前（例：基本目標、施策）"),
        ("parent_id", "string", "上位項目ID", "一つ上の階層の項目のID。最上位なら空"),
        ("programs", "integer", "事業数", "この項目に属する事業の数（下位の項目を含む）"),
        ("scored", "integer", "得点のある事業数", "得点が計算できた事業の数"),
        ("score", "number", "得点", "得点のある事業の得点の平均"),
        ("status", "string", "状態", "得点から決まる状態。" + _STATUS),
        ("status_label", "string", "状態（表示）", "状態の日本語表示"),
        ("total_cost", "number", "トータルコスト", "属する事業のトータルコストの合計。単位が混在する場合は空"),
        ("cost_unit", "string", "コストの単位", "total_cost の単位"),
        ("costed_programs", "integer", "コストを合計した事業数", "total_cost に合計した事業の数"),
    ),
}

#: file stem -> its primary key (no key: diagnostics)
KEYS: dict[str, tuple[str, ...]] = {
    "programs": ("program_id",),
    "indicators": ("program_id", "indicator_id"),
    "observations": ("program_id", "indicator_id", "year"),
    "findings": ("program_id", "finding_id"),
    "diagnostics": (),
    "plan": ("policy_id",),
}

#: the tables a card contributes rows to (plan rows come from the roll-up of the cycle)
PROGRAM_TABLES = ("programs", "indicators", "observations", "findings", "diagnostics")


def _row(table: str, **values: Any) -> dict[str, Any]:
    """A row with exactly the table's columns, in order; undefined numbers become ``None``."""
    return json_safe({field.name: values.get(field.name) for field in TABLES[table]})


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _program_row(card: ReportCard) -> dict[str, Any]:
    program, evaluation = card.program, card.sheet.external_evaluation
    outcome = [m for m in card.measures.values() if m.kind == "outcome"]
    return _row(
        "programs", program_id=program.id, name=program.name, municipality=program.municipality,
        organization=program.organization, section=program.section, policy_id=program.policy, rendered=True,
        status=card.status, status_label=STATUS_LABELS[card.status], score=_number(card.score),
        previous_status=card.previous.status if card.previous else None, change=card.change or None,
        outcome_indicators=len(outcome), scored_indicators=sum(1 for m in outcome if math.isfinite(m.score)),
        total_cost=_number(card.costs.total_cost) if card.costs else None, cost_unit=card.costs.unit if card.costs else None,
        cost_year=card.costs.year if card.costs else None, conclusion=evaluation.conclusion if evaluation else None,
        findings_raised=len(card.findings_raised), findings_open=sum(1 for f in card.findings if f.open),
        diagnostics=len(card.diagnostics), card=f"../{program.id}.html",
    )


def _indicator_rows(card: ReportCard) -> list[dict[str, Any]]:
    overrides = {o.indicator: o for o in card.sheet.overrides}
    cutoff = card.cutoff
    rows = []
    for indicator in card.program.indicators:
        measure, override = card.measures[indicator.id], overrides.get(indicator.id)
        breaks = [b.year for b in indicator.breaks if b.year <= cutoff]
        rows.append(_row(
            "indicators", program_id=card.program.id, **measure.columns(),
            override_status=override.status if override else None, override_reason=override.reason if override else None,
            revised_in_cycle=any(r.in_ == card.fiscal_year for r in indicator.revisions),
            break_year=max(breaks) if breaks else None,
        ))
    return rows


def _observation_rows(card: ReportCard) -> list[dict[str, Any]]:
    """Every year with an actual ≤ C or a target as of E (the card's year table); later actuals are left out."""
    rows = []
    for indicator in card.program.indicators:  # already with its targets as of E
        used = actuals(indicator, card.cutoff)
        for v in card.year_values(indicator):
            rows.append(_row(
                "observations", program_id=card.program.id, indicator_id=indicator.id, year=v.year,
                year_label=era_label(v.year, long=True), actual=v.actual, target=v.target,
                achievement=_number(v.achievement), used=v.year in used,
            ))
    return rows


def _finding_rows(card: ReportCard) -> list[dict[str, Any]]:
    return [
        _row("findings", program_id=card.program.id, finding_id=state.finding.id, raised_in=state.raised_in,
             about=state.finding.about, text=state.finding.text, response=state.finding.response,
             status=state.status, open=state.open)
        for state in card.findings
    ]


def _diagnostic_rows(card: ReportCard) -> list[dict[str, Any]]:
    return [
        _row("diagnostics", program_id=card.program.id, subject=None if d.subject == card.program.id else d.subject,
             code=d.code, message=d.message)
        for d in card.diagnostics
    ]


def card_tables(card: ReportCard) -> dict[str, list[dict[str, Any]]]:
    """The rows a rendered card contributes to each file of its cycle's package."""
    return {
        "programs": [_program_row(card)],
        "indicators": _indicator_rows(card),
        "observations": _observation_rows(card),
        "findings": _finding_rows(card),
        "diagnostics": _diagnostic_rows(card),
    }


def failed_program_row(program_id: str) -> dict[str, Any]:
    """A program whose card failed: listed, ``rendered`` false, nothing else claimed about it."""
    return _row("programs", program_id=program_id, rendered=False)


def plan_rows(rollups: list[Rollup]) -> list[dict[str, Any]]:
    """One row per plan item (programs without a plan item have an empty policy_id in programs.csv instead)."""
    return [
        _row("plan", policy_id=r.item_id, name=r.name, level=r.level, parent_id=r.ancestors[-1] if r.ancestors else None,
             programs=r.count, scored=r.scored, score=_number(r.score), status=r.status, status_label=STATUS_LABELS[r.status],
             total_cost=_number(r.total_cost), cost_unit=r.cost_unit, costed_programs=r.cost_programs)
        for r in rollups if r.item_id != UNASSIGNED
    ]
