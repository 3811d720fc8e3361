"""Diagnostics (indicator-method.md, "Diagnostics"): for every code of the method's table a case that
triggers it and near misses that must not, each taken from the rule's wording; then evalkit's own codes.

Unless a test says otherwise the cycle is E = 2023 (R5) with results_lag 1, so C = 2022:
the last two results years are 2021 (C−1) and 2022 (C).
"""

import re

import pytest

from evalkit.diagnostics import DIAGNOSTIC_LABELS, HEURISTIC_CODES, Diagnostic, diagnose, unreached_nodes
from evalkit.model import Program

pytestmark = pytest.mark.unit

E = 2023  # R5; C = 2022
METHOD_CODES = ("no_target", "target_already_met", "stale_actuals", "single_actual", "no_outcome_indicator",
                "unchanged_text", "logic_unreached", "logic_no_indicator", "override_differs")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def indicator(id: str = "a", *, kind: str = "outcome", direction: str = "up", observations: dict | None = None,
              name: str = "支援した人数", **extra) -> dict:
    return {"id": id, "name": name, "unit": "人", "direction": direction, "kind": kind, "source": "担当課集計",
            "observations": observations or {}, **extra}


def program(*indicators: dict, sheets: dict | None = None, logic: dict | None = None) -> Program:
    return Program.model_validate({"id": "p", "name": "テスト事業", "indicators": list(indicators), "sheets": sheets or {},
                                   **({"logic": logic} if logic else {})})


def subjects(prog: Program, code: str, fiscal_year: int = E, results_lag: int = 1) -> list[str]:
    """The subjects of the diagnostics with ``code``, in the order diagnose gives them."""
    return [d.subject for d in diagnose(prog, fiscal_year, results_lag) if d.code == code]


# ---------------------------------------------------------------- no_target: outcome indicator, no target in any year

def test_no_target_for_an_outcome_indicator_without_any_target():
    prog = program(indicator("a", observations={2021: {"actual": 10}, 2022: {"actual": 12}}))
    assert subjects(prog, "no_target") == ["a"]


@pytest.mark.parametrize("kind", ["output", "activity"])
def test_no_target_is_only_for_outcome_indicators(kind):
    prog = program(indicator("a", kind=kind, observations={2022: {"actual": 12}}))
    assert subjects(prog, "no_target") == []


@pytest.mark.parametrize("year", [2015, 2022, 2023, 2030])
def test_a_target_in_any_year_is_a_target(year):
    # before the actuals, at C, at E, far beyond C: any year counts
    prog = program(indicator("a", observations={2022: {"actual": 12}, year: {"target": 20}}))
    assert subjects(prog, "no_target") == []


def test_no_target_names_each_outcome_indicator_without_one():
    prog = program(indicator("a"), indicator("b", observations={2026: {"target": 5}}), indicator("c"),
                   indicator("d", kind="output"))
    assert subjects(prog, "no_target") == ["a", "c"]


def test_a_target_newly_set_after_e_is_no_target_in_e():
    # target of 2026 newly set (from null) in 2024: as it stood in 2023 there was none; in 2024 there is one
    prog = program(indicator("a", observations={2022: {"actual": 12}, 2026: {"target": 100}},
                             revisions=[{"year": 2026, "from": None, "to": 100, "in": 2024}]))
    assert subjects(prog, "no_target", 2023) == ["a"]
    assert subjects(prog, "no_target", 2024) == []  # a revision with in = E is this cycle's target


def test_a_target_withdrawn_after_e_still_stood_in_e():
    # target of 2026 (100) withdrawn in 2025: it stood in 2023 and 2024, not in 2025
    prog = program(indicator("a", observations={2022: {"actual": 12}},
                             revisions=[{"year": 2026, "from": 100, "to": None, "in": 2025}]))
    assert subjects(prog, "no_target", 2023) == []
    assert subjects(prog, "no_target", 2024) == []
    assert subjects(prog, "no_target", 2025) == ["a"]


# ---------------------------------------------------------------- target_already_met: τ > C and the current actual meets T

def test_target_already_met_up():
    # τ = 2025 > C = 2022; current = 2022's 80 ≥ T = 75
    prog = program(indicator("a", observations={2021: {"actual": 50}, 2022: {"actual": 80}, 2025: {"target": 75}}))
    assert subjects(prog, "target_already_met") == ["a"]


