"""The logic model as a graph, drawn as inline SVG: levels as columns (活動 → 最終アウトカム), links as arrows.

No JavaScript and no colour-only meaning: every node says its level, each of
its indicators shows its status as a symbol and a word, a node from which no
path reaches a long or final outcome is dashed and says so.  Text from the
data file is escaped.
"""

from __future__ import annotations

from html import escape

from .assessment import IndicatorAssessment
from .diagnostics import unreached_nodes
from .model import LOGIC_LEVEL_LABELS, LOGIC_LEVELS, Program

__all__ = ["logic_svg", "logic_description"]

COLUMN, GAP, PAD, LINE, CHARS = 150, 30, 8, 16, 10
SYMBOLS = {"target_achieved": "◎", "substantial_progress": "○", "moderate_progress": "△", "limited_progress": "▽",
           "deterioration": "×", "not_available": "－"}


def _wrap(text: str, width: int = CHARS) -> list[str]:
    lines = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(paragraph[i:i + width] for i in range(0, max(len(paragraph), 1), width))
    return lines


def _badge_lines(m: IndicatorAssessment) -> list[str]:
    """The status as a symbol and its words, on two lines when the words would not fit the box."""
    label = f"{SYMBOLS[m.status]} {m.status_label}"
    if len(label) <= CHARS + 1 or "（" not in m.status_label:
        return [label]
    head, _, tail = m.status_label.partition("（")
    return [f"{SYMBOLS[m.status]} {head}", f"（{tail}"]


def logic_svg(program: Program, measures: dict[str, IndicatorAssessment]) -> str:
    """The SVG markup of the program's ``logic`` graph (empty when it has none).

    A link to the next column is a straight arrow across the gap; a link that
    skips columns runs up into a channel above the boxes and down again in the
    gap before its target, so it never passes behind a box it does not join.
    """
    if program.logic is None or not program.logic.nodes:
        return ""
    unreached = set(unreached_nodes(program))
    levels = [level for level in LOGIC_LEVELS if any(n.level == level for n in program.logic.nodes)]
    column_of = {n.id: levels.index(n.level) for n in program.logic.nodes}
    links = [(a, b) for a, b in program.logic.links if a in column_of and b in column_of]
    skipping = [link for link in links if column_of[link[1]] - column_of[link[0]] > 1]
    top = 26.0 + 7 * len(skipping)  # room for one channel per skipping link
    boxes: dict[str, tuple[float, float, float, float]] = {}
    parts: list[str] = []
    heights = []
    for column, level in enumerate(levels):
        x, y = column * (COLUMN + GAP), top
        parts.append(f'<text x="{x + COLUMN / 2}" y="13" text-anchor="middle" class="lg-level">{escape(LOGIC_LEVEL_LABELS[level])}</text>')
        for node in (n for n in program.logic.nodes if n.level == level):
            lines = _wrap(node.text)
            badges = [(_wrap(f"▸{measures[i].name}", CHARS + 1), _badge_lines(measures[i])) for i in node.indicators if i in measures]
            extra = 1 if node.id in unreached or (level in ("short", "mid", "long") and not node.indicators) else 0
            height = PAD * 2 + LINE * (len(lines) + sum(len(n) + len(b) for n, b in badges) + extra)
            dashed = ' stroke-dasharray="6 4"' if node.id in unreached else ""
            parts.append(f'<g class="lg-node" id="lg-{escape(node.id)}"><rect x="{x}" y="{y}" width="{COLUMN}" height="{height}" rx="6" '
                         f'class="lg-box lg-{level}"{dashed}/>')
            ty = y + PAD + LINE - 4
            for line in lines:
                parts.append(f'<text x="{x + PAD}" y="{ty}" class="lg-text">{escape(line)}</text>')
                ty += LINE
            for (name_lines, badge_lines), m in zip(badges, (measures[i] for i in node.indicators if i in measures), strict=True):
                for line in name_lines:
                    parts.append(f'<text x="{x + PAD}" y="{ty}" class="lg-indicator">{escape(line)}</text>')
                    ty += LINE
                for line in badge_lines:
                    parts.append(f'<text x="{x + PAD + 6}" y="{ty}" class="lg-badge lg-status-{m.status}">{escape(line)}</text>')
                    ty += LINE
            if node.id in unreached:
                parts.append(f'<text x="{x + PAD}" y="{ty}" class="lg-warning">※成果につながる矢印がない</text>')
            elif level in ("short", "mid", "long") and not node.indicators:
                parts.append(f'<text x="{x + PAD}" y="{ty}" class="lg-warning">※はかる指標がない</text>')
            parts.append("</g>")
            boxes[node.id] = (x, y, COLUMN, height)
            y += height + 14
        heights.append(y)
    arrows = []
    for source, target in links:
        sx, sy, sw, sh = boxes[source]
        tx, ty, _, th = boxes[target]
        y1, y2 = sy + sh / 2, ty + th / 2
        if (source, target) in skipping:
            k = skipping.index((source, target))
            share = (k + 1) / (len(skipping) + 1)  # each skipping link its own channel and its own verticals
            channel = 20 + 7 * k
            out_x, in_x = sx + sw + GAP * share, tx - GAP * share
            path = f"M{sx + sw},{y1} H{out_x} V{channel} H{in_x} V{y2} H{tx - 3}"
        else:
            path = f"M{sx + sw},{y1} L{tx - 3},{y2}"
        arrows.append(f'<path d="{path}" class="lg-link" fill="none" marker-end="url(#lg-arrow)"/>')
    width = len(levels) * (COLUMN + GAP) - GAP
    height = max(heights) + 4
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="logic-graph" viewBox="-2 0 {width + 4} {height}" width="{width + 4}" '
        f'role="img" aria-label="{escape(logic_description(program, measures))}">'
        '<defs><marker id="lg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="lg-arrowhead"/></marker></defs>'
        + "".join(arrows) + "".join(parts) + "</svg>"
    )


def logic_description(program: Program, measures: dict[str, IndicatorAssessment]) -> str:
    """The graph in words, for screen readers and text extraction."""
    if program.logic is None:
        return ""
    texts = {n.id: n.text for n in program.logic.nodes}
    parts = ["ロジックモデル。"]
    for node in program.logic.nodes:
        indicators = "、".join(f"{measures[i].name}（{measures[i].status_label}）" for i in node.indicators if i in measures)
        parts.append(f"{LOGIC_LEVEL_LABELS[node.level]}「{node.text}」" + (f"：指標 {indicators}" if indicators else "") + "。")
    for source, target in program.logic.links:
        if source in texts and target in texts:
            parts.append(f"「{texts[source]}」→「{texts[target]}」。")
    return "".join(parts)
