"""A cycle's booklet: one HTML document for Chromium to print, assembled from the cards as nbconvert wrote them.

Why one document: page numbers (``counter(page)``) run through the whole
booklet, and the print CSS that lays out a card on its own lays it out there too.

Contract of :func:`booklet_html`:

- ``cards``: ``(program id, the card's whole HTML page)``, in booklet order; ``entries``: the cycle's per-card records
  (``id``, ``name``, ``organization``, ``section``, ``status``, ``score``, ``change``, ``open_findings``,
  ``conclusion``, ``ok`` ...), in the order of the 一覧 table; ``pages``: the page each card starts on, or ``None``.
- The document has four kinds of part, in this order: the cover, the table of contents (目次), the index table (事業一覧)
  and every card, each part starting a page and holding exactly one ``<h1>``, so that the PDF outline Chromium builds
  from the ``<h1>`` headings has one entry per part and its last ``len(cards)`` entries are the cards' first pages (a
  card's title is its ``<h1>``; any later one is printed as an ``<h2>``, and a card without one gets its name as one).
- Without ``pages``, the table of contents shows :data:`TOC_PLACEHOLDER` in place of every number. It is as wide as
  any real page number (each is right-aligned in a fixed-width box), so the first printing, which finds where the cards
  start, and the second, which writes those numbers, lay out the same pages.
- The cards' ``<style>`` blocks (their stylesheets) are taken once; each card's body is kept whole, its own
  ``<style>`` (the named page ``card-<id>`` and its footer) included, inside a container on that named page. The cover
  has no footer; the other pages are numbered ``n / total`` across the booklet.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from . import fmt
from .assessment import STATUS_LABELS
from .history import CHANGE_ARROWS, CHANGE_LABELS
from .years import era_and_western, era_label

__all__ = ["booklet_html", "TOC_PLACEHOLDER"]

#: what the table of contents shows for a page number before the booklet has been printed once
TOC_PLACEHOLDER = "000"

_STYLE = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.S | re.I)
_BODY = re.compile(r"<body\b[^>]*>(.*)</body\s*>", re.S | re.I)
_H1_END = re.compile(r"</h1\s*>", re.I)
_H1_TAG = re.compile(r"<(/?)h1\b", re.I)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # the whole template folder, so that the booklet uses the card's own macros (named pages, CSS strings)
    env = Environment(loader=PackageLoader("evalkit", "templates"), autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(number=fmt.number)
    return env


def _split(program_id: str, page: str) -> tuple[list[str], str]:
    """A card page's head ``<style>`` blocks and its body's content (nbconvert's page: one ``<body>``, styles in the head)."""
    body = _BODY.search(page)
    if body is None:
        raise ValueError(f"{program_id}: not a card page (no <body>)")
    return _STYLE.findall(page[: body.start()]), body.group(1)


def _one_heading(body: str, name: str) -> str:
    """The card with exactly one ``<h1>``, as the outline needs: a heading of its own notebook's after the title is
    printed as an ``<h2>``; a card without a title gets its program's name as its heading."""
    first = _H1_END.search(body)
    if first is None:
        return f'<h1 class="booklet-name">{escape(name)}</h1>\n{body}'
    return body[: first.end()] + _H1_TAG.sub(r"<\1h2", body[first.end():])


def _row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One line of the 一覧 table: what a failed or not yet rendered card has is said in words."""
    ok = bool(entry.get("ok"))
    status = entry.get("status") or "not_available"
    change = entry.get("change") or ""
    return {
        "id": entry["id"],
        "name": entry.get("name") or entry["id"],
        "organization": " ".join(part for part in (entry.get("organization"), entry.get("section")) if part),
        "ok": ok,
        "status": status if ok else "failed",
        "status_label": STATUS_LABELS.get(status, status) if ok else ("未作成" if entry.get("pending") else "作成できませんでした"),
        "score": entry.get("score") if ok else None,
        "change": change,
        "change_text": f"{CHANGE_ARROWS.get(change, '')} {CHANGE_LABELS.get(change, change)}" if ok else "",
        "open_findings": (entry.get("open_findings") or 0) if ok else None,
        "conclusion": entry.get("conclusion") if ok else None,
    }


def booklet_html(
    *,
    fiscal_year: int,
    title: str | None,
    municipality: str | None,
    entries: list[dict[str, Any]],
    cards: list[tuple[str, str]],
    pages: dict[str, int] | None,
) -> str:
    """The booklet of one cycle as a single self-contained HTML document (see the module's docstring for the contract)."""
    rows = [_row(entry) for entry in entries]
    known = {row["id"]: row for row in rows}
    styles: list[str] = []
    parts = []
    for program_id, page in cards:
        card_styles, body = _split(program_id, page)
        styles.extend(style for style in card_styles if style not in styles)
        row = known.get(program_id, {"name": program_id, "organization": ""})
        parts.append({
            "id": program_id, "name": row["name"], "organization": row["organization"],
            "page": str(pages[program_id]) if pages is not None else TOC_PLACEHOLDER,
            "body": Markup(_one_heading(body, row["name"])),  # noqa: S704 - the card as nbconvert wrote it, its data escaped
        })
    today = datetime.date.today()
    return _environment().get_template("booklet/booklet.html.j2").render(
        title=title or f"{era_label(fiscal_year, long=True)} 行政評価 通知表",
        heading=era_and_western(fiscal_year),
        municipality=municipality,
        generated=f"{today.year}年{today.month}月{today.day}日",
        styles=[Markup(style) for style in styles],  # noqa: S704 - evalkit's own stylesheets, from the cards' heads
        rows=rows,
        cards=parts,
    )