def test_target_already_met_when_the_current_actual_equals_the_target():
    # 75 ≥ 75 meets it
    prog = program(indicator("a", observations={2022: {"actual": 75}, 2025: {"target": 75}}))
    assert subjects(prog, "target_already_met") == ["a"]


def test_target_already_met_down():
    # down: 10 ≤ 12 meets it; 13 does not
    met = program(indicator("a", direction="down", observations={2022: {"actual": 10}, 2025: {"target": 12}}))
    not_met = program(indicator("a", direction="down", observations={2022: {"actual": 13}, 2025: {"target": 12}}))
    assert subjects(met, "target_already_met") == ["a"]
    assert subjects(not_met, "target_already_met") == []


@pytest.mark.parametrize("kind", ["output", "activity"])
def test_target_already_met_is_for_every_indicator(kind):
    prog = program(indicator("a", kind=kind, observations={2022: {"actual": 80}, 2025: {"target": 75}}))
    assert subjects(prog, "target_already_met") == ["a"]


def test_final_target_year_equal_to_c_does_not_trigger():
    # τ = 2022 = C: not > C (the status is simply target_achieved)
    prog = program(indicator("a", observations={2021: {"actual": 50}, 2022: {"actual": 80, "target": 75}}))
    assert subjects(prog, "target_already_met") == []


def test_final_target_year_before_c_does_not_trigger():
    prog = program(indicator("a", observations={2020: {"target": 75}, 2022: {"actual": 80}}))
    assert subjects(prog, "target_already_met") == []


def test_final_target_year_equal_to_e_triggers():
    # τ = 2023 = E > C = 2022
    prog = program(indicator("a", observations={2022: {"actual": 80}, 2023: {"target": 75}}))
    assert subjects(prog, "target_already_met") == ["a"]


def test_not_met_does_not_trigger():
    prog = program(indicator("a", observations={2022: {"actual": 70}, 2025: {"target": 75}}))
    assert subjects(prog, "target_already_met") == []


def test_an_interim_target_met_is_not_the_final_target_met():
    # interim 2023: 60 is met by 80, but the final target is 2026's 100: 80 < 100
    prog = program(indicator("a", observations={2022: {"actual": 80}, 2023: {"target": 60}, 2026: {"target": 100}}))
    assert subjects(prog, "target_already_met") == []


def test_the_current_actual_is_the_latest_up_to_c():
    # 2021's 80 met 75, but the current actual is 2022's 70; 2023's 90 is after C and ignored
    prog = program(indicator("a", observations={2021: {"actual": 80}, 2022: {"actual": 70}, 2023: {"actual": 90},
                                                2025: {"target": 75}}))
    assert subjects(prog, "target_already_met") == []


def test_the_current_actual_is_never_before_the_break():
    # break 2022: 2021's 80 is not used, so there is no current actual
    prog = program(indicator("a", observations={2021: {"actual": 80}, 2025: {"target": 75}}, breaks=[{"year": 2022, "note": "変更"}]))
    assert subjects(prog, "target_already_met") == []


def test_no_actual_up_to_c_does_not_trigger():
    # the only actual (2023) is after C
    prog = program(indicator("a", observations={2023: {"actual": 90}, 2025: {"target": 75}}))
    assert subjects(prog, "target_already_met") == []


def test_target_already_met_uses_the_target_as_it_stood_in_e():
    # 2026's target was 100 until it was raised to 120 in 2024; current 2022: 110
    prog = program(indicator("a", observations={2022: {"actual": 110}, 2026: {"target": 120}},
                             revisions=[{"year": 2026, "from": 100, "to": 120, "in": 2024}]))
    assert subjects(prog, "target_already_met", 2023) == ["a"]  # 110 ≥ 100 as it stood in 2023
    assert subjects(prog, "target_already_met", 2024) == []  # C = 2023, current still 110 < 120


def test_a_final_target_withdrawn_after_e_is_still_final_in_e():
    # in 2023 the targets were 2023: 50 and 2026: 100 (withdrawn in 2025): τ = 2026, 60 < 100
    prog = program(indicator("a", observations={2022: {"actual": 60}, 2023: {"target": 50}},
                             revisions=[{"year": 2026, "from": 100, "to": None, "in": 2025}]))
    assert subjects(prog, "target_already_met", 2023) == []


