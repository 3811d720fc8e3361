"""docs/method.md, rule by rule: the seed's and the samples' printed figures, edge cases, properties.

Every expected number is a literal worked out by hand (the working is in the comment beside it),
never the spec's formula evaluated again in the test.
"""

import math

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from evalkit import achievements, assess, load_program, program_status
from evalkit.assessment import ASSESSMENT_COLUMNS, STATUS_LABELS, cagr, limit_coefficient
from evalkit.cycle import Thresholds
from evalkit.model import Program

pytestmark = pytest.mark.unit

# c = 1 − (95/100)^4.44 = 1 − 0.796329505562… (limit coefficient of base 95 under a limit of 100)
C_95 = 0.20367049443772375


def program(*indicators: dict) -> Program:
    return Program.model_validate({"id": "p", "name": "x", "indicators": list(indicators)})


def indicator(observations: dict, direction="up", **extra) -> dict:
    return {"id": extra.pop("id", "a"), "name": "x", "unit": "人", "direction": direction, "observations": observations, **extra}


def row(prog: Program, fiscal_year: int = 2023, **kwargs) -> pd.Series:
    return assess(prog, fiscal_year, **kwargs).iloc[0]


def one_year(base: float, current: float, target: float | None = None, **extra) -> Program:
    """Base in 2021, current in 2022 (cut-off of the 2023 cycle), optional target in 2022.

    With every span one year, CAGR_obs = v/v₀ − 1 and CAGR_req = T/v₀ − 1, so the pace is
    (v − v₀)/(T − v₀) (method 2) or v/v₀ − 1 (method 1): easy to choose by hand.
    """
    observations = {2021: {"actual": base}, 2022: {"actual": current}}
    if target is not None:
        observations[2022]["target"] = target
    return program(indicator(observations, **extra))


def test_columns_are_exactly_the_spec(root):
    df = assess(load_program(root / "data/programs/chiiki-kyosei.yaml"), 2023)
    assert list(df.columns) == ASSESSMENT_COLUMNS


def test_seed_sheet_fy2023(root):
    r = row(load_program(root / "data/programs/chiiki-kyosei.yaml"), 2023, results_lag=1)
    assert (r.current_year, r.current) == (2022, 87)
    assert (r.base_year, r.base) == (2021, 65)
    assert (r.target_year, r.target) == (2026, 102)
    assert f"{r.achievement * 100:.1f}" == "94.6"  # against the next target, R5 92: 87/92 = 0.945652…
    assert f"{r.progress * 100:.1f}" == "59.5"  # (87 − 65)/(102 − 65) = 22/37 = 0.594594…
    assert r.elapsed == pytest.approx(0.2, rel=1e-12)  # (2022 − 2021)/(2026 − 2021) = 1/5
    assert r.cagr_observed == pytest.approx(0.33846153846153846, rel=1e-12)  # 87/65 − 1 = 22/65
    # (102/65)^(1/5) − 1 = 1.569230769…^0.2 − 1
    assert r.cagr_required == pytest.approx(0.09430242851206573, rel=1e-12)
    assert r.pace == pytest.approx(3.5891073411564716, rel=1e-12)  # 0.338461538… / 0.094302428…
    assert r.projected == pytest.approx(279.21763002695984, rel=1e-12)  # 87 · (87/65)^4 = 87 · 3.209398…
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
    assert first.achievement.iloc[-1] == pytest.approx(0.9973262032085561, rel=1e-12)  # 74.6/74.8


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
    r = row(p, 2022)  # C = 2021: base (2019, 100), current (2021, 90), final target (2024, 60)
    assert r.achievement == pytest.approx(0.8888888888888888, rel=1e-12)  # down: 80/90
    assert r.progress == pytest.approx(0.25, rel=1e-12)  # (90 − 100)/(60 − 100) = −10/−40
    assert r.elapsed == pytest.approx(0.4, rel=1e-12)  # (2021 − 2019)/(2024 − 2019) = 2/5
    assert r.cagr_observed == pytest.approx(-0.0513167019494862, rel=1e-12)  # 0.9^(1/2) − 1
    assert r.cagr_required == pytest.approx(-0.09711954855256571, rel=1e-12)  # 0.6^(1/5) − 1
    # s = +1, d = −1: −(−0.051316702)/0.097119549 = 0.528386949…
    assert r.pace == pytest.approx(0.5283869490158427, rel=1e-12)
    assert (r.status, r.status_label) == ("limited_progress", "遅れ")  # 0 ≤ 0.528 < 0.60
    assert r.score == pytest.approx(-0.2983700995356881, rel=1e-9)  # 4.1667 · 0.528386949 − 2.5
    assert r.projected == pytest.approx(76.84334714209162, rel=1e-12)  # 90 · (1 − 0.0513167)^(2024 − 2021) = 90 · 0.9^1.5


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
    assert r.achievement == pytest.approx(0.75)  # still defined for one actual: 3/4


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
    assert r.progress == pytest.approx(0.4)  # (4 − 0)/(10 − 0): the real base, not 0.001
    assert r.cagr_observed == pytest.approx(62.245553203367585, rel=1e-12)  # (4/0.001)^(1/2) − 1 = √4000 − 1
    assert r.cagr_required == pytest.approx(5.309573444801933, rel=1e-12)  # (10/0.001)^(1/5) − 1 = 10^0.8 − 1
    r = row(program(indicator({2020: {"actual": 8}, 2022: {"actual": 4}, 2025: {"target": 0}}, direction="down")))
    assert r.cagr_required == pytest.approx(-0.8342772991330007, rel=1e-12)  # (0.001/8)^(1/5) − 1 = 0.000125^0.2 − 1
    assert r.achievement == 0  # down: target / actual = 0 / 4, defined


