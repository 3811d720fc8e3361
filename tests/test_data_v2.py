"""program-format.md, "Version 2 additions": what loads, and the message for each invalid case.

Every problem is one line naming the file, the key path and what was expected; several problems
of one file are reported together; every version-1 sample still loads.
"""

import copy
import datetime
from pathlib import Path

import pytest
import yaml

from evalkit import ProgramDataError, load_program
from evalkit.card import check_conclusions
from evalkit.cycle import Cycle
from evalkit.loader import load_cycle
from evalkit.model import DEFAULT_CONCLUSIONS, Program

pytestmark = pytest.mark.unit

# A version-2 file using every new key once.
GOOD = {
    "id": "p",
    "name": "テスト事業",
    "indicators": [
        {
            "id": "a", "name": "支援者数", "unit": "者", "direction": "up", "kind": "outcome",
            "source": "支援プラン記載の関係者数", "target_rationale": "実績の伸びから",
            "observations": {"R3": {"actual": 65}, "R4": {"actual": 87}, "R8": {"target": 120}},
            "revisions": [
                {"year": "R8", "from": 100, "to": 110, "in": "R4", "reason": "上方修正"},
                {"year": "R8", "from": 110, "to": 120, "in": "R6"},
            ],
            "breaks": [{"year": "R3", "note": "集計方法を変更"}],
        },
        {"id": "b", "name": "開催回数", "unit": "回", "direction": "up", "kind": "output",
         "observations": {"R4": {"actual": 12}}},
    ],
    "sheets": {
        "R5": {
            "summary": "関係者の輪は広がっています。",
            "costs": {"year": "R4", "business_cost": 100, "personnel_cost": 50, "budget": 150, "settled": 140, "fte": 1.6},
            "overrides": [{"indicator": "a", "status": "moderate_progress", "reason": "質の面で課題"}],
            "external_evaluation": {
                "held": datetime.date(2023, 8, 20),
                "by": ["行政評価委員会"],
                "conclusion": "一部改善",
                "findings": [
                    {"id": "f1", "about": "a", "text": "指標を検討すること", "response": "試行します", "status": "open"},
                    {"id": "f2", "about": "costs", "text": "費用を示すこと"},
                ],
            },
        },
        "R6": {"finding_updates": [{"id": "f1", "status": "addressed", "note": "R6から指標に追加"}]},
    },
}


def data(**changes) -> dict:
    """A deep copy of GOOD; ``changes`` maps a dotted path (list indexes as numbers) to a new value, None deletes."""
    out = copy.deepcopy(GOOD)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = out
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        key = int(last) if last.isdigit() else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value
    return out


DELETE = object()


def dump(value: dict) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


def problems(write_program, value: dict) -> tuple[Path, ProgramDataError]:
    path = write_program(dump(value))
    with pytest.raises(ProgramDataError) as caught:
        load_program(path)
    return path, caught.value


def assert_problem(write_program, value: dict, key: str, *parts: str) -> ProgramDataError:
    """The file fails with a problem at ``key`` whose message holds every one of ``parts``, on its own line."""
    path, error = problems(write_program, value)
    messages = [m for k, m in error.problems if k == key]
    assert messages, f"no problem at {key!r}: {error.problems}"
    assert any(all(p in m for p in parts) for m in messages), messages
    lines = str(error).splitlines()
    assert any(line.startswith(f"{path}: {key}: ") and all(p in line for p in parts) for line in lines), lines
    return error


