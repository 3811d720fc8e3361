"""Triage for the committee: which programs of a cycle most need attention, and why; pure.

Built from what each card recorded (its scraps, cached by the batch).  Each
reason has a weight; programs are listed by the sum, then by name.  The
weights are a judgement, stated here and on the page, not a rule of the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .fmt import as_number

__all__ = ["REASONS", "TriageRow", "triage"]

#: reason code -> (weight, what the page says)
REASONS: dict[str, tuple[int, str]] = {
    "worsened": (3, "前回より低下"),
    "deterioration": (3, "判定が悪化"),
    "limited_progress": (2, "判定が遅れ"),
    "open_findings": (2, "これまでの指摘が未完了"),
    "override_differs": (2, "自己評価が計算と異なる"),
    "cost_up_status_down": (2, "判定が下がったのにコストが増加"),
    "diagnostics": (1, "点検の指摘"),
}


@dataclass(frozen=True)
class TriageRow:
    program_id: str
    name: str
    organization: str | None
    section: str | None
    status: str
    change: str
    points: int
    reasons: list[tuple[str, str]] = field(default_factory=list)  # (code, words with the detail)
    policy: str | None = None


def triage(records: list[dict[str, Any]]) -> list[TriageRow]:
    """Every rendered program of the cycle with its reasons for attention, most points first (none: zero points)."""
    rows = []
    for r in records:
        reasons: list[tuple[str, str]] = []
        if r.get("change") == "worsened":
            reasons.append(("worsened", REASONS["worsened"][1]))
        if r.get("status") in ("deterioration", "limited_progress"):
            reasons.append((r["status"], REASONS[r["status"]][1]))
        earlier = int(r.get("earlier_open_findings") or 0)
        if earlier:
            reasons.append(("open_findings", f"{REASONS['open_findings'][1]}（{earlier}件）"))
        differ = int(r.get("overrides_differ") or 0)
        if differ:
            reasons.append(("override_differs", f"{REASONS['override_differs'][1]}（{differ}件）"))
        before, now = as_number(r.get("previous_total_cost")), as_number(r.get("total_cost"))
        if r.get("change") == "worsened" and now > before:  # NaN compares false: no cost, no reason
            reasons.append(("cost_up_status_down", f"{REASONS['cost_up_status_down'][1]}（{before:,.0f} → {now:,.0f}）"))
        diagnostics = r.get("diagnostics") or []
        if diagnostics:
            labels = "、".join(dict.fromkeys(d["label"] for d in diagnostics))
            reasons.append(("diagnostics", f"{REASONS['diagnostics'][1]}（{len(diagnostics)}件：{labels}）"))
        points = sum(REASONS[code][0] for code, _ in reasons)
        rows.append(TriageRow(program_id=r["id"], name=r.get("name") or r["id"], organization=r.get("organization"),
                              section=r.get("section"), status=r.get("status", "not_available"), change=r.get("change", ""),
                              points=points, reasons=reasons, policy=r.get("policy")))
    return sorted(rows, key=lambda row: (-row.points, row.name))
