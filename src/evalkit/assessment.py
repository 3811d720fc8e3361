"""Indicator assessment exactly as ``docs/method.md`` defines it.

Japanese municipal measures (達成率, 進捗率) beside the Open SDG progress
measure (CAGR pace ratio, status, score, roll-up), so a card can be compared
with that peer.  Pure functions: a :class:`~evalkit.model.Program` in, pandas
DataFrames out; undefined values are NaN (numbers) or None, never 0 and never
an exception.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pandas as pd

from .cycle import Thresholds
from .model import Indicator, Observation, Program
from .years import fiscal_year as to_fiscal_year

__all__ = [
    "STATUS_LABELS",
    "ASSESSMENT_COLUMNS",
    "ACHIEVEMENT_COLUMNS",
    "IndicatorAssessment",
    "applied_thresholds",
    "assess_indicator",
    "assess_indicators",
    "assessment_frame",
    "cutoff_year",
    "assess",
    "achievement_rate",
    "achievements",
    "actuals",
    "shown_actuals",
    "series_start",
    "targets_as_of",
    "indicator_as_of",
    "program_as_of",
    "program_score",
    "program_status",
    "status_from_score",
    "cagr",
    "limit_coefficient",
]

NAN = math.nan
ZERO_REPLACEMENT = 0.001
LIMIT_EXPONENT = 4.44

#: status name -> the label the card prints (docs/method.md, Status)
STATUS_LABELS: dict[str, str] = {
    "target_achieved": "目標達成",
    "substantial_progress": "順調",
    "moderate_progress": "概ね順調（加速が必要）",
    "limited_progress": "遅れ",
    "deterioration": "悪化",
    "not_available": "判定不能",
}

ASSESSMENT_COLUMNS = [
    "indicator_id", "name", "unit", "direction", "kind",
    "base_year", "base", "current_year", "current", "target_year", "target",
    "achievement", "progress", "elapsed", "cagr_observed", "cagr_required",
    "pace", "projected", "status", "status_label", "score",
]
_TEXT_COLUMNS = frozenset({"indicator_id", "name", "unit", "direction", "kind", "status", "status_label"})
ACHIEVEMENT_COLUMNS = ["indicator_id", "year", "actual", "target_year", "target", "achievement"]


def _defined(x: float | None) -> bool:
    return x is not None and not math.isnan(x)


def cagr(value: float, base: float, year: float, base_year: float) -> float:
    """Compound annual growth (a/b)^(1/(t1-t0)) - 1 (docs/method.md, Measures); NaN where it is not a real number."""
    if year == base_year or base == 0:
        return NAN
    ratio = value / base
    exponent = 1.0 / (year - base_year)
    if ratio < 0 and not exponent.is_integer():
        return NAN  # an even or fractional root of a negative ratio: no real growth rate
    return _finite(_power(ratio, exponent) - 1.0)


def _finite(value: float) -> float:
    """A measure that is not a finite number (it overflowed) is undefined: NaN, never infinite."""
    return value if math.isfinite(value) else NAN


def _power(base: float, exponent: float) -> float:
    """``base ** exponent``, NaN where it overflows (float powers raise instead of giving inf)."""
    try:
        return _finite(base**exponent)
    except OverflowError:
        return NAN


def limit_coefficient(base: float, limit: float | None) -> float:
    """Method 1's threshold reduction near a natural limit (docs/method.md, a = 4.44); 1 without a limit."""
    if limit is None:
        return 1.0
    b, lim = abs(base), abs(limit)
    if b >= 2 * lim:
        return 1.0
    if b <= lim:
        return 1.0 - (b / lim) ** LIMIT_EXPONENT
    return 1.0 - ((2 * lim - b) / lim) ** LIMIT_EXPONENT


def _next_target(observations: dict[int, Observation], year: int) -> tuple[int, float] | None:
    """The target of ``year``, or else of the earliest later year that has one."""
    for y in sorted(observations):
        if y >= year and observations[y].target is not None:
            return y, observations[y].target
    return None


def achievement_rate(actual: float | None, target: float | None, direction: str) -> float:
    """達成率: up actual/target, down target/actual; NaN when undefined (no data, zero denominator)."""
    if actual is None or target is None:
        return NAN
    numerator, denominator = (actual, target) if direction == "up" else (target, actual)
    return NAN if denominator == 0 else numerator / denominator