def test_a_version_2_file_loads(write_program):
    program = load_program(write_program(dump(GOOD)))
    a, b = program.indicators
    assert (a.kind, b.kind) == ("outcome", "output")
    assert (a.source, a.target_rationale) == ("支援プラン記載の関係者数", "実績の伸びから")
    assert [(r.year, r.from_, r.to, r.in_, r.reason) for r in a.revisions] == [(2026, 100, 110, 2022, "上方修正"), (2026, 110, 120, 2024, None)]
    assert [(k.year, k.note) for k in a.breaks] == [(2021, "集計方法を変更")]
    sheet = program.sheets[2023]
    assert sheet.summary == "関係者の輪は広がっています。"
    assert (sheet.costs.budget, sheet.costs.settled, sheet.costs.fte) == (150, 140, 1.6)
    assert [(o.indicator, o.status, o.reason) for o in sheet.overrides] == [("a", "moderate_progress", "質の面で課題")]
    ev = sheet.external_evaluation
    assert (ev.held, ev.by, ev.conclusion) == (datetime.date(2023, 8, 20), ["行政評価委員会"], "一部改善")
    assert [(f.id, f.about, f.status) for f in ev.findings] == [("f1", "a", "open"), ("f2", "costs", "open")]  # open by default
    assert [(u.id, u.status) for u in program.sheets[2024].finding_updates] == [("f1", "addressed")]


def test_a_revision_chain_is_checked_in_order_of_in_whatever_the_list_order(write_program):
    reversed_order = data(indicators__0__revisions=list(reversed(GOOD["indicators"][0]["revisions"])))
    assert load_program(write_program(dump(reversed_order))).indicators[0].revisions[0].in_ == 2024


def test_a_new_and_a_withdrawn_target_load(write_program):
    value = data(indicators__0__revisions=[
        {"year": "R8", "from": None, "to": 120, "in": "R5"},  # newly set; observations hold 120
        {"year": "R9", "from": 130, "to": None, "in": "R5"},  # withdrawn; observations hold none for R9
    ])
    revisions = load_program(write_program(dump(value))).indicators[0].revisions
    assert [(r.from_, r.to) for r in revisions] == [(None, 120), (130, None)]


# ---------------------------------------------------------------- revisions

def test_two_revisions_of_one_target_year_with_the_same_in(write_program):
    value = data(indicators__0__revisions=[
        {"year": "R8", "from": 100, "to": 110, "in": "R5"},
        {"year": "R8", "from": 110, "to": 120, "in": "令和5年度"},  # the same year, written otherwise
    ])
    assert_problem(write_program, value, "indicators[0].revisions[1].in",
                   "2023 is also the `in` of revisions[0] for the same target year")


def test_same_in_for_different_target_years_is_fine(write_program):
    value = data(indicators__0__observations={"R3": {"actual": 65}, "R7": {"target": 115}, "R8": {"target": 120}},
                 indicators__0__revisions=[{"year": "R8", "from": 100, "to": 120, "in": "R5"},
                                           {"year": "R7", "from": 105, "to": 115, "in": "R5"}])
    assert len(load_program(write_program(dump(value))).indicators[0].revisions) == 2


def test_a_broken_chain(write_program):
    value = data(indicators__0__revisions__1__from=105)  # R4's revision ended at 110
    assert_problem(write_program, value, "indicators[0].revisions[1].from",
                   "expected 110 (the `to` of the revision made in 2022), got 105")


def test_a_chain_broken_by_a_null(write_program):
    value = data(indicators__0__revisions__1__from=None)
    assert_problem(write_program, value, "indicators[0].revisions[1].from",
                   "expected 110 (the `to` of the revision made in 2022), got null")


def test_the_last_to_must_be_the_target_observations_hold(write_program):
    value = data(indicators__0__revisions__1__to=125)
    assert_problem(write_program, value, "indicators[0].revisions[1].to",
                   "expected 120 (the target that observations hold for 2026), got 125")


def test_the_last_to_null_while_observations_hold_a_target(write_program):
    value = data(indicators__0__revisions__1__to=None)
    assert_problem(write_program, value, "indicators[0].revisions[1].to",
                   "expected 120 (the target that observations hold for 2026), got null")


