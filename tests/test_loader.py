"""The data contract: every sample loads, and bad input gets a message naming file, key and expectation."""


import pytest

import evalkit
from evalkit import ProgramDataError, load_program, load_programs

pytestmark = pytest.mark.unit

GOOD = """\
id: p
name: テスト事業
indicators:
  - id: a
    name: 指標
    unit: 人
    direction: up
    observations:
      R3: {actual: 10}
      R4: {actual: 12, target: 15}
sheets:
  R5: {}
"""


def test_every_bundled_program_loads(root):
    loaded = load_programs(root / "data")
    assert loaded.errors == []
    assert set(loaded.programs) >= {"chiiki-kyosei", "shinjo-gomi-shuseki-hojo", "morioka-toshi-koen", "kakogawa-shogaisha-sports"}


def test_seed_transcription_is_complete(root):
    p = load_program(root / "data/programs/chiiki-kyosei.yaml")
    assert (p.organization, p.section) == ("市長直轄組織", "地域共生推進課")
    obs = p.indicators[0].observations
    assert obs[2020].actual is None and obs[2021].actual == 65 and obs[2022].actual == 87
    assert obs[2023].target == 92 and obs[2026].target == 102
    sheet = p.sheet(2023)
    assert sum(r.count for r in sheet.staff) == 11
    assert sheet.mandala.center == "重層的支援体制の整備" and len(sheet.mandala.cells) == 8
    assert sheet.directions[0].program == "拡充" and sheet.directions[0].cost == "維持"
    assert sheet.questions and sheet.plan and sheet.episodes and sheet.activities_last_year and sheet.improvement_points


def test_no_data_markers_are_missing_never_zero(write_program):
    text = GOOD.replace("R3: {actual: 10}", "R1: {actual: '-'}\n      R2: {actual: '－'}\n      R3: {actual: 10}\n      H29: {actual: ''}\n      H28: {actual: '—'}\n      H27: {actual: '―'}\n      H26:")
    program = load_program(write_program(text))
    obs = program.indicators[0].observations
    assert [obs[y].actual for y in (2019, 2020, 2017, 2016, 2015, 2014)] == [None] * 6
    assert obs[2021].actual == 10.0


def test_years_are_normalised_to_ints(write_program):
    program = load_program(write_program(GOOD.replace("R3:", "令和3年度:").replace("R4:", "FY2022:")))
    assert sorted(program.indicators[0].observations) == [2021, 2022]
    assert list(program.sheets) == [2023]


BAD_CASES = {
    "wrong type": (("name: テスト事業", "name: [1, 2]"), "name", "expected text"),
    "unknown key": (("name: テスト事業", "name: テスト事業\nnmae: typo"), "nmae", "unknown key"),
    "unknown nested key": (("unit: 人", "unit: 人\n    directon: up"), "indicators[0].directon", "unknown key"),
    "bad direction": (("direction: up", "direction: higher"), "indicators[0].direction", "expected 'up' or 'down', got 'higher'"),
    "bad kind": (("direction: up", "direction: up\n    kind: result"), "indicators[0].kind", "expected one of outcome, output, activity, got 'result'"),
    "bad program id": (("id: p", "id: P_1"), "id", "expected an id matching"),
    "id differs from file stem": (("id: p", "id: other"), "id", "file name's stem 'p'"),
    "missing required key": (("    unit: 人\n", ""), "indicators[0].unit", "required key missing"),
    "duplicate year after normalisation": (("R4: {actual: 12, target: 15}", "R4: {actual: 12, target: 15}\n      H31: {actual: 1}\n      R1: {actual: 2}"), "indicators[0].observations", "duplicate year 2019"),
    "bad year text": (("R3: {actual: 10}", "R3x: {actual: 10}"), "indicators[0].observations", "'R3x' is not a fiscal year"),
    "bad value": (("actual: 10}", "actual: ten}"), "indicators[0].observations.R3.actual", "expected a number"),
    "negative staff count": (("R5: {}", "R5:\n    staff: [{role: 係長, count: -1}]"), "sheets.R5.staff[0].count", "expected a number ≥ 0, got -1"),
    "mandala with 7 cells": (("R5: {}", "R5:\n    mandala: {center: 中心, cells: [a, b, c, d, e, f, g]}"), "sheets.R5.mandala.cells", "exactly 8 cells"),
    "bad program direction word": (("R5: {}", "R5:\n    directions: [{work_item: x, program: 頑張る}]"), "sheets.R5.directions[0].program", "拡充"),
    "bad cost direction word": (("R5: {}", "R5:\n    directions: [{work_item: x, cost: 倍増}]"), "sheets.R5.directions[0].cost", "削減"),
    "duplicate indicator id": (("sheets:", "  - {id: a, name: x, unit: 人, direction: up}\nsheets:"), "indicators[1].id", "duplicate indicator id 'a'"),
    "bad baseline year": (("direction: up", "direction: up\n    baseline: someday"), "indicators[0].baseline", "expected a fiscal year"),
    "list expected": (("R5: {}", "R5:\n    episodes: 一つだけ"), "sheets.R5.episodes", "expected a list"),
    "mapping expected": (("R5: {}", "R5: [1, 2]"), "sheets.R5", "expected a mapping"),
    "boolean as number": (("actual: 10}", "actual: true}"), "indicators[0].observations.R3.actual", "expected a number"),
    "duplicate yaml key": (("name: テスト事業", "name: テスト事業\nname: 二重"), "", "duplicate key 'name'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_names_file_key_and_expectation(case, write_program):
    (old, new), key, expected = BAD_CASES[case]
    assert old in GOOD
    path = write_program(GOOD.replace(old, new, 1))
    with pytest.raises(ProgramDataError) as info:
        load_program(path)
    error = info.value
    assert error.file == str(path)
    message = str(error)
    assert message.startswith(f"{path}: ")
    if key:
        assert f": {key}: " in message, message
    assert expected in message, message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("id: [unclosed\n", "malformed YAML: line"),
        ("- a\n- b\n", "expected a YAML mapping at the top level, got list"),
        ("just text", "expected a YAML mapping at the top level, got str"),
    ],
)
def test_unreadable_files(text, expected, write_program):
    path = write_program(text)
    with pytest.raises(ProgramDataError, match=expected) as info:
        load_program(path)
    assert str(path) in str(info.value)