# ---------------------------------------------------------------- stale_actuals: used actuals, none in C−1 or C

def test_stale_actuals_when_the_latest_used_actual_is_before_c_minus_1():
    prog = program(indicator("a", observations={2019: {"actual": 1}, 2020: {"actual": 2}}))
    assert subjects(prog, "stale_actuals") == ["a"]


@pytest.mark.parametrize("year", [2021, 2022])
def test_an_actual_in_c_minus_1_or_c_is_not_stale(year):
    prog = program(indicator("a", observations={2019: {"actual": 1}, year: {"actual": 2}}))
    assert subjects(prog, "stale_actuals") == []


def test_no_actuals_are_not_stale():
    assert subjects(program(indicator("a", observations={2025: {"target": 5}})), "stale_actuals") == []


def test_actuals_after_c_do_not_count():
    # 2023 is after C: used = {2020} -> stale; with only 2023 nothing is used -> not stale
    assert subjects(program(indicator("a", observations={2020: {"actual": 1}, 2023: {"actual": 2}})), "stale_actuals") == ["a"]
    assert subjects(program(indicator("a", observations={2023: {"actual": 2}})), "stale_actuals") == []


def test_a_null_actual_in_c_is_no_actual():
    prog = program(indicator("a", observations={2020: {"actual": 1}, 2022: {"actual": None, "target": 3}}))
    assert subjects(prog, "stale_actuals") == ["a"]


def test_actuals_before_the_break_are_not_used():
    # break in 2021: 2018 and 2019 are shown but not used -> nothing used -> not stale
    prog = program(indicator("a", observations={2018: {"actual": 1}, 2019: {"actual": 2}},
                             breaks=[{"year": 2021, "note": "集計方法を変更"}]))
    assert subjects(prog, "stale_actuals") == []


def test_actuals_from_the_break_on_are_used():
    # break in 2019: 2018 not used, 2020 used and not in 2021/2022 -> stale
    prog = program(indicator("a", observations={2018: {"actual": 1}, 2020: {"actual": 2}},
                             breaks=[{"year": 2019, "note": "集計方法を変更"}]))
    assert subjects(prog, "stale_actuals") == ["a"]


def test_a_break_after_c_is_ignored():
    # break in 2023 > C: 2020 is used -> stale
    prog = program(indicator("a", observations={2020: {"actual": 2}}, breaks=[{"year": 2023, "note": "変更"}]))
    assert subjects(prog, "stale_actuals") == ["a"]


def test_stale_actuals_follows_the_results_lag():
    # lag 2: C = 2021, C−1 = 2020 holds an actual -> not stale; lag 1: C−1 = 2021, C = 2022 -> stale
    prog = program(indicator("a", observations={2020: {"actual": 2}}))
    assert subjects(prog, "stale_actuals", E, results_lag=2) == []
    assert subjects(prog, "stale_actuals", E, results_lag=1) == ["a"]


@pytest.mark.parametrize("kind", ["outcome", "output", "activity"])
def test_stale_actuals_is_for_every_indicator(kind):
    prog = program(indicator("a", kind=kind, observations={2020: {"actual": 2}}))
    assert subjects(prog, "stale_actuals") == ["a"]


# ---------------------------------------------------------------- single_actual: exactly one used actual

def test_single_actual():
    prog = program(indicator("a", observations={2022: {"actual": 5}, 2026: {"target": 9}}))
    assert subjects(prog, "single_actual") == ["a"]


@pytest.mark.parametrize("observations", [{}, {2021: {"actual": 4}, 2022: {"actual": 5}}, {2025: {"target": 9}}])
def test_none_or_two_actuals_are_not_single(observations):
    assert subjects(program(indicator("a", observations=observations)), "single_actual") == []


def test_single_actual_counts_only_actuals_up_to_c():
    # 2023 and 2024 are after C: one used actual
    prog = program(indicator("a", observations={2022: {"actual": 5}, 2023: {"actual": 6}, 2024: {"actual": 7}}))
    assert subjects(prog, "single_actual") == ["a"]


def test_single_actual_counts_only_actuals_from_the_break_on():
    # break 2021: 2019 and 2020 not used, 2022 used -> exactly one
    prog = program(indicator("a", observations={2019: {"actual": 3}, 2020: {"actual": 4}, 2022: {"actual": 5}},
                             breaks=[{"year": 2021, "note": "定義を変更"}]))
    assert subjects(prog, "single_actual") == ["a"]