@dataclass(frozen=True)
class IndicatorAssessment:
    """One indicator's measures in one cycle, with what produced its status.

    The first fields are exactly the assessment columns (:data:`ASSESSMENT_COLUMNS`);
    the last say which method and thresholds were applied, so that every
    consumer (explanation, charts, analyses, scraps) states the same judgement.
    """

    indicator_id: str
    name: str
    unit: str
    direction: str
    kind: str
    base_year: int | None
    base: float
    current_year: int | None
    current: float
    target_year: int | None
    target: float
    achievement: float
    progress: float
    elapsed: float
    cagr_observed: float
    cagr_required: float
    pace: float
    projected: float
    status: str
    status_label: str
    score: float
    method: int  # 2 with a final target (pace against the required growth), else 1 (growth alone)
    limit: float | None  # the indicator's natural limit (method 1 only scales by it)
    coefficient: float  # the limit coefficient c applied to method 1's thresholds (1 without a limit)
    substantial_threshold: float  # the pace at or above which the status is 順調, as applied
    moderate_threshold: float  # the pace at or above which it is 概ね順調, as applied

    def columns(self) -> dict[str, object]:
        """The assessment columns only (one row of :func:`assess`)."""
        values = asdict(self)
        return {column: values[column] for column in ASSESSMENT_COLUMNS}


def shown_actuals(indicator: Indicator, cutoff: int) -> dict[int, float]:
    """Every non-null actual of a year ≤ the cut-off, oldest first: what a card shows."""
    return {y: o.actual for y, o in sorted(indicator.observations.items()) if y <= cutoff and o.actual is not None}


def series_start(indicator: Indicator, cutoff: int) -> int | None:
    """The latest declared break ≤ the cut-off: actuals before it are shown but not used (a break after C is ignored)."""
    years = [b.year for b in indicator.breaks if b.year <= cutoff]
    return max(years) if years else None


def actuals(indicator: Indicator, cutoff: int) -> dict[int, float]:
    """The actuals the measures use: years ≤ the cut-off and, after a series break, from the break on (docs/method.md, Inputs)."""
    start = series_start(indicator, cutoff)
    return {y: v for y, v in shown_actuals(indicator, cutoff).items() if start is None or y >= start}


def targets_as_of(indicator: Indicator, fiscal_year: int) -> dict[int, float]:
    """Every target as it stood in evaluation year ``fiscal_year``: for a target year revised later (``in`` > E),
    the ``from`` of its earliest later revision; otherwise the target ``observations`` hold."""
    years = {y for y, o in indicator.observations.items() if o.target is not None} | {r.year for r in indicator.revisions}
    targets: dict[int, float] = {}
    for year in sorted(years):
        later = [r for r in indicator.revisions if r.year == year and r.in_ > fiscal_year]
        held = indicator.observations.get(year)
        value = min(later, key=lambda r: r.in_).from_ if later else (held.target if held else None)
        if value is not None:
            targets[year] = value
    return targets


def indicator_as_of(indicator: Indicator, fiscal_year: int) -> Indicator:
    """The indicator with its targets as they stood in ``fiscal_year``: a past cycle regenerates exactly."""
    if not indicator.revisions:
        return indicator
    targets = targets_as_of(indicator, fiscal_year)
    observations = {
        year: Observation(actual=indicator.observations[year].actual if year in indicator.observations else None, target=targets.get(year))
        for year in sorted(set(indicator.observations) | set(targets))
    }
    return indicator.model_copy(update={"observations": observations})


def program_as_of(program: Program, fiscal_year: int | str) -> Program:
    """The program with every indicator's targets as they stood in ``fiscal_year`` (any notation)."""
    year = to_fiscal_year(fiscal_year)
    return program.model_copy(update={"indicators": [indicator_as_of(i, year) for i in program.indicators]})


def _base(observed: dict[int, float], baseline: int | None) -> tuple[int, float] | None:
    """docs/method.md, Inputs: the baseline year's actual, the earliest actual after it, or the earliest actual."""
    years = [y for y in observed if baseline is None or y >= baseline]
    return (years[0], observed[years[0]]) if years else None


def _final_target(observations: dict[int, Observation]) -> tuple[int, float] | None:
    years = [y for y, o in observations.items() if o.target is not None]
    return (max(years), observations[max(years)].target) if years else None