def test_exact_message_of_the_contract(tmp_path):
    folder = tmp_path / "data" / "programs"
    folder.mkdir(parents=True)
    (folder / "x.yaml").write_text(GOOD.replace("id: p", "id: x").replace("direction: up", "direction: higher"), encoding="utf-8")
    with pytest.raises(ProgramDataError) as info:
        load_program(folder / "x.yaml")
    assert str(info.value) == f"{folder / 'x.yaml'}: indicators[0].direction: expected 'up' or 'down', got 'higher'"
    assert info.value.key == "indicators[0].direction"


def test_all_problems_of_a_file_are_listed(write_program):
    path = write_program(GOOD.replace("direction: up", "direction: sideways").replace("unit: 人", "unit: 5"))
    with pytest.raises(ProgramDataError) as info:
        load_program(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2 and all(line.startswith(str(path)) for line in lines)


def test_one_bad_file_never_stops_the_others(tmp_path):
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "p.yaml").write_text(GOOD, encoding="utf-8")
    (folder / "q.yaml").write_text("id: q\nname: [", encoding="utf-8")
    (folder / "r.yaml").write_text(GOOD.replace("id: p", "id: r").replace("direction: up", "direction: x"), encoding="utf-8")
    programs, errors = load_programs(tmp_path)
    assert list(programs) == ["p"]
    assert sorted(e.file for e in errors) == [str(folder / "q.yaml"), str(folder / "r.yaml")]


def test_empty_sheet_and_program_without_indicators_are_valid(write_program):
    program = load_program(write_program("id: p\nname: 指標なし\nsheets:\n  R5: {}\n  R6:\n"))
    assert program.indicators == [] and set(program.sheets) == {2023, 2024}


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ("fiscal_year: R5\nresults_lag: -1\n", "results_lag", "≥ 0"),
        ("fiscal_year: 2023\nrating: {measure: speed, bands: [[1, A]]}\n", "rating.measure", "expected one of achievement, progress, pace, got 'speed'"),
        ("fiscal_year: 2023\nrating: {measure: progress, bands: [[0.5, B], [1.0, A]]}\n", "rating", "descending"),
        ("fiscal_year: 2022\n", "fiscal_year", "expected 2023 (the file name)"),
        ("fiscal_year: 2023\nprogram: [a]\n", "program", "unknown key"),
    ],
)
def test_bad_cycle_files(tmp_path, text, key, expected):
    path = tmp_path / "2023.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProgramDataError) as info:
        evalkit.load_cycle(path)
    assert f"{path}: {key}" in str(info.value) and expected in str(info.value), str(info.value)


def test_rating_bands_accept_minus_infinity(tmp_path):
    path = tmp_path / "2023.yaml"
    path.write_text("fiscal_year: 2023\nrating: {measure: achievement, bands: [[1.0, A], [0.8, B], [0.6, C], [-inf, D]]}\n", encoding="utf-8")
    rating = evalkit.load_cycle(path).rating
    assert [evalkit.grade(rating, x) for x in (1.2, 1.0, 0.85, 0.6, -3.0, float("nan"))] == ["A", "A", "B", "C", "D", None]
    assert evalkit.grade(None, 1.0) is None