def test_a_null_actual_is_not_an_actual():
    prog = program(indicator("a", observations={2021: {"actual": None}, 2022: {"actual": 5}}))
    assert subjects(prog, "single_actual") == ["a"]


def test_single_actual_follows_the_results_lag():
    # lag 2: C = 2021, only 2021 used -> single; lag 1: 2021 and 2022 -> not
    prog = program(indicator("a", observations={2021: {"actual": 4}, 2022: {"actual": 5}}))
    assert subjects(prog, "single_actual", E, results_lag=2) == ["a"]
    assert subjects(prog, "single_actual", E, results_lag=1) == []


# ---------------------------------------------------------------- no_outcome_indicator: program

def test_no_outcome_indicator_without_indicators():
    assert subjects(program(), "no_outcome_indicator") == ["p"]


def test_no_outcome_indicator_when_every_indicator_is_output_or_activity():
    prog = program(indicator("a", kind="output"), indicator("b", kind="activity"))
    assert subjects(prog, "no_outcome_indicator") == ["p"]


def test_one_outcome_indicator_is_enough():
    prog = program(indicator("a", kind="output"), indicator("b", kind="outcome"))
    assert subjects(prog, "no_outcome_indicator") == []


def test_outcome_is_the_default_kind():
    prog = Program.model_validate({"id": "p", "name": "事業", "indicators": [{"id": "a", "name": "x", "unit": "人", "direction": "up"}]})
    assert subjects(prog, "no_outcome_indicator") == []


# ---------------------------------------------------------------- unchanged_text: per section, against the latest earlier sheet

SECTION_TEXT = {
    "episodes": ["令和3年度に事業を開始", "令和4年度に相談窓口を設置"],
    "activities_last_year": ["関係者会議を12回開催"],
    "status_comment": "目標に向けて概ね順調に進んでいます。",
    "improvement_points": ["アウトリーチの強化"],
    "plan": ["令和6年度までに全地区へ展開"],
}


@pytest.mark.parametrize("section", list(SECTION_TEXT))
def test_unchanged_text_for_each_section(section):
    prog = program(sheets={"R4": {section: SECTION_TEXT[section]}, "R5": {section: SECTION_TEXT[section]}})
    assert subjects(prog, "unchanged_text") == [section]


@pytest.mark.parametrize("section", list(SECTION_TEXT))
def test_changed_text_does_not_trigger(section):
    value = SECTION_TEXT[section]
    changed = value + "。" if isinstance(value, str) else [*value[:-1], value[-1] + "を予定"]
    prog = program(sheets={"R4": {section: value}, "R5": {section: changed}})
    assert subjects(prog, "unchanged_text") == []


def test_every_unchanged_section_is_one_diagnostic():
    prog = program(sheets={"R4": dict(SECTION_TEXT), "R5": dict(SECTION_TEXT)})
    assert sorted(subjects(prog, "unchanged_text")) == sorted(SECTION_TEXT)  # five, one each


@pytest.mark.parametrize(
    ("previous", "now"),
    [
        ("関係者と連携しました。", "関係者と　連携しました。"),  # U+3000 ideographic space
        ("関係者と 連携しました。", "関係者と連携\nしました。\n"),  # ASCII space, newline
        ("関係者と連携しました。", "\t関係者と\u00a0連携しました。\u2003"),  # tab, no-break space, em space
        ("  関係者と\r\n連携しました。", "関係者と連携しました。　　"),
    ],
)
def test_whitespace_is_ignored(previous, now):
    prog = program(sheets={"R4": {"status_comment": previous}, "R5": {"status_comment": now}})
    assert subjects(prog, "unchanged_text") == ["status_comment"]


# every character of Unicode's White_Space property (U+3000 among them)
UNICODE_WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"


@pytest.mark.parametrize("space", list(UNICODE_WHITESPACE), ids=lambda c: f"U+{ord(c):04X}")
def test_every_unicode_whitespace_is_ignored(space):
    prog = program(sheets={"R4": {"improvement_points": ["周知の強化"]}, "R5": {"improvement_points": [f"周知の{space}強化{space}"]}})
    assert subjects(prog, "unchanged_text") == ["improvement_points"]


