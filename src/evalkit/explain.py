"""One plain-Japanese sentence per indicator saying how its status was judged; pure.

It reads the thresholds the assessment actually applied (method 1's are
scaled near a natural limit), so the sentence can never contradict the badge.
"""

from __future__ import annotations

import math

from . import fmt
from .assessment import IndicatorAssessment

__all__ = ["explain"]


def _fixed(value: float, sign: bool = False) -> str:
    """Three significant digits in plain decimal notation, never scientific: 1233.3, 1.5, 0.306, 0.0000666."""
    if value == 0:
        return "+0" if sign else "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = 1 if magnitude >= 1 else 2 - magnitude
    text = f"{value:{'+' if sign else ''}.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _rate(value: float) -> str:
    """A yearly rate threshold as a percentage: 1.5%, 0.306%."""
    return f"{_fixed(value * 100)}%"


def _signed_rate(value: float) -> str:
    """An observed yearly change with its sign, as precise as the thresholds it is compared with: +0.42%, +1233.3%."""
    return f"{_fixed(value * 100, sign=True)}%"


def _method1_rule(m: IndicatorAssessment) -> str:
    way = "増加" if m.direction == "up" else "減少"
    rule = (
        f"望ましい方向（{way}）に年{_rate(m.substantial_threshold)}以上で順調、"
        f"{_rate(m.moderate_threshold)}以上で概ね順調、0%以上で遅れ、マイナスは悪化"
    )
    if m.limit is not None and m.coefficient != 1:
        rule += (
            f"。基準値が上限{fmt.number(m.limit, m.unit)}に近く伸びる余地が小さいため、"
            f"通常の基準（{_rate(m.substantial_threshold / m.coefficient)}・{_rate(m.moderate_threshold / m.coefficient)}）"
            f"に係数{_fixed(m.coefficient)}を掛けています"
        )
    return rule


def explain(m: IndicatorAssessment) -> str:
    """Why this indicator got its status, in the words an evaluator reads (no formulas)."""
    unit, status = m.unit, m.status_label
    current = f"{fmt.number(m.current, unit)}（{fmt.year_short(m.current_year)}）"
    final = f"{fmt.number(m.target, unit)}（{fmt.year_short(m.target_year)}）"
    if m.status == "target_achieved":
        return f"直近の実績{current}が最終目標{final}に届いているため「{status}」と判定しました。"
    if fmt.is_missing(m.current):
        return f"評価対象年度までの実績がないため「{status}」としました。"
    if fmt.is_missing(m.base) or m.current_year == m.base_year:
        return f"実績が1年度分（{current}）しかなく伸びを測れないため「{status}」としました。"
    base = f"{fmt.number(m.base, unit)}（{fmt.year_short(m.base_year)}）"
    if fmt.is_missing(m.cagr_observed):
        return f"基準値{base}と直近の実績{current}から伸び率を計算できない（符号が異なる、または値が大きすぎる）ため「{status}」としました。"
    if m.method == 1:
        observed = _signed_rate(m.cagr_observed)
        if m.limit is not None and m.coefficient == 0:
            return (
                f"目標値の設定がなく、基準値{base}が上限{fmt.number(m.limit, unit)}に達しているため、"
                f"直近{current}への年平均の変化{observed}が0%以上であれば順調としており、「{status}」としました。"
            )
        return (
            f"目標値の設定がないため、基準値{base}から直近{current}への年平均の変化{observed}で判定し"
            f"（{_method1_rule(m)}）、「{status}」としました。"
        )
    observed = fmt.growth(m.cagr_observed)
    if fmt.is_missing(m.pace):
        return f"基準値と最終目標{final}から必要な伸びを計算できないため「{status}」としました。"
    return (
        f"基準値{base}から直近{current}まで年平均{observed}で推移しており、最終目標{final}の達成に必要な"
        f"年平均{fmt.growth(m.cagr_required)}に対して{m.pace:.2f}倍のペースのため「{status}」と判定しました"
        f"（{m.substantial_threshold:g}倍以上で順調、{m.moderate_threshold:g}倍以上で概ね順調、0倍以上で遅れ、マイナスは悪化）。"
    )
