"""Japanese fiscal years: parsing every notation the data contract allows, and formatting.

Fiscal year N runs April N to March N+1.  Program sheets mix western years
(``2023``, ``FY2023``, ``2023年度``) with era years (``R5``, ``令和元年度``,
``H31`` = ``R1``, "future" Heisei years such as ``H32`` from plans written
before 2019), so everything is normalised to the western year as an ``int``.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import shown

__all__ = ["fiscal_year", "era_label", "era_and_western", "ERAS"]

#: era -> (latin letter, kanji name, western year of 元年, last valid era year or None)
ERAS: dict[str, tuple[str, str, int, int | None]] = {
    "reiwa": ("R", "令和", 2019, None),
    # Heisei plans written before 2019 name later years (H32 = 2020), so no upper bound.
    "heisei": ("H", "平成", 1989, None),
    "showa": ("S", "昭和", 1926, 64),
}
_BY_LETTER = {letter: (start, last) for letter, _, start, last in ERAS.values()}
_BY_KANJI = {kanji: letter for letter, kanji, _, _ in ERAS.values()}

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100}

_WESTERN = re.compile(r"^(?:FY\s*)?(\d{4})\s*(?:年度|年)?$", re.IGNORECASE)
_ERA = re.compile(
    r"^(?P<era>令和|平成|昭和|[RHS])\s*\.?\s*(?P<num>元|[0-9]{1,3}|[〇零一二三四五六七八九十百]+)\s*(?:年度|年)?$",
    re.IGNORECASE,
)

#: the years evalkit can name in both calendars: from 昭和元年度 (1926) on
MIN_YEAR, MAX_YEAR = 1926, 2999


def _kanji_number(text: str) -> int:
    """Read kanji numerals as written in era years (五, 十二, 三十一, 二〇)."""
    total, current = 0, 0
    for char in text:
        if char in _KANJI_DIGITS:
            current = current * 10 + _KANJI_DIGITS[char]
        else:
            total += (current or 1) * _KANJI_UNITS[char]
            current = 0
    return total + current


def fiscal_year(value: object) -> int:
    """Return the western fiscal year that ``value`` names, in any notation of the format.

    Raises ``ValueError`` naming the offending text for anything that is not a year.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a fiscal year: {shown(value)}")
    if isinstance(value, int):
        if MIN_YEAR <= value <= MAX_YEAR:
            return value
        raise ValueError(f"not a fiscal year: {shown(value)} (expected a year between {MIN_YEAR} and {MAX_YEAR})")
    if not isinstance(value, str):
        raise ValueError(f"not a fiscal year: {shown(value)}")
    # NFKC folds full-width digits and letters (Ｒ５) and the era ligatures (㋿ ㍻ ㍼).
    text = unicodedata.normalize("NFKC", value).strip()
    match = _WESTERN.match(text)
    if match:
        return fiscal_year(int(match.group(1)))
    match = _ERA.match(text)
    if not match:
        raise ValueError(f"not a fiscal year: {shown(value)}")
    era = match.group("era")
    letter = _BY_KANJI.get(era, era.upper())
    num_text = match.group("num")
    if num_text == "元":
        number = 1
    elif num_text.isdigit():
        number = int(num_text)
    else:
        number = _kanji_number(num_text)
    start, last = _BY_LETTER[letter]
    if number < 1 or (last is not None and number > last) or start - 1 + number > MAX_YEAR:
        raise ValueError(f"not a fiscal year: {shown(value)} (era year {number} out of range)")
    return start - 1 + number


def era_and_western(year: int) -> str:
    """「令和5年度（2023年度）」, the form report headings use."""
    return f"{era_label(year, long=True)}（{year}年度）"


def era_label(year: int, long: bool = False) -> str:
    """Format a western fiscal year in the current era: ``R5`` or, with ``long``, ``令和5年度``.

    The first year of an era is 元年 in the long form (``令和元年度``); the
    short form keeps the digit (``R1``), as axis labels do.
    """
    year = fiscal_year(year)
    for letter, kanji, start, _ in ERAS.values():
        if year >= start:
            number = year - start + 1
            if long:
                return f"{kanji}{'元' if number == 1 else number}年度"
            return f"{letter}{number}"
    raise ValueError(f"no Japanese era for fiscal year {year} (before 1926)")
