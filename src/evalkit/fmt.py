"""Formatting numbers, rates and years the way the printed sheets do; pure."""

from __future__ import annotations

import math
import sys

from .years import era_label

__all__ = ["as_number", "is_missing", "number", "percent", "growth", "year_short", "MISSING"]

MISSING = "－"


def as_number(value: object) -> float:
    """A recorded number as a float, NaN when there is none (or the record holds something else)."""
    try:
        return math.nan if value is None else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def is_missing(value: object) -> bool:
    if value is None:
        return True
    pandas = sys.modules.get("pandas")  # pandas' NA can only come from pandas: the batch need not import it to format
    if pandas is not None and value is pandas.NA:
        return True
    try:
        return math.isnan(value)  # type: ignore[arg-type]
    except TypeError:
        return False


def number(value: float | None, unit: str = "") -> str:
    """``1,234``, ``74.6``, ``0.17``; integers without decimals; missing as 「－」."""
    if is_missing(value):
        return MISSING
    value = float(value)
    text = f"{int(value):,}" if value.is_integer() else f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{text}{unit}"


def percent(value: float | None, digits: int = 1) -> str:
    """A ratio as the sheets print it: 0.9457 -> ``94.6%``."""
    return MISSING if is_missing(value) else f"{float(value) * 100:.{digits}f}%"


def growth(value: float | None) -> str:
    """A yearly growth rate with its sign: ``+33.8%``."""
    return MISSING if is_missing(value) else f"{float(value) * 100:+.1f}%"


def year_short(year: int | float | None) -> str:
    """``R4`` (the axis and table form)."""
    return MISSING if is_missing(year) else era_label(int(year))