def applied_thresholds(method: int, coefficient: float, th: Thresholds) -> tuple[float, float]:
    """(順調, 概ね順調) pace thresholds: method 2 as configured, method 1 scaled by the limit coefficient."""
    if method == 2:
        return th.substantial, th.moderate
    return th.method1_substantial * coefficient, th.method1_moderate * coefficient


def _status(pace: float, method: int, coefficient: float, th: Thresholds) -> str:
    if math.isnan(pace):
        return "not_available"
    high, med = applied_thresholds(method, coefficient, th)
    if pace >= high:
        return "substantial_progress"
    if pace >= med:
        return "moderate_progress"
    if pace >= 0:
        return "limited_progress"
    return "deterioration"


def _score(pace: float, method: int, coefficient: float) -> float:
    """docs/method.md, Score: piecewise-linear in the pace value, clipped to [-5, 5].

    The breakpoints are the method's own (0.6; 0.015·c and 0.005·c), not a
    cycle's overridden status thresholds: scores stay comparable across cycles.
    """
    if math.isnan(pace):
        return NAN
    if method == 2:
        if pace >= 0.6:
            return min(7.1429 * pace - 4.2857, 5.0)
        return max(4.1667 * pace - 2.5, -5.0)
    if pace < 0:
        return max(125 * pace - 2.5, -5.0)
    if coefficient == 0:
        return 5.0
    if pace >= 0.015 * coefficient:
        return min(500 * pace / coefficient - 5, 5.0)
    if pace >= 0.005 * coefficient:
        return 250 * pace / coefficient - 1.25
    return 500 * pace / coefficient - 2.5


def assess_indicator(
    indicator: Indicator, cutoff: int, thresholds: Thresholds | None = None
) -> IndicatorAssessment:
    """Every measure of the spec for one indicator, using actuals of years ≤ ``cutoff`` only."""
    th = thresholds or Thresholds()
    d = 1 if indicator.direction == "up" else -1
    observed = actuals(indicator, cutoff)
    current = (max(observed), observed[max(observed)]) if observed else None
    base = _base(observed, indicator.baseline)
    final = _final_target(indicator.observations)

    t, v = current if current else (None, NAN)
    t0, v0 = base if base else (None, NAN)
    tau, target = final if final else (None, NAN)

    achievement = NAN
    if current:
        nxt = _next_target(indicator.observations, t)
        achievement = _finite(achievement_rate(v, nxt[1] if nxt else None, indicator.direction))

    progress = elapsed = cagr_obs = cagr_req = pace = projected = NAN
    method = 2 if final else 1
    coefficient = 1.0 if final else limit_coefficient(v0, indicator.limit) if base else 1.0
    if current and base:
        if final and target != v0:
            progress = _finite((v - v0) / (target - v0))
        if final and tau != t0:
            elapsed = (t - t0) / (tau - t0)
        sign = -1 if v0 < 0 else 1
        growth_base = ZERO_REPLACEMENT if v0 == 0 else v0
        opposite = (growth_base > 0 and v < 0) or (growth_base < 0 and v > 0)
        if t != t0 and not opposite:
            cagr_obs = cagr(v, growth_base, t, t0)
        if final:
            growth_target = ZERO_REPLACEMENT if target == 0 else target
            cagr_req = cagr(growth_target, growth_base, tau, t0)
            if _defined(cagr_obs) and _defined(cagr_req) and cagr_req != 0:
                pace = _finite(sign * d * cagr_obs / abs(cagr_req))
            if _defined(cagr_obs):
                projected = _finite(v * _power(1 + cagr_obs, tau - t))
        elif _defined(cagr_obs):
            pace = sign * d * cagr_obs

    achieved = bool(current and final and (v >= target if d == 1 else v <= target))
    if achieved:
        status, score = "target_achieved", 5.0
    else:
        status = _status(pace, method, coefficient, th)
        score = _score(pace, method, coefficient)
    high, moderate = applied_thresholds(method, coefficient, th)
    return IndicatorAssessment(
        indicator_id=indicator.id, name=indicator.name, unit=indicator.unit, direction=indicator.direction, kind=indicator.kind,
        base_year=t0, base=v0, current_year=t, current=v, target_year=tau, target=target,
        achievement=achievement, progress=progress, elapsed=elapsed,
        cagr_observed=cagr_obs, cagr_required=cagr_req, pace=pace, projected=projected,
        status=status, status_label=STATUS_LABELS[status], score=score,
        method=method, limit=indicator.limit, coefficient=coefficient,
        substantial_threshold=high, moderate_threshold=moderate,
    )


