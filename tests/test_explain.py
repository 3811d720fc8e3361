"""The explanation under each badge states the thresholds that produced the status (both methods, with a limit)."""

import pytest

from evalkit.assessment import assess_indicators
from evalkit.cycle import Thresholds
from evalkit.explain import explain
from evalkit.model import Program

pytestmark = pytest.mark.unit


def measure(observations: dict, direction: str = "up", thresholds: Thresholds | None = None, **extra):
    program = Program.model_validate({"id": "p", "name": "x", "indicators": [
        {"id": "a", "name": "x", "unit": "%", "direction": direction, "observations": observations, **extra}]})
    return assess_indicators(program, 2023, thresholds=thresholds)["a"]


def test_method_1_with_a_limit_states_the_scaled_thresholds():
    # base 95 (R2), current 95.8 (R4), limit 100: c = 1 − 0.95^4.44 = 0.20367…;
    # thresholds 0.015·c = 0.0030551 (0.306 %) and 0.005·c = 0.0010184 (0.102 %);
    # pace = (95.8/95)^(1/2) − 1 = 0.0042017 (+0.42 %) ≥ 0.306 % → 順調 (unscaled it would be 遅れ)
    m = measure({2020: {"actual": 95}, 2022: {"actual": 95.8}}, limit=100)
    assert m.status == "substantial_progress"
    assert m.coefficient == pytest.approx(0.20367049443772, rel=1e-9)
    assert m.substantial_threshold == pytest.approx(0.00305505741657, rel=1e-9)
    text = explain(m)
    assert "年0.306%以上で順調、0.102%以上で概ね順調" in text
    assert "上限100%に近く" in text and "通常の基準（1.5%・0.5%）に係数0.204を掛けています" in text
    assert "+0.42%" in text and text.endswith("「順調」としました。")
    assert "1.5%以上で順調" not in text


def test_method_1_without_a_limit_states_the_plain_thresholds():
    # same series, no limit: pace 0.0042017 < 0.005 → 遅れ
    m = measure({2020: {"actual": 95}, 2022: {"actual": 95.8}})
    assert m.status == "limited_progress"
    text = explain(m)
    assert "望ましい方向（増加）に年1.5%以上で順調、0.5%以上で概ね順調、0%以上で遅れ、マイナスは悪化" in text
    assert "係数" not in text and text.endswith("「遅れ」としました。")


def test_method_1_at_the_limit_says_any_non_negative_change_is_on_track():
    # base = limit = 100: c = 1 − 1^4.44 = 0; thresholds 0, pace 0 → 順調
    m = measure({2020: {"actual": 100}, 2022: {"actual": 100}}, limit=100)
    assert (m.status, m.coefficient, m.substantial_threshold) == ("substantial_progress", 0.0, 0.0)
    assert "上限100%に達しているため" in explain(m) and "「順調」" in explain(m)


def test_method_1_down_names_the_desirable_direction():
    # down, 100 → 110 over 2 years: pace = −((1.1)^(1/2) − 1) = −0.048809 → 悪化
    m = measure({2020: {"actual": 100}, 2022: {"actual": 110}}, direction="down")
    assert m.status == "deterioration"
    assert "望ましい方向（減少）に年1.5%以上で順調" in explain(m)
    assert "+4.88%" in explain(m)


def test_method_2_states_the_pace_and_its_thresholds():
    # base 100 (R2), current 112 (R4), target 200 (R12): observed (1.12)^(1/2) − 1 = 0.058301 (+5.8 %),
    # required 2^(1/10) − 1 = 0.071773 (+7.2 %), pace 0.058301/0.071773 = 0.81229 → 概ね順調
    m = measure({2020: {"actual": 100}, 2022: {"actual": 112}, 2030: {"target": 200}})
    assert m.status == "moderate_progress"
    assert explain(m) == (
        "基準値100%（R2）から直近112%（R4）まで年平均+5.8%で推移しており、最終目標200%（R12）の達成に必要な"
        "年平均+7.2%に対して0.81倍のペースのため「概ね順調（加速が必要）」と判定しました"
        "（0.95倍以上で順調、0.6倍以上で概ね順調、0倍以上で遅れ、マイナスは悪化）。"
    )


def test_method_2_states_the_cycle_s_own_thresholds():
    # the same pace 0.81229 against thresholds 0.9 / 0.8 set by the cycle → 概ね順調, and the text says 0.9 / 0.8
    m = measure({2020: {"actual": 100}, 2022: {"actual": 112}, 2030: {"target": 200}}, thresholds=Thresholds(substantial=0.9, moderate=0.8))
    assert m.status == "moderate_progress"
    assert "（0.9倍以上で順調、0.8倍以上で概ね順調、0倍以上で遅れ、マイナスは悪化）" in explain(m)


def test_method_2_limit_does_not_scale_thresholds():
    # a limit only affects method 1: with a final target the thresholds stay 0.95 / 0.6
    m = measure({2020: {"actual": 95}, 2022: {"actual": 95.8}, 2026: {"target": 99}}, limit=100)
    assert (m.method, m.coefficient, m.substantial_threshold, m.moderate_threshold) == (2, 1.0, 0.95, 0.6)
    assert "係数" not in explain(m)


@pytest.mark.parametrize("observations, expected", [
    ({2022: {"actual": 5}, 2025: {"target": 4}}, "直近の実績5%（R4）が最終目標4%（R7）に届いているため「目標達成」と判定しました。"),
    ({2025: {"target": 4}}, "評価対象年度までの実績がないため「判定不能」としました。"),
    ({2022: {"actual": 3}, 2025: {"target": 4}}, "実績が1年度分（3%（R4））しかなく伸びを測れないため「判定不能」としました。"),
])
def test_cases_without_a_pace(observations, expected):
    assert explain(measure(observations)) == expected


@pytest.mark.parametrize("observations, limit, expected", [
    # 3 → 40 over 2 years: (40/3)^(1/2) − 1 = 2.65148 → +265.1%
    ({2020: {"actual": 3}, 2022: {"actual": 40}}, None, "+265.1%"),
    # 0 → 4: the base 0 counts as 0.001 for growth: (4/0.001)^(1/2) − 1 = 62.2456 → +6224.6%
    ({2020: {"actual": 0}, 2022: {"actual": 4}}, None, "+6224.6%"),
    # base 99.999, limit 100: c = 1 − 0.99999^4.44 = 0.0000444; 0.015·c = 0.000000666 → 0.0000666%
    ({2020: {"actual": 99.999}, 2022: {"actual": 99.9995}}, 100, "年0.0000666%以上で順調"),
])
def test_numbers_are_never_written_in_scientific_notation(observations, limit, expected):
    text = explain(measure(observations, **({"limit": limit} if limit else {})))
    assert expected in text
    assert "e+" not in text and "e-" not in text


def test_a_tiny_coefficient_is_not_written_as_zero():
    text = explain(measure({2020: {"actual": 99.999}, 2022: {"actual": 99.9995}}, limit=100))
    assert "係数0.0000444を掛けています" in text