def test_the_last_to_a_value_while_observations_hold_none(write_program):
    value = data(indicators__0__revisions=[{"year": "R9", "from": 100, "to": 130, "in": "R5"}])
    assert_problem(write_program, value, "indicators[0].revisions[0].to",
                   "expected null (the target that observations hold for 2027), got 130")


@pytest.mark.parametrize(
    "field, bad, expected",
    [
        ("year", "someday", "expected a fiscal year"),
        ("in", "次回", "expected a fiscal year"),
        ("in", DELETE, "required key missing"),
        ("year", DELETE, "required key missing"),
        ("from", "many", "expected a number"),
        ("form", 100, "unknown key"),  # a typo
    ],
)
def test_bad_revision_fields(write_program, field, bad, expected):
    value = data(**{f"indicators__0__revisions__0__{field}": bad})
    assert_problem(write_program, value, f"indicators[0].revisions[0].{field}", expected)


# ---------------------------------------------------------------- breaks and kind

def test_a_break_needs_a_note(write_program):
    assert_problem(write_program, data(indicators__0__breaks=[{"year": "R3"}]), "indicators[0].breaks[0].note", "required key missing")


def test_a_break_year_must_be_a_year(write_program):
    value = data(indicators__0__breaks=[{"year": "いつか", "note": "x"}])
    assert_problem(write_program, value, "indicators[0].breaks[0].year", "expected a fiscal year", "'いつか'")


@pytest.mark.parametrize("kind", ["output", "activity", "outcome"])
def test_every_kind_loads(write_program, kind):
    assert load_program(write_program(dump(data(indicators__1__kind=kind)))).indicators[1].kind == kind


def test_a_kind_outside_the_three(write_program):
    assert_problem(write_program, data(indicators__1__kind="result"), "indicators[1].kind",
                   "outcome", "output", "activity", "got 'result'")


# ---------------------------------------------------------------- overrides

def test_an_override_of_an_unknown_indicator(write_program):
    value = data(sheets__R5__overrides=[{"indicator": "zzz", "status": "moderate_progress", "reason": "x"}])
    assert_problem(write_program, value, "sheets.R5.overrides[0].indicator",
                   "expected an indicator id of this file (a, b), got 'zzz'")


def test_an_override_with_a_bad_status(write_program):
    value = data(sheets__R5__overrides=[{"indicator": "a", "status": "good", "reason": "x"}])
    assert_problem(write_program, value, "sheets.R5.overrides[0].status", "got 'good'", "target_achieved", "substantial_progress",
                   "moderate_progress", "limited_progress", "deterioration", "not_available")


def test_an_override_needs_a_reason(write_program):
    value = data(sheets__R5__overrides=[{"indicator": "a", "status": "deterioration"}])
    assert_problem(write_program, value, "sheets.R5.overrides[0].reason", "required key missing")


# ---------------------------------------------------------------- external evaluation

def test_a_finding_status_outside_the_four(write_program):
    value = data(sheets__R5__external_evaluation__findings__0__status="done")
    assert_problem(write_program, value, "sheets.R5.external_evaluation.findings[0].status",
                   "open", "in_progress", "addressed", "declined", "got 'done'")


def test_a_finding_status_message_is_the_specs_example_line(write_program):
    path, error = problems(write_program, data(sheets__R5__external_evaluation__findings__0__status="done"))
    assert (f"{path}: sheets.R5.external_evaluation.findings[0].status: "
            "expected one of open, in_progress, addressed, declined, got 'done'") in str(error).splitlines()


@pytest.mark.parametrize("about", ["a", "b", "purpose", "indicators", "costs", "directions", "plan", "other"])
def test_what_a_finding_may_be_about(write_program, about):
    value = data(sheets__R5__external_evaluation__findings__0__about=about)
    assert load_program(write_program(dump(value))).sheets[2023].external_evaluation.findings[0].about == about