def test_zero_denominator_makes_achievement_undefined_not_infinite():
    up = row(program(indicator({2022: {"actual": 3, "target": 0}})))
    down = row(program(indicator({2022: {"actual": 0, "target": 2}}, direction="down")))
    assert math.isnan(up.achievement) and math.isnan(down.achievement)


def test_negative_values_and_sign_change():
    r = row(program(indicator({2020: {"actual": -10}, 2022: {"actual": -5}, 2025: {"target": -1}})))
    assert r.cagr_observed == pytest.approx(-0.2928932188134524, rel=1e-12)  # (−5/−10)^(1/2) − 1 = √0.5 − 1
    assert r.cagr_required == pytest.approx(-0.36904265551980675, rel=1e-12)  # (−1/−10)^(1/5) − 1 = 0.1^0.2 − 1
    # s = −1 (negative base), d = +1: −1 · (−0.292893219)/0.369042656 = 0.793656816…: −10 → −5 is progress upwards
    assert r.pace == pytest.approx(0.7936568156353208, rel=1e-12)
    assert r.status == "moderate_progress"  # 0.60 ≤ 0.794 < 0.95 (and −5 < −1: not achieved)
    assert r.score == pytest.approx(1.383311268401533, rel=1e-9)  # 7.1429 · 0.793656816 − 4.2857
    r = row(program(indicator({2020: {"actual": -10}, 2022: {"actual": 5}, 2025: {"target": 20}})))
    assert math.isnan(r.cagr_observed) and math.isnan(r.pace) and r.status == "not_available"
    assert r.progress == pytest.approx(0.5)  # not growth-based: still defined, (5 + 10)/(20 + 10) = 15/30


