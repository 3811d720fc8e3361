"""Diagnostics (点検): checks of a card's indicators, text and logic model that a committee would raise; pure.

The codes of docs/method.md follow its rules exactly; evalkit adds a few of
its own, marked ``heuristic`` when they guess from wording.  Each message
says, in plain Japanese, what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .assessment import actuals, assess_indicators, cutoff_year, targets_as_of
from .cycle import Thresholds
from .model import LOGIC_LEVEL_LABELS, Program

__all__ = ["Diagnostic", "DIAGNOSTIC_LABELS", "HEURISTIC_CODES", "TEXT_SECTIONS", "diagnose", "unreached_nodes"]

#: code -> what the check is called on a card and in the index
DIAGNOSTIC_LABELS: dict[str, str] = {
    "no_target": "目標値がない",
    "target_already_met": "目標を既に達成",
    "stale_actuals": "実績が古い",
    "single_actual": "実績が1年度のみ",
    "no_outcome_indicator": "成果指標がない",
    "unchanged_text": "前年と同じ記述",
    "logic_unreached": "成果につながらない活動",
    "logic_no_indicator": "指標のない成果",
    "override_differs": "自己評価が計算と異なる",
    "outcome_counts_activities": "成果指標が活動量",
    "no_source": "指標の根拠データが不明",
}
#: evalkit's own checks that guess from wording (the others follow a rule)
HEURISTIC_CODES = frozenset({"outcome_counts_activities"})
#: the sheet sections whose text is compared with the previous sheet's
TEXT_SECTIONS = {"episodes": "事業開始からの主要なエピソード", "activities_last_year": "前年度の活動エピソード",
                 "status_comment": "目標達成状況", "improvement_points": "改善ポイント", "plan": "中長期の計画"}
#: words by which an indicator named as an outcome counts activities instead (回数, 開催数, 設置数 …)
ACTIVITY_WORDS = ("回数", "開催数", "設置数", "実施数", "配布数", "発行数", "開催回数", "実施回数")
_WHITESPACE = re.compile(r"\s+")  # every Unicode space, U+3000 included


@dataclass(frozen=True)
class Diagnostic:
    code: str
    subject: str  # an indicator id, a sheet section key, a logic node id, or the program id
    message: str  # what to fix, in plain Japanese

    @property
    def label(self) -> str:
        return DIAGNOSTIC_LABELS[self.code]

    @property
    def heuristic(self) -> bool:
        return self.code in HEURISTIC_CODES


def _text(value: object) -> str:
    """A section's text as compared: a list's items joined, every Unicode whitespace removed."""
    joined = "\n".join(value) if isinstance(value, list) else (value or "")
    return _WHITESPACE.sub("", str(joined))


def unreached_nodes(program: Program) -> list[str]:
    """Activity and output nodes from which no path of links reaches a node of level long or final."""
    if program.logic is None:
        return []
    levels = {node.id: node.level for node in program.logic.nodes}
    onward: dict[str, list[str]] = {}
    for source, target in program.logic.links:
        onward.setdefault(source, []).append(target)

    def reaches(start: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            node = stack.pop()
            if levels.get(node) in ("long", "final"):
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(onward.get(node, []))
        return False

    return [node.id for node in program.logic.nodes if node.level in ("activity", "output") and not reaches(node.id)]


def diagnose(program: Program, fiscal_year: int, results_lag: int = 1, thresholds: Thresholds | None = None) -> list[Diagnostic]:
    """Every diagnostic of the program's card in evaluation year ``fiscal_year`` (targets as of that year)."""
    cutoff = cutoff_year(fiscal_year, results_lag)
    found: list[Diagnostic] = []
    measures = assess_indicators(program, fiscal_year, results_lag, thresholds)
    if not any(i.kind == "outcome" for i in program.indicators):
        found.append(Diagnostic("no_outcome_indicator", program.id,
                                "成果指標（対象者の変化をはかる指標）がありません。事業の目的に沿った成果指標を設定してください。"))
    for indicator in program.indicators:
        name = f"「{indicator.name}」"
        targets = targets_as_of(indicator, fiscal_year)
        used = actuals(indicator, cutoff)
        if indicator.kind == "outcome" and not targets:
            found.append(Diagnostic("no_target", indicator.id, f"成果指標{name}に目標値がありません。目標年度と目標値を設定してください。"))
        if targets:
            tau = max(targets)
            m = measures[indicator.id]
            met = m.current_year is not None and (m.current >= targets[tau] if indicator.direction == "up" else m.current <= targets[tau])
            if tau > cutoff and met:
                found.append(Diagnostic("target_already_met", indicator.id,
                                        f"{name}は最終目標（{targets[tau]:g}{indicator.unit}）を既に達成しています。目標を見直してください。"))
        if used and not any(year in used for year in (cutoff - 1, cutoff)):
            found.append(Diagnostic("stale_actuals", indicator.id,
                                    f"{name}の実績が直近2年度（{cutoff - 1}・{cutoff}年度）にありません。最新の実績を記入してください。"))
        if len(used) == 1:
            found.append(Diagnostic("single_actual", indicator.id,
                                    f"{name}の実績が1年度分しかなく、伸びを判定できません。過去の実績があれば記入してください。"))
        if indicator.kind == "outcome" and any(word in indicator.name for word in ACTIVITY_WORDS):
            found.append(Diagnostic("outcome_counts_activities", indicator.id,
                                    f"成果指標{name}は活動の量を数えているようです。対象者の変化をはかる指標か確かめてください。"))
        if indicator.kind == "outcome" and not indicator.source:
            found.append(Diagnostic("no_source", indicator.id, f"成果指標{name}の根拠とした統計・データ（source）が書かれていません。"))
    sheet = program.sheet(fiscal_year)
    earlier = [year for year in program.sheets if year < fiscal_year]
    if sheet is not None and earlier:
        previous = program.sheets[max(earlier)]
        for key, label in TEXT_SECTIONS.items():
            now = _text(getattr(sheet, key))
            if now and now == _text(getattr(previous, key)):
                found.append(Diagnostic("unchanged_text", key, f"「{label}」が前年のシートと同じです。今年度の状況を書いてください。"))
    if program.logic is not None:
        nodes = {node.id: node for node in program.logic.nodes}
        for node_id in unreached_nodes(program):
            node = nodes[node_id]
            found.append(Diagnostic("logic_unreached", node_id, f"{LOGIC_LEVEL_LABELS[node.level]}「{node.text}」から長期・最終アウトカムに"
                                    "つながる矢印がありません。つながりを見直してください。"))
        for node in program.logic.nodes:
            if node.level in ("short", "mid", "long") and not node.indicators:
                found.append(Diagnostic("logic_no_indicator", node.id,
                                        f"{LOGIC_LEVEL_LABELS[node.level]}「{node.text}」をはかる指標がありません。指標を設定してください。"))
    if sheet is not None:
        for override in sheet.overrides:
            m = measures.get(override.indicator)
            if m is not None and m.status != override.status:
                found.append(Diagnostic("override_differs", override.indicator,
                                        f"「{m.name}」の担当課の判断が、指標から計算した判定（{m.status_label}）と異なります。理由を確かめてください。"))
    return found