def test_a_finding_about_neither_an_indicator_nor_a_subject(write_program):
    value = data(sheets__R5__external_evaluation__findings__1__about="budget")
    assert_problem(write_program, value, "sheets.R5.external_evaluation.findings[1].about",
                   "expected an indicator id of this file or one of purpose, indicators, costs, directions, plan, other, got 'budget'")


def test_a_finding_id_used_again_in_a_later_sheet(write_program):
    value = data(sheets__R6__external_evaluation={"findings": [{"id": "f2", "text": "再掲"}]})
    assert_problem(write_program, value, "sheets.R6.external_evaluation.findings[0].id",
                   "duplicate finding id 'f2' (also raised in R5)")


def test_a_finding_id_used_twice_in_one_sheet(write_program):
    value = data(sheets__R5__external_evaluation__findings__1__id="f1")
    assert_problem(write_program, value, "sheets.R5.external_evaluation.findings[1].id", "duplicate finding id 'f1'")


@pytest.mark.parametrize("bad", ["Not a slug", "指摘1", "-f1", "f.1"])
def test_a_finding_id_must_be_a_slug(write_program, bad):
    value = data(sheets__R5__external_evaluation__findings__1__id=bad)
    assert_problem(write_program, value, "sheets.R5.external_evaluation.findings[1].id", "expected an id matching", f"got {bad!r}")


@pytest.mark.parametrize("bad", ["next week", "2023-13-01", "R5", "2023年8月20日"])
def test_held_must_be_a_date(write_program, bad):
    value = data(sheets__R5__external_evaluation__held=bad)
    assert_problem(write_program, value, "sheets.R5.external_evaluation.held", "date", f"got {bad!r}")


@pytest.mark.parametrize("bad", [0, 86400, 20230820, 2023.5])
def test_held_as_a_number_is_not_a_date(write_program, bad):
    # pydantic alone would read 0 as 1970-01-01 and 86400 as 1970-01-02 (seconds since 1970)
    assert_problem(write_program, data(sheets__R5__external_evaluation__held=bad), "sheets.R5.external_evaluation.held",
                   "date", f"got {bad!r}")


# ---------------------------------------------------------------- finding updates

def test_an_update_in_the_sheet_that_raises_the_finding(write_program):
    value = data(sheets__R5__finding_updates=[{"id": "f1", "status": "in_progress"}])
    assert_problem(write_program, value, "sheets.R5.finding_updates[0].id",
                   "'f1' is raised in this same sheet; expected a finding of an earlier sheet")


def test_an_update_of_a_finding_that_does_not_exist(write_program):
    value = data(sheets__R6__finding_updates=[{"id": "nope", "status": "addressed"}])
    assert_problem(write_program, value, "sheets.R6.finding_updates[0].id",
                   "expected the id of a finding of an earlier sheet, got 'nope'")


def test_an_update_of_a_finding_raised_in_a_later_sheet(write_program):
    value = data(sheets__R5__finding_updates=[{"id": "f9", "status": "in_progress"}],
                 sheets__R6__external_evaluation={"findings": [{"id": "f9", "text": "後の指摘"}]})
    assert_problem(write_program, value, "sheets.R5.finding_updates[0].id",
                   "expected the id of a finding of an earlier sheet, got 'f9'")


def test_an_update_with_a_bad_status(write_program):
    value = data(sheets__R6__finding_updates=[{"id": "f1", "status": "closed"}])
    assert_problem(write_program, value, "sheets.R6.finding_updates[0].status", "got 'closed'", "declined")


# ---------------------------------------------------------------- costs

@pytest.mark.parametrize(
    "field, bad, expected",
    [
        ("budget", -1, "expected a number ≥ 0, got -1"),
        ("settled", -200, "expected a number ≥ 0, got -200"),
        ("fte", -0.5, "expected a number ≥ 0, got -0.5"),
        ("budget", "many", "expected a number or a no-data marker (null, '-'), got 'many'"),
        ("settled", "1,400", "expected a number or a no-data marker (null, '-'), got '1,400'"),
        ("fte", True, "expected a number"),
        ("fte", [1], "expected a number"),
    ],
)
def test_bad_budget_settled_fte(write_program, field, bad, expected):
    assert_problem(write_program, data(**{f"sheets__R5__costs__{field}": bad}), f"sheets.R5.costs.{field}", expected)