def test_method_1_without_target_and_limit_coefficient():
    r = row(program(indicator({2020: {"actual": 100}, 2022: {"actual": 104.04}})))
    assert r.pace == pytest.approx(0.02, rel=1e-12)  # √1.0404 − 1 = 1.02 − 1
    assert r.status == "substantial_progress"  # 0.02 ≥ 0.015
    assert r.score == pytest.approx(5.0, rel=1e-12)  # 500 · 0.02 − 5 = 5 (the cap)
    assert math.isnan(r.target) and math.isnan(r.progress) and math.isnan(r.projected)
    r = row(program(indicator({2020: {"actual": 100}, 2022: {"actual": 101}})))
    assert r.pace == pytest.approx(0.004987562112089027, rel=1e-12)  # √1.01 − 1
    assert r.status == "limited_progress"  # 0 ≤ 0.0049876 < 0.005
    assert r.score == pytest.approx(-0.006218943955486, rel=1e-9)  # 500 · 0.004987562 − 2.5
    # near a limit of 100 (%), the thresholds shrink by c = 1 − 0.95^4.44 = 0.203670494…
    r = row(program(indicator({2020: {"actual": 95}, 2022: {"actual": 95.8}}, limit=100)))
    assert r.pace == pytest.approx(0.004201699177799115, rel=1e-12)  # √(95.8/95) − 1 = √1.008421053 − 1
    # 0.0042017 < 0.005: without the limit only limited_progress; ≥ 0.015 · c = 0.0030551: substantial
    assert r.status == "substantial_progress"
    assert r.score == 5.0  # 500 · 0.0042017/0.2036705 − 5 = 5.3149… capped at 5
    r = row(program(indicator({2020: {"actual": 95}, 2022: {"actual": 95.8}})))
    assert r.status == "limited_progress"  # the same data without the limit
    r = row(program(indicator({2020: {"actual": 100}, 2022: {"actual": 100}}, limit=100)))
    assert r.status == "substantial_progress" and r.score == 5  # c = 0: at the limit


def test_limit_coefficient_branches():
    assert limit_coefficient(95, None) == 1  # no limit
    assert limit_coefficient(95, 100) == pytest.approx(C_95, rel=1e-12)  # |v₀| ≤ |limit|: 1 − 0.95^4.44
    assert limit_coefficient(-95, 100) == pytest.approx(C_95, rel=1e-12)  # absolute values
    assert limit_coefficient(95, -100) == pytest.approx(C_95, rel=1e-12)
    assert limit_coefficient(100, 100) == 0  # 1 − 1^4.44
    # limit < |v₀| < 2·limit: 1 − ((200 − 150)/100)^4.44 = 1 − 0.5^4.44 = 1 − 0.046070913…
    assert limit_coefficient(150, 100) == pytest.approx(0.9539290869596531, rel=1e-12)
    assert limit_coefficient(200, 100) == 1  # |v₀| ≥ 2·|limit|
    assert limit_coefficient(250, 100) == 1
    assert limit_coefficient(0, 100) == 1  # 1 − 0^4.44


def test_method_1_down_and_deterioration_score():
    r = row(program(indicator({2020: {"actual": 100}, 2022: {"actual": 110}}, direction="down")))
    assert r.pace == pytest.approx(-0.04880884817015154, rel=1e-12)  # −(√1.1 − 1)
    assert r.status == "deterioration"
    assert r.score == -5.0  # 125 · (−0.0488088) − 2.5 = −8.601… clipped at −5
    r = row(program(indicator({2021: {"actual": 100}, 2022: {"actual": 101}}, direction="down")))
    assert r.pace == pytest.approx(-0.01, rel=1e-9)  # −(101/100 − 1)
    assert (r.status, r.score) == ("deterioration", pytest.approx(-3.75, rel=1e-9))  # 125 · (−0.01) − 2.5


# ---- status thresholds: every case is clearly on its side of the threshold (or exactly on it) ----


@pytest.mark.parametrize(
    "current, pace, status, score",
    [
        # base 20, target 40, all one year apart: pace = (v − 20)/20
        (39.00000002, 0.950000001, "substantial_progress", 2.5000550071429),  # 7.1429 · 0.950000001 − 4.2857
        (38.99999998, 0.949999999, "moderate_progress", 2.5000549928571),  # 7.1429 · 0.949999999 − 4.2857
        (32.00000002, 0.600000001, "moderate_progress", 0.0000400071429),  # 7.1429 · 0.600000001 − 4.2857
        (31.99999998, 0.599999999, "limited_progress", 0.0000199958333),  # 4.1667 · 0.599999999 − 2.5
        (20, 0.0, "limited_progress", -2.5),  # 4.1667 · 0 − 2.5
        (19.99999998, -0.000000001, "deterioration", -2.5000000041667),  # 4.1667 · (−1e-9) − 2.5
    ],
)
def test_status_thresholds_method_2(current, pace, status, score):
    r = row(one_year(20, current, target=40))
    assert r.pace == pytest.approx(pace, rel=1e-12, abs=1e-15)
    assert (r.status, r.status_label) == (status, STATUS_LABELS[status])
    assert r.score == pytest.approx(score, abs=1e-10)


