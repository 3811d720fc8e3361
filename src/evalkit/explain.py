"""One plain-Japanese sentence per indicator saying how its status was judged; pure."""

from __future__ import annotations

import pandas as pd

from . import fmt
from .cycle import Thresholds

__all__ = ["explain"]


def explain(row: pd.Series, thresholds: Thresholds | None = None) -> str:
    """Why this indicator got its status, in the words an evaluator reads (no formulas)."""
    th = thresholds or Thresholds()
    unit = row["unit"]
    status = row["status_label"]
    current = f"{fmt.number(row['current'], unit)}（{fmt.year_short(row['current_year'])}）"
    final = f"{fmt.number(row['target'], unit)}（{fmt.year_short(row['target_year'])}）"
    if row["status"] == "target_achieved":
        return f"直近の実績{current}が最終目標{final}に届いているため「{status}」と判定しました。"
    if fmt.is_missing(row["current"]):
        return f"評価対象年度までの実績がないため「{status}」としました。"
    if fmt.is_missing(row["base"]) or row["current_year"] == row["base_year"]:
        return f"実績が1年度分（{current}）しかなく伸びを測れないため「{status}」としました。"
    base = f"{fmt.number(row['base'], unit)}（{fmt.year_short(row['base_year'])}）"
    if fmt.is_missing(row["cagr_observed"]):
        return f"基準値{base}と直近の実績{current}の符号が異なり伸び率を計算できないため「{status}」としました。"
    observed = fmt.growth(row["cagr_observed"])
    if fmt.is_missing(row["target"]):
        return (
            f"目標値の設定がないため、基準値{base}から直近{current}への年平均の変化{observed}で判定し"
            f"（望ましい方向に年{th.method1_substantial:.1%}以上で順調、{th.method1_moderate:.1%}以上で概ね順調）、「{status}」としました。"
        )
    if fmt.is_missing(row["pace"]):
        return f"基準値と最終目標{final}が同じで必要な伸びを計算できないため「{status}」としました。"
    return (
        f"基準値{base}から直近{current}まで年平均{observed}で推移しており、最終目標{final}の達成に必要な"
        f"年平均{fmt.growth(row['cagr_required'])}に対して{row['pace']:.2f}倍のペースのため「{status}」と判定しました"
        f"（{th.substantial:g}倍以上で順調、{th.moderate:g}倍以上で概ね順調、0倍以上で遅れ、マイナスは悪化）。"
    )
