import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalkit import era_label, fiscal_year
from evalkit.years import era_and_western

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text, year",
    [
        (2023, 2023), ("2023", 2023), ("2023年度", 2023), ("FY2023", 2023), ("fy 2023", 2023),
        ("R5", 2023), ("R05", 2023), ("R.5", 2023), ("R 5年度", 2023), ("令和5年度", 2023),
        ("令和五年度", 2023), ("令和元年度", 2019), ("R1", 2019), ("H31", 2019), ("平成31年度", 2019),
        ("平成三十一年度", 2019), ("H30", 2018), ("平成30年度", 2018), ("H32", 2020), ("H36", 2024),
        ("S49", 1974), ("昭和49年度", 1974), ("昭和元年度", 1926), ("Ｒ５", 2023), ("２０２３年度", 2023),
        ("㋿5", 2023), ("㍻30", 2018), ("㍼49", 1974), ("r5", 2023), ("令和十年度", 2028), (" R8 ", 2026),
    ],
)
def test_every_notation_of_the_contract(text, year):
    assert fiscal_year(text) == year


@pytest.mark.parametrize("bad", ["R", "R0", "令和0年度", "S65", "X5", "2023-24", "abc", "", "R5.5", None, 3.5, True, 12, "令和五十x年度"])
def test_non_years_raise_value_error_naming_the_text(bad):
    with pytest.raises(ValueError) as info:
        fiscal_year(bad)
    assert repr(bad) in str(info.value)


def test_era_labels():
    assert era_label(2019) == "R1"
    assert era_label(2019, long=True) == "令和元年度"
    assert era_label(2018) == "H30"
    assert era_label(2023, long=True) == "令和5年度"
    assert era_label(1989, long=True) == "平成元年度"
    assert era_label(1988) == "S63"
    assert era_and_western(2023) == "令和5年度（2023年度）"


@given(st.integers(min_value=1926, max_value=2100), st.booleans())
def test_parse_of_format_is_identity(year, long):
    assert fiscal_year(era_label(year, long=long)) == year


@given(st.integers(min_value=1, max_value=80))
def test_h31_and_future_heisei_agree_with_reiwa(n):
    assert fiscal_year(f"H{30 + n}") == fiscal_year(f"R{n}")