def test_a_visible_character_is_not_whitespace():
    # U+30FB (katakana middle dot) and U+200B (zero width space, not White_Space) are text
    for extra in ("・", "\u200b"):
        prog = program(sheets={"R4": {"status_comment": "周知の強化"}, "R5": {"status_comment": f"周知の{extra}強化"}})
        assert subjects(prog, "unchanged_text") == [], extra


def test_a_lists_items_are_joined_before_comparing():
    # "関係者と" + "連携" and "関係者と連携": the same text once joined and stripped of whitespace
    prog = program(sheets={"R4": {"episodes": ["関係者と", "連携"]}, "R5": {"episodes": ["関係者と連携"]}})
    assert subjects(prog, "unchanged_text") == ["episodes"]


def test_the_same_items_in_another_order_are_changed_text():
    prog = program(sheets={"R4": {"plan": ["一", "二"]}, "R5": {"plan": ["二", "一"]}})
    assert subjects(prog, "unchanged_text") == []


@pytest.mark.parametrize(
    ("previous", "now"),
    [
        ({}, {}),  # neither sheet has the section
        ({"episodes": []}, {"episodes": []}),
        ({"episodes": ["　", " "]}, {"episodes": ["\u3000\n"]}),  # only whitespace: empty once removed
        ({"status_comment": "　"}, {"status_comment": " \n"}),
        ({"status_comment": ""}, {"status_comment": ""}),
    ],
)
def test_empty_text_never_triggers(previous, now):
    assert subjects(program(sheets={"R4": previous, "R5": now}), "unchanged_text") == []


def test_the_previous_sheet_is_the_latest_earlier_one():
    # R3 and R5 agree, but R4 (the latest earlier sheet) differs
    prog = program(sheets={"R3": {"status_comment": "同じ"}, "R4": {"status_comment": "違う"}, "R5": {"status_comment": "同じ"}})
    assert subjects(prog, "unchanged_text") == []


def test_the_previous_sheet_may_be_more_than_a_year_earlier():
    # no R4 sheet: R3 is the latest earlier sheet key
    prog = program(sheets={"R3": {"status_comment": "同じ"}, "R5": {"status_comment": "同じ"}})
    assert subjects(prog, "unchanged_text") == ["status_comment"]


def test_an_empty_previous_sheet_is_still_the_previous_sheet():
    # R4 exists but says nothing: R5's text differs from it (R3 is not looked at)
    prog = program(sheets={"R3": {"status_comment": "同じ"}, "R4": {}, "R5": {"status_comment": "同じ"}})
    assert subjects(prog, "unchanged_text") == []


def test_a_later_sheet_is_never_the_previous_one():
    prog = program(sheets={"R5": {"status_comment": "同じ"}, "R6": {"status_comment": "同じ"}})
    assert subjects(prog, "unchanged_text", 2023) == []
    assert subjects(prog, "unchanged_text", 2024) == ["status_comment"]


def test_only_the_cycles_own_sheet_is_checked():
    # R3 and R4 agree; the cycle is R5 and its sheet differs
    prog = program(sheets={"R3": {"plan": ["同じ"]}, "R4": {"plan": ["同じ"]}, "R5": {"plan": ["新しい"]}})
    assert subjects(prog, "unchanged_text") == []


def test_no_earlier_sheet_no_unchanged_text():
    assert subjects(program(sheets={"R5": dict(SECTION_TEXT)}), "unchanged_text") == []


@pytest.mark.parametrize(("key", "value"), [("summary", "同じです。"), ("questions", ["同じ質問"]), ("staff_note", "同じ"),
                                            ("external_comments", ["同じ"]), ("responses", ["同じ"])])
def test_other_sections_are_not_compared(key, value):
    assert subjects(program(sheets={"R4": {key: value}, "R5": {key: value}}), "unchanged_text") == []


# ---------------------------------------------------------------- logic_unreached and logic_no_indicator

INDICATORS = (indicator("o", kind="output"), indicator("s"), indicator("m"), indicator("l"))


def node(id: str, level: str, *indicators: str) -> dict:
    return {"id": id, "level": level, "text": f"{id}の説明", "indicators": list(indicators)}


