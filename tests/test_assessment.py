"""indicator-method.md, rule by rule: the seed's and the samples' printed figures, edge cases, properties."""

import math

import pandas as pd
import pytest
from hypothesis import assume, given, settings, strategies as st

from evalkit import achievements, assess, load_program, program_status
from evalkit.assessment import ASSESSMENT_COLUMNS, STATUS_LABELS, cagr, limit_coefficient
from evalkit.cycle import Thresholds
from evalkit.model import Indicator, Program


def program(*indicators: dict) -> Program:
    return Program.model_validate({"id": "p", "name": "x", "indicators": list(indicators)})


def indicator(observations: dict, direction="up", **extra) -> dict:
    return {"id": extra.pop("id", "a"), "name": "x", "unit": "人", "direction": direction, "observations": observations, **extra}


def row(prog: Program, fiscal_year: int = 2023, **kwargs) -> pd.Series:
    return assess(prog, fiscal_year, **kwargs).iloc[0]


def test_columns_are_exactly_the_spec(root):
    df = assess(load_program(root / "data/programs/chiiki-kyosei.yaml"), 2023)
    assert list(df.columns) == ASSESSMENT_COLUMNS


def test_seed_sheet_fy2023(root):
    r = row(load_program(root / "data/programs/chiiki-kyosei.yaml"), 2023, results_lag=1)
    assert (r.current_year, r.current) == (2022, 87)
    assert (r.base_year, r.base) == (2021, 65)
    assert (r.target_year, r.target) == (2026, 102)
    assert f"{r.achievement * 100:.1f}" == "94.6"  # against the next target, R5 92
    assert f"{r.progress * 100:.1f}" == "59.5"
    assert r.elapsed == pytest.approx(1 / 5)
    assert r.cagr_observed == pytest.approx(87 / 65 - 1, rel=1e-12)
    assert r.cagr_required == pytest.approx((102 / 65) ** (1 / 5) - 1, rel=1e-12)
    assert r.pace == pytest.approx((87 / 65 - 1) / ((102 / 65) ** 0.2 - 1), rel=1e-12)
    assert r.projected == pytest.approx(87 * (87 / 65) ** 4, rel=1e-12)
    assert (r.status, r.status_label, r.score) == ("substantial_progress", "順調", 5.0)


def test_shinjo_printed_achievement_rates(root):
    df = achievements(load_program(root / "data/programs/shinjo-gomi-shuseki-hojo.yaml"), 2019)
    printed = {
        "shusekiki-secchi": ["90.0", "90.0", "100.0", "90.0", "80.0"],
        "gomi-station": ["95.6", "97.1", "97.7", "98.8", "99.4"],
    }
    for indicator_id, rates in printed.items():
        sub = df[df.indicator_id == indicator_id]
        assert list(sub.year) == [2014, 2015, 2016, 2017, 2018]
        assert [f"{x * 100:.1f}" for x in sub.achievement] == rates


def test_morioka_rates_against_next_target(root):
    df = achievements(load_program(root / "data/programs/morioka-toshi-koen.yaml"), 2017)
    first = df[df.indicator_id == "shido-kairyo"]
    assert list(first.target_year) == [2019, 2019, 2019]  # H31, the next target
    assert first.achievement.iloc[-1] == pytest.approx(74.6 / 74.8)


def test_cutoff_ignores_later_actuals():
    p = program(indicator({2020: {"actual": 10}, 2021: {"actual": 11}, 2022: {"actual": 50}, 2025: {"target": 20}}))
    r = row(p, 2022)  # C = 2021
    assert (r.current_year, r.current) == (2021, 11)
    assert list(achievements(p, 2022).year) == [2020, 2021]
    pd.testing.assert_frame_equal(assess(p, "R4"), assess(p, 2022))  # any year notation
    r2 = row(p, 2023, results_lag=0)  # C = 2023
    assert r2.current_year == 2022


