"""How much each indicator must still change per year to reach each remaining target.

The per-program analysis of the seed's notebook (``notebooks/chiiki-kyosei.ipynb``):
the standard card judges the pace against the final target only; an
evaluator also asks whether the interim target (R5) is within reach.
"""

from __future__ import annotations

import math

import pandas as pd
from IPython.display import HTML

from . import fmt
from .card import ReportCard
from .sections import render

__all__ = ["GAP_COLUMNS", "target_gaps", "gap_section"]

GAP_COLUMNS = ["indicator_id", "name", "unit", "target_year", "target", "years_left", "needed_per_year", "observed_per_year", "ratio"]


def target_gaps(card: ReportCard) -> pd.DataFrame:
    """Per indicator and target after the current year: the linear yearly change still needed,
    against the yearly change so far (base to current), signed so that positive is good."""
    rows = []
    for indicator in card.program.indicators:
        m = card.measures[indicator.id]
        if m.current_year is None:
            continue
        t, v = m.current_year, m.current
        d = 1 if indicator.direction == "up" else -1
        observed = math.nan
        if m.base_year is not None and t > m.base_year:
            observed = d * (v - m.base) / (t - m.base_year)
        for year, obs in sorted(indicator.observations.items()):
            if obs.target is None or year <= t:
                continue
            needed = d * (obs.target - v) / (year - t)
            ratio = observed / needed if needed > 0 and not math.isnan(observed) else math.nan
            rows.append([indicator.id, indicator.name, indicator.unit, year, obs.target, year - t, needed, observed, ratio])
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def gap_section(card: ReportCard) -> HTML:
    """The analysis as a card section: a table and one sentence per target."""
    return HTML(render("gap.html.j2", gaps=target_gaps(card).to_dict("records"), cutoff=fmt.year_short(card.cutoff)))