GRAPH = {
    "nodes": [
        node("a1", "activity"), node("o1", "output", "o"), node("s1", "short", "s"), node("m1", "mid", "m"), node("l1", "long", "l"),
        node("a2", "activity"), node("s2", "short", "s"),  # a2 -> s2, a dead end
        node("a3", "activity"),  # no link at all
        node("o2", "output"), node("f1", "final"),  # o2 -> f1 directly
        node("a4", "activity"), node("o3", "output"),  # a4 -> o3 -> s2, a dead end two links on
        node("a5", "activity"), node("m2", "mid", "m"),  # a5 -> m2: mid only, never long or final
        node("a6", "activity"),  # a6 -> o1: reaches long1 through o1, s1, m1
    ],
    "links": [["a1", "o1"], ["o1", "s1"], ["s1", "m1"], ["m1", "l1"], ["a2", "s2"], ["o2", "f1"], ["a4", "o3"], ["o3", "s2"],
              ["a5", "m2"], ["a6", "o1"]],
}


def test_logic_unreached_nodes():
    # reach long/final: a1 (4 links), o1, o2 (1 link to final), a6 (through o1); the others do not
    prog = program(*INDICATORS, logic=GRAPH)
    assert subjects(prog, "logic_unreached") == ["a2", "a3", "a4", "o3", "a5"]
    assert unreached_nodes(prog) == ["a2", "a3", "a4", "o3", "a5"]


def test_only_activity_and_output_nodes_can_be_unreached():
    # s2 and m2 reach nothing either, but they are outcomes; an isolated final node is the goal itself
    prog = program(*INDICATORS, logic={"nodes": [node("s", "short", "s"), node("m", "mid", "m"), node("l", "long", "l"), node("f", "final")]})
    assert subjects(prog, "logic_unreached") == []


def test_a_path_ending_at_long_or_final_reaches():
    logic = {"nodes": [node("a", "activity"), node("o", "output", "o"), node("l", "long", "l"), node("f", "final")],
             "links": [["a", "l"], ["o", "f"]]}
    assert subjects(program(*INDICATORS, logic=logic), "logic_unreached") == []


def test_a_path_follows_the_links_direction():
    # a -> s <- b -> l: a and l are connected only against the direction of b -> s, so a reaches no long node
    logic = {"nodes": [node("a", "activity"), node("b", "activity"), node("s", "short", "s"), node("l", "long", "l")],
             "links": [["a", "s"], ["b", "s"], ["b", "l"]]}
    assert subjects(program(*INDICATORS, logic=logic), "logic_unreached") == ["a"]
    # with s -> l, a reaches l through s
    logic["links"].append(["s", "l"])
    assert subjects(program(*INDICATORS, logic=logic), "logic_unreached") == []


def test_no_logic_no_logic_diagnostics():
    prog = program(*INDICATORS)
    assert subjects(prog, "logic_unreached") == [] and subjects(prog, "logic_no_indicator") == []
    assert unreached_nodes(prog) == []


def test_logic_no_indicator_for_short_mid_and_long_nodes():
    logic = {"nodes": [node("a", "activity"), node("o", "output"), node("s", "short"), node("m", "mid"), node("l", "long"),
                       node("f", "final"), node("s2", "short", "s"), node("m2", "mid", "m"), node("l2", "long", "l")]}
    # a, o and f have no indicator but are not short/mid/long; s2, m2, l2 have one
    assert subjects(program(*INDICATORS, logic=logic), "logic_no_indicator") == ["s", "m", "l"]


def test_an_output_indicator_is_an_indicator_of_the_node():
    # any indicator of the file counts, whatever its kind
    logic = {"nodes": [node("s", "short", "o")]}
    assert subjects(program(*INDICATORS, logic=logic), "logic_no_indicator") == []


# ---------------------------------------------------------------- override_differs

# a: 2022's 100 ≥ the target 90 of 2022 -> target_achieved.  b: one actual, no target -> not_available.
OVERRIDE_INDICATORS = (
    indicator("a", observations={2021: {"actual": 80}, 2022: {"actual": 100, "target": 90}}),
    indicator("b", observations={2022: {"actual": 5}}),
)


def overrides(*pairs: tuple[str, str], year: str = "R5") -> Program:
    return program(*OVERRIDE_INDICATORS, sheets={year: {"overrides": [
        {"indicator": i, "status": s, "reason": "担当課の判断"} for i, s in pairs]}})