def test_down_direction():
    p = program(indicator({2019: {"actual": 100}, 2021: {"actual": 90, "target": 80}, 2024: {"target": 60}}, direction="down"))
    r = row(p, 2022)
    assert r.achievement == pytest.approx(80 / 90)
    assert r.progress == pytest.approx((90 - 100) / (60 - 100))
    obs = (90 / 100) ** 0.5 - 1
    req = (60 / 100) ** 0.2 - 1
    assert r.pace == pytest.approx(-1 * obs / abs(req))
    assert r.status == "moderate_progress" if 0.6 <= r.pace < 0.95 else True
    assert r.score == pytest.approx(min(7.1429 * r.pace - 4.2857, 5) if r.pace >= 0.6 else max(4.1667 * r.pace - 2.5, -5))


def test_target_achieved_either_direction():
    up = program(indicator({2020: {"actual": 1}, 2022: {"actual": 5}, 2030: {"target": 5}}))
    down = program(indicator({2020: {"actual": 9}, 2022: {"actual": 3}, 2030: {"target": 3}}, direction="down"))
    for p in (up, down):
        r = row(p)
        assert (r.status, r.status_label, r.score) == ("target_achieved", "目標達成", 5.0)


def test_single_actual_meeting_target_is_achieved_otherwise_not_available():
    r = row(program(indicator({2022: {"actual": 5}, 2025: {"target": 4}})))
    assert r.status == "target_achieved"
    r = row(program(indicator({2022: {"actual": 3}, 2025: {"target": 4}})))
    assert (r.status, r.status_label) == ("not_available", "判定不能")
    assert math.isnan(r.score) and math.isnan(r.pace) and math.isnan(r.cagr_observed)
    assert r.achievement == pytest.approx(0.75)  # still defined for one actual


def test_no_actuals_everything_undefined():
    r = row(program(indicator({2025: {"target": 4}})))
    assert r.status == "not_available"
    for column in ("base", "current", "achievement", "progress", "elapsed", "pace", "projected", "score"):
        assert math.isnan(r[column]), column
    assert pd.isna(r.current_year) and pd.isna(r.base_year)


def test_baseline_rules():
    obs = {2018: {"actual": 2}, 2019: {"actual": 4}, 2021: {"actual": 8}, 2022: {"actual": 10}, 2026: {"target": 20}}
    assert row(program(indicator(obs))).base_year == 2018  # earliest actual by default
    assert row(program(indicator(obs, baseline="R1"))).base_year == 2019  # the baseline year
    assert row(program(indicator(obs, baseline="R2"))).base_year == 2021  # earliest actual after a gap year
    r = row(program(indicator(obs, baseline="R6")))  # after the cut-off: no base
    assert math.isnan(r.base) and r.status == "not_available"


def test_zero_base_and_zero_target_use_0_001_in_growth_only():
    r = row(program(indicator({2020: {"actual": 0}, 2022: {"actual": 4}, 2025: {"target": 10}})))
    assert r.base == 0
    assert r.progress == pytest.approx(0.4)
    assert r.cagr_observed == pytest.approx((4 / 0.001) ** 0.5 - 1)
    assert r.cagr_required == pytest.approx((10 / 0.001) ** 0.2 - 1)
    r = row(program(indicator({2020: {"actual": 8}, 2022: {"actual": 4}, 2025: {"target": 0}}, direction="down")))
    assert r.cagr_required == pytest.approx((0.001 / 8) ** 0.2 - 1)
    assert r.achievement == 0  # down: target / actual = 0 / 4, defined

def test_zero_denominator_makes_achievement_undefined_not_infinite():
    up = row(program(indicator({2022: {"actual": 3, "target": 0}})))
    down = row(program(indicator({2022: {"actual": 0, "target": 2}}, direction="down")))
    assert math.isnan(up.achievement) and math.isnan(down.achievement)