def cutoff_year(fiscal_year: int | str, results_lag: int = 1) -> int:
    """C = E − results_lag: the last results year a cycle uses; ``fiscal_year`` in any notation."""
    return to_fiscal_year(fiscal_year) - int(results_lag)


def assess_indicators(
    program: Program, fiscal_year: int | str, results_lag: int = 1, thresholds: Thresholds | None = None
) -> dict[str, IndicatorAssessment]:
    """Each indicator's :class:`IndicatorAssessment` by indicator id, in the file's order."""
    cutoff = cutoff_year(fiscal_year, results_lag)
    year = to_fiscal_year(fiscal_year)
    return {indicator.id: assess_indicator(indicator_as_of(indicator, year), cutoff, thresholds) for indicator in program.indicators}


def assessment_frame(measures: Iterable[IndicatorAssessment]) -> pd.DataFrame:
    """The assessment table: one row per indicator, exactly :data:`ASSESSMENT_COLUMNS`."""
    frame = pd.DataFrame([m.columns() for m in measures], columns=ASSESSMENT_COLUMNS)
    numeric = [c for c in ASSESSMENT_COLUMNS if c not in _TEXT_COLUMNS]
    frame[numeric] = frame[numeric].apply(pd.to_numeric)
    return frame


def assess(
    program: Program, fiscal_year: int | str, results_lag: int = 1, thresholds: Thresholds | None = None
) -> pd.DataFrame:
    """One row per indicator with the spec's columns, for evaluation year ``fiscal_year``.

    ``fiscal_year`` may be written in any notation of the format (2023, "R5", ...).
    The cut-off year is ``fiscal_year - results_lag``: later actuals are
    ignored so that any past cycle regenerates exactly from today's file.
    """
    return assessment_frame(assess_indicators(program, fiscal_year, results_lag, thresholds).values())


def achievements(program: Program, fiscal_year: int | str, results_lag: int = 1) -> pd.DataFrame:
    """達成率 per actual year ≤ the cut-off, against that year's target or else the next one."""
    cutoff = cutoff_year(fiscal_year, results_lag)
    rows = []
    for indicator in program_as_of(program, fiscal_year).indicators:
        for year, actual in shown_actuals(indicator, cutoff).items():
            nxt = _next_target(indicator.observations, year)
            rows.append(
                {
                    "indicator_id": indicator.id,
                    "year": year,
                    "actual": actual,
                    "target_year": nxt[0] if nxt else None,
                    "target": nxt[1] if nxt else NAN,
                    "achievement": _finite(achievement_rate(actual, nxt[1] if nxt else None, indicator.direction)),
                }
            )
    frame = pd.DataFrame(rows, columns=ACHIEVEMENT_COLUMNS)
    frame[["actual", "target", "achievement"]] = frame[["actual", "target", "achievement"]].astype(float)
    return frame


def status_from_score(score: float) -> str:
    """Open SDG's roll-up bands: ≥ 2.5 順調, ≥ 0 概ね順調, ≥ -2.5 遅れ, else 悪化."""
    if math.isnan(score):
        return "not_available"
    if score >= 2.5:
        return "substantial_progress"
    if score >= 0:
        return "moderate_progress"
    if score >= -2.5:
        return "limited_progress"
    return "deterioration"


def program_score(assessment: pd.DataFrame) -> float:
    """The mean score of the outcome indicators that have one; NaN when none has (output and activity indicators never count)."""
    scored = assessment[(assessment["kind"] == "outcome") & assessment["score"].notna()]
    return float(scored["score"].mean()) if not scored.empty else NAN


def program_status(assessment: pd.DataFrame) -> str:
    """The program's status from the mean score of its outcome indicators that have one."""
    scored = assessment[(assessment["kind"] == "outcome") & assessment["score"].notna()]
    if scored.empty:
        return "not_available"
    if (scored["status"] == "target_achieved").all():
        return "target_achieved"
    return status_from_score(float(scored["score"].mean()))