def test_override_differs():
    prog = overrides(("a", "moderate_progress"), ("b", "limited_progress"))
    assert subjects(prog, "override_differs") == ["a", "b"]


def test_an_override_equal_to_the_computed_status_does_not_trigger():
    prog = overrides(("a", "target_achieved"), ("b", "not_available"))
    assert subjects(prog, "override_differs") == []


def test_only_overrides_of_the_cycles_sheet_count():
    prog = program(*OVERRIDE_INDICATORS, sheets={
        "R4": {"overrides": [{"indicator": "a", "status": "deterioration", "reason": "昨年度の判断"}]},
        "R5": {"overrides": [{"indicator": "a", "status": "target_achieved", "reason": "今年度の判断"}]},
    })
    assert subjects(prog, "override_differs", 2023) == []


def test_the_computed_status_uses_the_targets_as_of_e():
    # 2022's target was 90 until raised to 120 in 2024: in 2023, 100 ≥ 90 is target_achieved, so the override agrees
    ind = indicator("a", observations={2021: {"actual": 80}, 2022: {"actual": 100, "target": 120}},
                    revisions=[{"year": 2022, "from": 90, "to": 120, "in": 2024}])
    prog = program(ind, sheets={"R5": {"overrides": [{"indicator": "a", "status": "target_achieved", "reason": "達成"}]}})
    assert subjects(prog, "override_differs", 2023) == []


# ---------------------------------------------------------------- evalkit's own: outcome_counts_activities, no_source

def test_outcome_counts_activities_is_a_heuristic():
    prog = program(indicator("a", name="講座の開催回数"), indicator("b", name="参加者の満足度"),
                   indicator("c", name="講座の開催回数", kind="output"))
    found = [d for d in diagnose(prog, E) if d.code == "outcome_counts_activities"]
    assert [d.subject for d in found] == ["a"]  # only an outcome indicator named by a count of activities
    assert found[0].heuristic is True
    assert "outcome_counts_activities" in HEURISTIC_CODES


def test_the_methods_codes_are_rules_not_heuristics():
    assert not set(METHOD_CODES) & HEURISTIC_CODES
    assert "no_source" not in HEURISTIC_CODES


def test_no_source():
    no_source = indicator("a")
    del no_source["source"]
    output = indicator("c", kind="output")
    del output["source"]
    prog = program(no_source, indicator("b"), output)
    found = [d for d in diagnose(prog, E) if d.code == "no_source"]
    assert [d.subject for d in found] == ["a"]  # an outcome indicator's source only (c is an output indicator)
    assert found[0].heuristic is False


# ---------------------------------------------------------------- every code, with a Japanese message

def everything() -> Program:
    """One program that triggers every code at least once in R5."""
    no_source = indicator("counts", name="教室の開催回数", observations={2019: {"actual": 3}})  # single + stale + no target
    del no_source["source"]
    return program(
        no_source,
        indicator("met", kind="output", observations={2021: {"actual": 8}, 2022: {"actual": 9}, 2025: {"target": 5}}),
        sheets={"R4": {"plan": ["同じ計画"]},
                "R5": {"plan": ["同じ計画"], "overrides": [{"indicator": "met", "status": "deterioration", "reason": "理由"}]}},
        logic={"nodes": [node("act", "activity", "counts"), node("mid", "mid")], "links": [["act", "mid"]]},
    )


def test_every_code_can_be_triggered_and_says_what_to_fix_in_japanese():
    found = diagnose(everything(), E)
    pairs = sorted({(d.code, d.subject) for d in found})
    assert pairs == sorted([
        ("no_target", "counts"), ("single_actual", "counts"), ("stale_actuals", "counts"), ("no_source", "counts"),
        ("outcome_counts_activities", "counts"), ("target_already_met", "met"), ("override_differs", "met"),
        ("unchanged_text", "plan"), ("logic_unreached", "act"), ("logic_no_indicator", "mid"),
    ])
    # no_outcome_indicator needs a program without one
    found += diagnose(program(indicator("x", kind="activity")), E)
    assert {d.code for d in found} == set(DIAGNOSTIC_LABELS) == {*METHOD_CODES, "outcome_counts_activities", "no_source"}
    for d in found:
        assert isinstance(d, Diagnostic)
        assert d.message.strip() and JAPANESE.search(d.message), d
        assert d.label and JAPANESE.search(d.label), d