@pytest.mark.parametrize(
    "base, current, target, pace, status, score",
    [
        # (39 − 20)/(40 − 20) = 19/20, bit-identical to the float 0.95: 7.1429 · 0.95 − 4.2857 = 2.500055
        (20, 39, 40, 0.95, "substantial_progress", 2.500055),
        # (68 − 20)/(100 − 20) = 48/80, bit-identical to the float 0.6: 7.1429 · 0.6 − 4.2857 = 0.00004
        # (the lower piece would give 4.1667 · 0.6 − 2.5 = 0.00002)
        (20, 68, 100, 0.6, "moderate_progress", 0.00004),
    ],
)
def test_status_at_the_method_2_thresholds_counts_as_reached(base, current, target, pace, status, score):
    r = row(one_year(base, current, target=target))
    assert r.pace == pace  # exactly on the threshold, so the ≥ itself is tested
    assert r.status == status
    assert r.score == pytest.approx(score, abs=1e-10)


@pytest.mark.parametrize(
    "current, pace, status, score",
    [
        # base 1000 in 2021, no target: pace = v/1000 − 1
        (1015.000001, 0.015000001, "substantial_progress", 2.5000005),  # 500 · 0.015000001 − 5
        (1014.999999, 0.014999999, "moderate_progress", 2.49999975),  # 250 · 0.014999999 − 1.25
        (1005.000001, 0.005000001, "moderate_progress", 0.00000025),  # 250 · 0.005000001 − 1.25
        (1004.999999, 0.004999999, "limited_progress", -0.0000005),  # 500 · 0.004999999 − 2.5
        (1000.000001, 0.000000001, "limited_progress", -2.4999995),  # 500 · 1e-9 − 2.5
        (1000, 0.0, "limited_progress", -2.5),  # 500 · 0 − 2.5
        (999.999999, -0.000000001, "deterioration", -2.500000125),  # 125 · (−1e-9) − 2.5
    ],
)
def test_status_thresholds_method_1(current, pace, status, score):
    r = row(one_year(1000, current))
    assert r.pace == pytest.approx(pace, rel=1e-6, abs=1e-15)
    assert (r.status, r.status_label) == (status, STATUS_LABELS[status])
    assert r.score == pytest.approx(score, abs=1e-10)


@pytest.mark.parametrize(
    "current, status, score",
    [
        # base 95 in 2021, limit 100: c = 0.203670494…, thresholds 0.015·c = 0.0030550574, 0.005·c = 0.0010183525
        (95.29023054957, "substantial_progress", 2.5000024548486),  # pace 0.015c + 1e-9: 500 · p/c − 5
        (95.29023035957, "moderate_progress", 2.4999987724786),  # pace 0.015c − 1e-9: 250 · p/c − 1.25
        (95.09674357986, "moderate_progress", 0.0000012274997),  # pace 0.005c + 1e-9: 250 · p/c − 1.25
        (95.09674338986, "limited_progress", -0.0000024548919),  # pace 0.005c − 1e-9: 500 · p/c − 2.5
        (95.000000095, "limited_progress", -2.4999975450543),  # pace 1e-9: 500 · 1e-9/c − 2.5
        (95, "limited_progress", -2.5),  # pace 0
        (94.999999905, "deterioration", -2.500000125),  # pace −1e-9: 125 · (−1e-9) − 2.5 (no c below 0)
    ],
)
def test_status_thresholds_method_1_with_limit(current, status, score):
    r = row(one_year(95, current, limit=100))
    assert (r.status, r.status_label) == (status, STATUS_LABELS[status])
    assert r.score == pytest.approx(score, abs=1e-9)


# ---- score: every piece of the piecewise-linear score, and the clipping at ±5 ----


