"""evalkit.gap.target_gaps: the yearly change still needed per remaining target, against the change so far."""

import math
from pathlib import Path

import pytest

import evalkit
from evalkit.card import build_card
from evalkit.gap import GAP_COLUMNS, target_gaps
from evalkit.model import Program

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def card(*indicators: dict, fiscal_year: int = 2023):
    program = Program.model_validate({"id": "p", "name": "x", "indicators": list(indicators)})
    return build_card(program, fiscal_year)


def indicator(id: str, observations: dict, direction: str = "up", **extra) -> dict:
    return {"id": id, "name": f"指標{id}", "unit": "人", "direction": direction, "observations": observations, **extra}


def test_seed_card_remaining_targets():
    gaps = target_gaps(evalkit.load_card("chiiki-kyosei", 2023, ROOT / "data"))
    assert list(gaps.columns) == GAP_COLUMNS
    assert list(gaps.indicator_id) == ["partners", "partners"]
    assert list(gaps.unit) == ["者", "者"]
    # current R4 (2022) 87, base R3 (2021) 65: observed (87 − 65)/(2022 − 2021) = 22 per year
    assert list(gaps.target_year) == [2023, 2026]  # R5 92, R8 102: both after the current year
    assert list(gaps.target) == [92, 102]
    assert list(gaps.years_left) == [1, 4]  # 2023 − 2022, 2026 − 2022
    assert list(gaps.observed_per_year) == [22, 22]
    assert gaps.needed_per_year[0] == 5  # (92 − 87)/1
    assert gaps.needed_per_year[1] == 3.75  # (102 − 87)/4 = 15/4
    assert gaps.ratio[0] == pytest.approx(4.4, rel=1e-12)  # 22/5
    assert gaps.ratio[1] == pytest.approx(5.866666666666666, rel=1e-12)  # 22/3.75 = 88/15


def test_down_direction_is_signed_so_that_positive_is_good():
    c = card(indicator("d", {
        2019: {"actual": 100},
        2021: {"actual": 90, "target": 85},  # a target of the current year is not remaining
        2023: {"target": 80},
        2025: {"target": 60},
    }, direction="down"), fiscal_year=2022)  # cut-off 2021
    gaps = target_gaps(c)
    assert list(gaps.target_year) == [2023, 2025]
    assert list(gaps.years_left) == [2, 4]
    # down: observed −(90 − 100)/(2021 − 2019) = 10/2 = 5 per year (a fall is good)
    assert list(gaps.observed_per_year) == [5, 5]
    # needed: −(80 − 90)/2 = 5 and −(60 − 90)/4 = 7.5
    assert list(gaps.needed_per_year) == [5, 7.5]
    assert gaps.ratio[0] == 1  # 5/5: exactly on course for 2023
    assert gaps.ratio[1] == pytest.approx(0.6666666666666666, rel=1e-12)  # 5/7.5 = 2/3


def test_worsening_gives_a_negative_observed_change_and_ratio():
    gaps = target_gaps(card(indicator("w", {2020: {"actual": 50}, 2022: {"actual": 40}, 2024: {"target": 60}})))
    assert list(gaps.observed_per_year) == [-5]  # (40 − 50)/2
    assert list(gaps.needed_per_year) == [10]  # (60 − 40)/2
    assert gaps.ratio[0] == -0.5  # −5/10


def test_target_already_met_needs_nothing_and_has_no_ratio():
    gaps = target_gaps(card(indicator("m", {2021: {"actual": 10}, 2022: {"actual": 30}, 2025: {"target": 25}})))
    assert list(gaps.needed_per_year) == [pytest.approx(-1.6666666666666667, rel=1e-12)]  # (25 − 30)/3 = −5/3
    assert list(gaps.observed_per_year) == [20]  # (30 − 10)/1
    assert math.isnan(gaps.ratio[0])  # nothing more is needed: no ratio (never a negative or infinite one)


def test_no_base_gives_needed_but_no_observed_change():
    # one actual only: base = current, no change so far can be observed
    gaps = target_gaps(card(indicator("one", {2022: {"actual": 87}, 2026: {"target": 102}})))
    assert list(gaps.needed_per_year) == [3.75]  # (102 − 87)/4
    assert math.isnan(gaps.observed_per_year[0]) and math.isnan(gaps.ratio[0])
    # a baseline after the cut-off: a current value but no base
    gaps = target_gaps(card(indicator("late", {2021: {"actual": 65}, 2022: {"actual": 87}, 2026: {"target": 102}}, baseline=2024)))
    assert list(gaps.needed_per_year) == [3.75]
    assert math.isnan(gaps.observed_per_year[0]) and math.isnan(gaps.ratio[0])


def test_no_later_target_or_no_current_gives_no_row():
    c = card(
        indicator("past", {2020: {"actual": 10, "target": 12}, 2022: {"actual": 11, "target": 14}}),  # targets ≤ 2022 only
        indicator("none", {2020: {"actual": 1}, 2022: {"actual": 2}}),  # no target at all
        indicator("empty", {2026: {"target": 5}}),  # no actual: no current value
        indicator("later", {2021: {"actual": 1}, 2022: {"actual": 2}, 2024: {"target": 4}}),
    )
    gaps = target_gaps(c)
    assert list(gaps.indicator_id) == ["later"]
    assert list(gaps.needed_per_year) == [1]  # (4 − 2)/2
    assert list(gaps.ratio) == [1]  # observed (2 − 1)/1 = 1 per year, 1/1


def test_empty_program_gives_an_empty_table_with_the_columns():
    gaps = target_gaps(card())
    assert gaps.empty and list(gaps.columns) == GAP_COLUMNS