def test_no_data_markers_in_the_new_costs_are_missing_never_zero(write_program):
    value = data(sheets__R5__costs__budget="-", sheets__R5__costs__settled=None, sheets__R5__costs__fte=0)
    costs = load_program(write_program(dump(value))).sheets[2023].costs
    assert (costs.budget, costs.settled, costs.fte) == (None, None, 0)


# ---------------------------------------------------------------- cycle conclusions

def write_cycle(tmp_path, text: str) -> Path:
    path = tmp_path / "2023.yaml"
    path.write_text("fiscal_year: 2023\n" + text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ("conclusions: []\n", "conclusions", "expected at least 1 items, got 0"),
        ("conclusions: [1, 現状通り]\n", "conclusions[0]", "expected text, got 1"),
        ("conclusions: [[現状通り]]\n", "conclusions[0]", "expected text"),
        ("conclusions: 現状通り\n", "conclusions", "expected a list, got '現状通り'"),
    ],
)
def test_bad_cycle_conclusions(tmp_path, text, key, expected):
    path = write_cycle(tmp_path, text)
    with pytest.raises(ProgramDataError) as caught:
        load_cycle(path)
    assert any(k == key and expected in m for k, m in caught.value.problems), caught.value.problems
    assert f"{path}: {key}: " in str(caught.value)


def test_cycle_conclusions_default_and_own(tmp_path):
    assert list(Cycle.model_validate({"fiscal_year": 2023}).conclusions) == ["現状通り", "一部改善", "抜本的改善", "縮小", "休止・廃止"]
    assert DEFAULT_CONCLUSIONS == ("現状通り", "一部改善", "抜本的改善", "縮小", "休止・廃止")
    assert load_cycle(write_cycle(tmp_path, "conclusions: [継続, 廃止]\n")).conclusions == ["継続", "廃止"]


def concluded(conclusion: str, year: str = "R5") -> Program:
    return Program.model_validate({"id": "p", "name": "x", "sheets": {year: {"external_evaluation": {"conclusion": conclusion}}}})


def test_a_conclusion_outside_the_default_list():
    with pytest.raises(ProgramDataError) as caught:
        check_conclusions(concluded("大幅拡大"), [Cycle.model_validate({"fiscal_year": 2023})], "data/programs/p.yaml")
    error = caught.value
    assert error.file == "data/programs/p.yaml"
    assert error.key == "sheets.R5.external_evaluation.conclusion"
    assert "expected one of 現状通り, 一部改善, 抜本的改善, 縮小, 休止・廃止" in error.message
    assert "'大幅拡大'" in error.message
    assert str(error).startswith("data/programs/p.yaml: sheets.R5.external_evaluation.conclusion: expected one of")


def test_a_conclusion_outside_the_cycles_own_list():
    own = Cycle.model_validate({"fiscal_year": 2023, "conclusions": ["継続", "廃止"]})
    with pytest.raises(ProgramDataError) as caught:
        check_conclusions(concluded("一部改善"), [own], "p.yaml")  # in the default list, not in this cycle's
    assert caught.value.key == "sheets.R5.external_evaluation.conclusion"
    assert "expected one of 継続, 廃止" in caught.value.message and "'一部改善'" in caught.value.message
    check_conclusions(concluded("廃止"), [own], "p.yaml")  # accepted: no error


@pytest.mark.parametrize("conclusion", DEFAULT_CONCLUSIONS)
def test_every_default_conclusion_is_accepted(conclusion):
    check_conclusions(concluded(conclusion), [Cycle.model_validate({"fiscal_year": 2023})], "p.yaml")
    check_conclusions(concluded(conclusion), [], "p.yaml")  # a year without a cycle file: the default list