@pytest.mark.parametrize(
    "base, current, target, target_year, pace, status, score",
    [
        # one-year spans, base 20, target 40: pace = (v − 20)/20
        (20, 36, 40, 2022, 0.8, "moderate_progress", 1.42862),  # 7.1429 · 0.8 − 4.2857
        (20, 26, 40, 2022, 0.3, "limited_progress", -1.24999),  # 4.1667 · 0.3 − 2.5
        (20, 10, 40, 2022, -0.5, "deterioration", -4.58335),  # 4.1667 · (−0.5) − 2.5
        (20, 5, 40, 2022, -0.75, "deterioration", -5.0),  # 4.1667 · (−0.75) − 2.5 = −5.625 → −5
        # target 121 two years after the base 100: CAGR_req = √1.21 − 1 = 0.1; 115 → CAGR_obs 0.15
        (100, 115, 121, 2023, 1.5, "substantial_progress", 5.0),  # 7.1429 · 1.5 − 4.2857 = 6.43 → 5
    ],
)
def test_score_method_2_every_branch(base, current, target, target_year, pace, status, score):
    observations = {2021: {"actual": base}, 2022: {"actual": current}}
    observations.setdefault(target_year, {})["target"] = target
    r = row(program(indicator(observations)))
    assert r.pace == pytest.approx(pace, rel=1e-9)
    assert r.status == status
    assert r.score == pytest.approx(score, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "current, pace, status, score",
    [
        # base 1000, one year, no target, no limit (c = 1): pace = v/1000 − 1
        (1030, 0.03, "substantial_progress", 5.0),  # 500 · 0.03 − 5 = 10 → 5
        (1018, 0.018, "substantial_progress", 4.0),  # 500 · 0.018 − 5
        (1010, 0.01, "moderate_progress", 1.25),  # 250 · 0.01 − 1.25
        (1002, 0.002, "limited_progress", -1.5),  # 500 · 0.002 − 2.5
        (990, -0.01, "deterioration", -3.75),  # 125 · (−0.01) − 2.5
        (970, -0.03, "deterioration", -5.0),  # 125 · (−0.03) − 2.5 = −6.25 → −5
    ],
)
def test_score_method_1_every_branch(current, pace, status, score):
    r = row(one_year(1000, current))
    assert r.pace == pytest.approx(pace, rel=1e-9)
    assert r.status == status
    assert r.score == pytest.approx(score, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "current, limit, status, score",
    [
        # base 95, limit 100, c = 0.2036704944377: the pace is divided by c
        (95.3325, 100, "substantial_progress", 3.5923098720374),  # p = 0.0035: 500 · 0.0035/c − 5
        (95.19, 100, "moderate_progress", 1.2049456777250),  # p = 0.002: 250 · 0.002/c − 1.25
        (95.0475, 100, "limited_progress", -1.2725271611375),  # p = 0.0005: 500 · 0.0005/c − 2.5
        (95.95, 100, "substantial_progress", 5.0),  # p = 0.01: 500 · 0.01/c − 5 = 19.5 → 5
        (94.05, 100, "deterioration", -3.75),  # p = −0.01: 125 · (−0.01) − 2.5, c plays no part
        # base 95, limit 95: c = 1 − 1^4.44 = 0
        (95.95, 95, "substantial_progress", 5.0),  # c = 0 and p ≥ 0 → 5
        (94.05, 95, "deterioration", -3.75),  # c = 0 but p < 0: 125 · (−0.01) − 2.5
    ],
)
def test_score_method_1_with_limit_every_branch(current, limit, status, score):
    r = row(one_year(95, current, limit=limit))
    assert r.status == status
    assert r.score == pytest.approx(score, rel=1e-9, abs=1e-12)


def test_thresholds_override_from_the_cycle():
    p = program(indicator({2020: {"actual": 100}, 2022: {"actual": 112}, 2030: {"target": 200}}))
    default = row(p)
    assert default.pace == pytest.approx(0.8122852425624002, rel=1e-12)  # (√1.12 − 1)/(2^0.1 − 1) = 0.0583005/0.0717735
    assert default.status == "moderate_progress"
    strict = row(p, thresholds=Thresholds(substantial=5.0, moderate=4.0))
    assert strict.status == "limited_progress"
    lenient = row(p, thresholds=Thresholds(substantial=0.8, moderate=0.5))
    assert lenient.status == "substantial_progress"
    # method 1: pace 0.02 (√1.0404 − 1) is substantial by default, moderate when the bar is 0.03
    m1 = program(indicator({2020: {"actual": 100}, 2022: {"actual": 104.04}}))
    assert row(m1).status == "substantial_progress"
    assert row(m1, thresholds=Thresholds(method1_substantial=0.03, method1_moderate=0.01)).status == "moderate_progress"