def test_negative_values_and_sign_change():
    r = row(program(indicator({2020: {"actual": -10}, 2022: {"actual": -5}, 2025: {"target": -1}})))
    obs, req = (0.5) ** 0.5 - 1, (0.1) ** 0.2 - 1
    assert r.cagr_observed == pytest.approx(obs) and r.cagr_required == pytest.approx(req)
    assert r.pace == pytest.approx(-1 * 1 * obs / abs(req))  # s = -1 for a negative base
    assert r.pace > 0  # -10 -> -5 is progress upwards
    r = row(program(indicator({2020: {"actual": -10}, 2022: {"actual": 5}, 2025: {"target": 20}})))
    assert math.isnan(r.cagr_observed) and math.isnan(r.pace) and r.status == "not_available"
    assert r.progress == pytest.approx(15 / 30)  # not growth-based: still defined


def test_method_1_without_target_and_limit_coefficient():
    r = row(program(indicator({2020: {"actual": 100}, 2022: {"actual": 104.04}})))
    assert r.pace == pytest.approx(0.02) and r.status == "substantial_progress"
    assert r.score == pytest.approx(min(500 * 0.02 - 5, 5))
    assert math.isnan(r.target) and math.isnan(r.progress) and math.isnan(r.projected)
    r = row(program(indicator({2020: {"actual": 100}, 2022: {"actual": 101}})))
    pace = (1.01) ** 0.5 - 1
    assert r.status == ("moderate_progress" if pace >= 0.005 else "limited_progress")
    # near a limit of 100 (%), the thresholds shrink by c
    c = limit_coefficient(95, 100)
    assert c == pytest.approx(1 - 0.95**4.44)
    r = row(program(indicator({2020: {"actual": 95}, 2022: {"actual": 95.8}}, limit=100)))
    pace = (95.8 / 95) ** 0.5 - 1
    assert pace < 0.005  # without the limit this would only be limited_progress
    assert r.pace == pytest.approx(pace)
    assert r.status == "substantial_progress" and pace >= 0.015 * c
    assert r.score == pytest.approx(min(500 * pace / c - 5, 5))
    assert limit_coefficient(250, 100) == 1 and limit_coefficient(150, 100) == pytest.approx(1 - 0.5**4.44)
    r = row(program(indicator({2020: {"actual": 100}, 2022: {"actual": 100}}, limit=100)))
    assert r.status == "substantial_progress" and r.score == 5  # c = 0: at the limit


def test_method_1_down_and_deterioration_score():
    r = row(program(indicator({2020: {"actual": 100}, 2022: {"actual": 110}}, direction="down")))
    pace = -((1.1) ** 0.5 - 1)
    assert r.pace == pytest.approx(pace) and r.status == "deterioration"
    assert r.score == pytest.approx(max(125 * pace - 2.5, -5))


@pytest.mark.parametrize(
    "pace, status",
    [(0.95, "substantial_progress"), (0.9499, "moderate_progress"), (0.6, "moderate_progress"),
     (0.5999, "limited_progress"), (0.0, "limited_progress"), (-0.0001, "deterioration")],
)
def test_status_thresholds_method_2(pace, status):
    # base 100 in 2020, target 200 in 2030, current chosen so that pace is exact
    req = 2 ** 0.1 - 1
    current = 100 * (1 + pace * req) ** 2
    r = row(program(indicator({2020: {"actual": 100}, 2022: {"actual": current}, 2030: {"target": 200}})))
    assert r.pace == pytest.approx(pace, abs=1e-9)
    if abs(r.pace - pace) < 1e-12 or pace in (0.0,):
        assert r.status == status


def test_thresholds_override_from_the_cycle():
    p = program(indicator({2020: {"actual": 100}, 2022: {"actual": 112}, 2030: {"target": 200}}))
    default = row(p)
    assert default.status == "moderate_progress"
    strict = row(p, thresholds=Thresholds(substantial=5.0, moderate=4.0))
    assert default.status != strict.status and strict.status == "limited_progress"