def test_a_conclusion_is_checked_against_its_own_years_cycle_or_the_default_list():
    r4 = concluded("大幅拡大", year="R4")
    # the 2023 cycle's own list is not the R4 sheet's business: R4 has no cycle file, so the default list applies
    with pytest.raises(ProgramDataError) as caught:
        check_conclusions(r4, [Cycle.model_validate({"fiscal_year": 2023, "conclusions": ["大幅拡大"]})], "p.yaml")
    assert caught.value.key == "sheets.R4.external_evaluation.conclusion"
    check_conclusions(r4, [Cycle.model_validate({"fiscal_year": 2022, "conclusions": ["大幅拡大"]})], "p.yaml")  # R4's own cycle
    check_conclusions(r4, [], "p.yaml", up_to=2021)  # a card of an earlier cycle does not look at later sheets


def test_every_wrong_conclusion_is_one_line():
    program = Program.model_validate({"id": "p", "name": "x", "sheets": {
        "R4": {"external_evaluation": {"conclusion": "a"}}, "R5": {"external_evaluation": {"conclusion": "b"}}}})
    with pytest.raises(ProgramDataError) as caught:
        check_conclusions(program, [], "p.yaml")
    assert [key for key, _ in caught.value.problems] == ["sheets.R4.external_evaluation.conclusion", "sheets.R5.external_evaluation.conclusion"]


# ---------------------------------------------------------------- several problems, version-1 samples

def test_several_problems_are_reported_together(write_program):
    value = data(
        indicators__1__kind="result",
        indicators__0__breaks=[{"year": "R3"}],
        sheets__R5__costs__budget=-1,
        sheets__R5__external_evaluation__findings__0__status="done",
    )
    path, error = problems(write_program, value)
    keys = [k for k, _ in error.problems]
    assert len(error.problems) >= 2
    assert set(keys) >= {"indicators[1].kind", "indicators[0].breaks[0].note", "sheets.R5.costs.budget",
                         "sheets.R5.external_evaluation.findings[0].status"}
    lines = str(error).splitlines()
    assert len(lines) == len(error.problems)
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_several_cross_reference_problems_are_reported_together(write_program):
    value = data(
        sheets__R5__overrides=[{"indicator": "zzz", "status": "moderate_progress", "reason": "x"}],
        sheets__R6__finding_updates=[{"id": "nope", "status": "addressed"}],
    )
    _, error = problems(write_program, value)
    assert {k for k, _ in error.problems} >= {"sheets.R5.overrides[0].indicator", "sheets.R6.finding_updates[0].id"}


def test_a_field_problem_and_a_cross_reference_problem_are_reported_together(write_program):
    value = data(sheets__R5__overrides=[
        {"indicator": "zzz", "status": "moderate_progress", "reason": "x"},  # unknown indicator
        {"indicator": "a", "status": "good", "reason": "x"},  # bad status
    ])
    _, error = problems(write_program, value)
    assert {k for k, _ in error.problems} >= {"sheets.R5.overrides[0].indicator", "sheets.R5.overrides[1].status"}


@pytest.mark.parametrize("stem", ["chiiki-kyosei", "shinjo-gomi-shuseki-hojo", "kakogawa-shogaisha-sports", "morioka-toshi-koen"])
def test_every_version_1_sample_still_loads(root, stem):
    program = load_program(root / f"data/programs/{stem}.yaml")
    assert program.id == stem
    for indicator in program.indicators:  # version-2 keys take their defaults
        assert indicator.revisions == [] and indicator.breaks == []
        assert indicator.source is None and indicator.target_rationale is None
    for sheet in program.sheets.values():
        assert sheet.overrides == [] and sheet.finding_updates == [] and sheet.external_evaluation is None
        assert sheet.summary is None