def test_overridden_thresholds_change_the_status_never_the_score():
    # docs/method.md: the score's breakpoints stay 0.6 (method 2) and 0.015·c, 0.005·c (method 1)
    p = program(indicator({2020: {"actual": 100}, 2022: {"actual": 112}, 2030: {"target": 200}}))  # pace 0.8122852
    strict = row(p, thresholds=Thresholds(substantial=5.0, moderate=4.0))
    assert strict.status == "limited_progress"
    # 7.1429 · 0.8122852426 − 4.2857 (the upper piece, as pace ≥ 0.6), not 4.1667 · 0.8122852426 − 2.5 = 0.8845
    assert strict.score == pytest.approx(1.516372259098968, rel=1e-9)
    assert strict.score == row(p).score
    m1 = program(indicator({2021: {"actual": 1000}, 2022: {"actual": 1018}}))  # pace 0.018
    raised = row(m1, thresholds=Thresholds(method1_substantial=0.03, method1_moderate=0.02))
    assert raised.status == "limited_progress"  # 0 ≤ 0.018 < 0.02
    assert raised.score == pytest.approx(4.0, rel=1e-9)  # 500 · 0.018 − 5, as with the default thresholds


def test_program_roll_up():
    def frame(rows):
        return pd.DataFrame(rows, columns=["kind", "status", "score"])

    assert program_status(frame([])) == "not_available"
    assert program_status(frame([("outcome", "not_available", float("nan"))])) == "not_available"
    assert program_status(frame([("activity", "substantial_progress", 5.0)])) == "not_available"  # activities never count
    assert program_status(frame([("outcome", "target_achieved", 5.0), ("activity", "deterioration", -5.0)])) == "target_achieved"
    assert program_status(frame([("outcome", "target_achieved", 5.0), ("outcome", "deterioration", -5.0)])) == "moderate_progress"  # mean 0
    assert program_status(frame([("outcome", "target_achieved", 5.0), ("outcome", "not_available", float("nan"))])) == "target_achieved"
    assert program_status(frame([("outcome", "x", 2.5)])) == "substantial_progress"
    assert program_status(frame([("outcome", "x", 2.4)])) == "moderate_progress"
    assert program_status(frame([("outcome", "x", -0.1)])) == "limited_progress"
    assert program_status(frame([("outcome", "x", -2.5)])) == "limited_progress"
    assert program_status(frame([("outcome", "x", -2.6)])) == "deterioration"
    assert set(STATUS_LABELS) == {"target_achieved", "substantial_progress", "moderate_progress", "limited_progress", "deterioration", "not_available"}


def test_cagr_helper():
    assert cagr(121, 100, 2022, 2020) == pytest.approx(0.1)  # √1.21 − 1
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
    if pd.isna(a) or pd.isna(b):
        return False
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_close_helper_can_say_no():
    # the property tests below rely on it: it must reject a different number, NaN against a number, other text
    assert not close(1.0, 1.1) and not close(float("nan"), 1.0) and not close(1.0, float("nan")) and not close("a", "b")


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
    # Rescaling rounds every value once (relative 1e-16), so only well-conditioned data can agree to 1e-9:
    # skip a current or final target within 0.01 % of the base (the differences v − v₀ and T − v₀ cancel)
    # and a pace within 1e-9 of a status threshold (one rounding may cross it).
    assume(abs(a.current - a.base) > 1e-4 * abs(a.base) and abs(a.target - a.base) > 1e-4 * abs(a.base))
    assume(pd.isna(a.pace) or all(abs(a.pace - threshold) > 1e-9 for threshold in (0.95, 0.6, 0.0)))
    b = row(program(indicator(scaled, direction)), 2041)
    assert not pd.isna(a.cagr_observed)  # the comparison below is between numbers, not NaN and NaN
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
