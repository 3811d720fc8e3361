"""docs/method.md, Costs: トータルコスト = 事業費 + 人件費, 単位コスト = total ÷ the first outcome's current actual."""

import math
from pathlib import Path

import pytest

from evalkit import assess, load_card, load_program
from evalkit.costs import cost_summary
from evalkit.model import Costs, Program

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def costs(**values) -> Costs:
    return Costs.model_validate(values)


def frame(*indicators: dict, fiscal_year: int = 2023):
    """The assessment of a program with ``indicators`` in cycle ``fiscal_year`` (cut-off one year earlier)."""
    return assess(Program.model_validate({"id": "p", "name": "x", "indicators": list(indicators)}), fiscal_year)


def indicator(id: str, observations: dict, kind: str = "outcome", unit: str = "人") -> dict:
    return {"id": id, "name": f"指標{id}", "unit": unit, "direction": "up", "kind": kind, "observations": observations}


def test_shinjo_sample_prints_total_cost_1499():
    # sheet R1 (cycle 2019): 事業費 200 + 人件費 1,299 = 1,499 千円 (the printed 費用合計 of H30)
    program = load_program(ROOT / "data/programs/shinjo-gomi-shuseki-hojo.yaml")
    summary = cost_summary(program.sheet(2019).costs, assess(program, 2019))
    assert (summary.business_cost, summary.personnel_cost) == (200, 1299)
    assert summary.total_cost == 1499
    assert (summary.unit, summary.year) == ("千円", 2018)  # 千円, H30
    # first outcome indicator 集積器具設置数, current = H30 actual 8 基: 1499/8 = 187.375
    assert summary.unit_cost == 187.375
    assert summary.per_unit == "基"
    assert summary.per_indicator == "補助金による集積器具設置数（成果指標）"


def test_shinjo_card_carries_the_same_costs():
    card = load_card("shinjo-gomi-shuseki-hojo", 2019, ROOT / "data")
    assert card.costs.total_cost == 1499
    table = card.costs.as_frame()
    assert list(table["item"]) == ["事業費", "人件費", "トータルコスト（事業費＋人件費）", "単位コスト（トータルコスト÷成果指標の実績）"]
    assert list(table["value"]) == [200, 1299, 1499, 187.375]
    assert list(table["unit"]) == ["千円", "千円", "千円", "千円／基"]


def test_no_costs_on_the_sheet_is_no_summary():
    assert cost_summary(None, frame(indicator("a", {2022: {"actual": 4}}))) is None
    # the seed prints no cost table
    assert load_card("chiiki-kyosei", 2023, ROOT / "data").costs is None


@pytest.mark.parametrize(
    "given, business, personnel",
    [({"business_cost": 200}, 200, None), ({"personnel_cost": 1299}, None, 1299), ({}, None, None),
     ({"business_cost": 200, "personnel_cost": "-"}, 200, None)],
)
def test_a_missing_part_leaves_the_total_undefined_never_zero(given, business, personnel):
    summary = cost_summary(costs(**given), frame(indicator("a", {2022: {"actual": 4}})))
    assert math.isnan(summary.total_cost)  # not 200, not 1299, not 0
    assert math.isnan(summary.unit_cost)
    # the part that is given is still shown as given, the missing one as no data
    for shown, expected in ((summary.business_cost, business), (summary.personnel_cost, personnel)):
        assert math.isnan(shown) if expected is None else shown == expected


def test_zero_parts_are_data_not_missing():
    summary = cost_summary(costs(business_cost=0, personnel_cost=0), frame(indicator("a", {2022: {"actual": 4}})))
    assert summary.total_cost == 0  # 0 + 0 is a defined total
    assert summary.unit_cost == 0  # 0/4


def test_unit_cost_is_total_over_the_current_actual_of_the_first_outcome():
    analysis = frame(
        indicator("a", {2020: {"actual": 3}, 2022: {"actual": 8}, 2023: {"actual": 1000}}, unit="件"),  # cut-off 2022: 8
        indicator("b", {2022: {"actual": 2}}),
    )
    summary = cost_summary(costs(business_cost=300, personnel_cost=700, unit="千円"), analysis)
    assert summary.total_cost == 1000  # 300 + 700
    assert summary.unit_cost == 125  # 1000/8: the 2022 actual (the 2023 one is after the cut-off)
    assert (summary.per_unit, summary.per_indicator) == ("件", "指標a")
    assert list(summary.as_frame()["unit"])[-1] == "千円／件"


def test_first_outcome_indicator_skips_activity_indicators():
    analysis = frame(
        indicator("act", {2022: {"actual": 2}}, kind="activity", unit="回"),
        indicator("out", {2022: {"actual": 5}}, unit="人"),
    )
    summary = cost_summary(costs(business_cost=600, personnel_cost=400), analysis)
    assert summary.unit_cost == 200  # 1000/5, not 1000/2
    assert (summary.per_unit, summary.per_indicator) == ("人", "指標out")


@pytest.mark.parametrize(
    "observations",
    [
        {2022: {"actual": 0}},  # zero actual: no division by zero, no infinity
        {2025: {"target": 10}},  # no actual at all
        {2023: {"actual": 7}},  # only an actual after the cut-off (2022)
        {2022: {"actual": "-"}},  # the no-data marker
    ],
)
def test_unit_cost_undefined_without_a_nonzero_current_actual(observations):
    summary = cost_summary(costs(business_cost=600, personnel_cost=400), frame(indicator("a", observations)))
    assert summary.total_cost == 1000  # 600 + 400: still defined
    assert math.isnan(summary.unit_cost)


def test_unit_cost_undefined_without_an_outcome_indicator():
    analysis = frame(indicator("act", {2022: {"actual": 2}}, kind="activity"))
    summary = cost_summary(costs(business_cost=600, personnel_cost=400), analysis)
    assert summary.total_cost == 1000
    assert math.isnan(summary.unit_cost)  # never 1000/2 from the activity indicator
    assert summary.per_unit is None and summary.per_indicator is None
    assert list(summary.as_frame()["unit"])[-1] == "千円"  # no "／unit" when there is no indicator