def test_program_roll_up():
    def frame(rows):
        return pd.DataFrame(rows, columns=["kind", "status", "score"])

    assert program_status(frame([])) == "not_available"
    assert program_status(frame([("outcome", "not_available", float("nan"))])) == "not_available"
    assert program_status(frame([("outcome", "target_achieved", 5.0), ("activity", "deterioration", -5.0)])) == "target_achieved"
    assert program_status(frame([("outcome", "target_achieved", 5.0), ("outcome", "deterioration", -5.0)])) == "moderate_progress"
    assert program_status(frame([("outcome", "x", 2.5)])) == "substantial_progress"
    assert program_status(frame([("outcome", "x", -2.5)])) == "limited_progress"
    assert program_status(frame([("outcome", "x", -2.6)])) == "deterioration"
    assert set(STATUS_LABELS) == {"target_achieved", "substantial_progress", "moderate_progress", "limited_progress", "deterioration", "not_available"}


def test_cagr_helper():
    assert cagr(121, 100, 2022, 2020) == pytest.approx(0.1)
    assert math.isnan(cagr(1, 1, 2020, 2020))
    assert math.isnan(cagr(-4, 1, 2022, 2020))  # complex root: undefined


# ---- properties (hypothesis) ----

values = st.floats(min_value=0.5, max_value=1e6, allow_nan=False)
years = st.lists(st.integers(2010, 2030), min_size=2, max_size=6, unique=True).map(sorted)


@st.composite
def series(draw):
    ys = draw(years)
    obs = {y: {"actual": draw(values)} for y in ys}
    final_year = draw(st.integers(ys[-1], 2040))
    obs.setdefault(final_year, {})["target"] = draw(values)
    if draw(st.booleans()):
        mid = draw(st.sampled_from(ys))
        obs[mid]["target"] = draw(values)
    return obs, draw(st.sampled_from(["up", "down"]))


def close(a, b):
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if pd.isna(a) and pd.isna(b):
        return True
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(series())
def test_negating_values_and_flipping_direction_keeps_pace_status_score(case):
    obs, direction = case
    flipped = {y: {k: -v for k, v in o.items()} for y, o in obs.items()}
    a = row(program(indicator(obs, direction)), 2041)
    b = row(program(indicator(flipped, "down" if direction == "up" else "up")), 2041)
    for column in ("pace", "status", "score", "progress", "elapsed"):
        assert close(a[column], b[column]), column


@settings(max_examples=200, deadline=None)
@given(series(), st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_keeps_every_ratio(case, k):
    obs, direction = case
    scaled = {y: {key: v * k for key, v in o.items()} for y, o in obs.items()}
    a = row(program(indicator(obs, direction)), 2041)
    b = row(program(indicator(scaled, direction)), 2041)
    for column in ("achievement", "progress", "elapsed", "cagr_observed", "cagr_required", "pace", "status", "score"):
        assert close(a[column], b[column]), column


@settings(max_examples=200, deadline=None)
@given(series())
def test_meeting_the_final_target_is_always_achieved(case):
    obs, direction = case
    final_year = max(y for y, o in obs.items() if "target" in o)
    last_actual_year = max(y for y, o in obs.items() if "actual" in o)
    target = obs[final_year]["target"]
    obs[last_actual_year]["actual"] = target * (1.1 if direction == "up" else 0.9)
    r = row(program(indicator(obs, direction)), 2041)
    assert r.status == "target_achieved" and r.score == 5


@settings(max_examples=200, deadline=None)
@given(series(), st.integers(2010, 2030), st.lists(values, min_size=1, max_size=5))
def test_actuals_after_the_cutoff_change_nothing(case, fiscal_year, extra):
    obs, direction = case
    cutoff = fiscal_year - 1
    later = {y: dict(o) for y, o in obs.items()}
    for i, v in enumerate(extra):
        later.setdefault(cutoff + 1 + i, {})["actual"] = v
    a = assess(program(indicator(obs, direction)), fiscal_year)
    b = assess(program(indicator(later, direction)), fiscal_year)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(achievements(program(indicator(obs, direction)), fiscal_year), achievements(program(indicator(later, direction)), fiscal_year))


@settings(max_examples=200, deadline=None)
@given(series())
def test_score_is_bounded_and_status_matches_label(case):
    obs, direction = case
    r = row(program(indicator(obs, direction)), 2041)
    assert r.status_label == STATUS_LABELS[r.status]
    assert pd.isna(r.score) or -5 <= r.score <= 5
