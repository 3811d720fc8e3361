"""The open-data package, file by file: rows of a hand-built program checked against values worked out by hand,
the CSV rules (BOM, LF, plain decimals, empty for undefined) and the descriptor.

The program: E = 2023 (R5), results lag 1, so C = 2022.
- ``a`` (up, outcome): actuals 2020 80, 2021 100, 2022 104 (and 2023 110, after C); the 2026 target was 100 and was
  raised to 120 in R5 (this cycle).
- ``b`` (down, outcome): actuals 2019 50, 2020 40, 2021 30, 2022 27; targets 2022 25 and 2024 20; the series breaks in 2021.
- ``c`` (up, output): actual 2022 5, target 2022 4.
Sheets R4 (a finding f1 about a, open) and R5 (f1 updated to in_progress, a new finding f2 about costs, an override of b,
costs for R4: 1,000 + 500 千円).
"""

import csv
import io
import json
import math

import pytest

from evalkit.card import build_card
from evalkit.cycle import Cycle
from evalkit.datapackage import cell, descriptor, table_csv, write_package
from evalkit.model import Program
from evalkit.opendata import KEYS, TABLES, card_tables, failed_program_row, plan_rows
from evalkit.plan import UNASSIGNED
from evalkit.rollup import ProgramResult, Rollup

pytestmark = pytest.mark.unit

PROGRAM = Program.model_validate({
    "id": "p", "name": "テスト事業", "municipality": "テスト市", "organization": "総務部", "section": "企画課", "policy": "s1",
    "indicators": [
        {"id": "a", "name": "参加者数", "unit": "人", "direction": "up",
         "observations": {"R2": {"actual": 80}, "R3": {"actual": 100}, "R4": {"actual": 104}, "R5": {"actual": 110}, "R8": {"target": 120}},
         "revisions": [{"year": "R8", "from": 100, "to": 120, "in": "R5", "reason": "上方修正"}]},
        {"id": "b", "name": "待機者数", "unit": "人", "direction": "down",
         "observations": {"H31": {"actual": 50}, "R2": {"actual": 40}, "R3": {"actual": 30}, "R4": {"actual": 27, "target": 25},
                          "R6": {"target": 20}},
         "breaks": [{"year": "R3", "note": "集計方法の変更"}]},
        {"id": "c", "name": "講座数", "unit": "回", "direction": "up", "kind": "output",
         "observations": {"R4": {"actual": 5, "target": 4}}},
    ],
    "sheets": {
        "R4": {"external_evaluation": {"findings": [{"id": "f1", "about": "a", "text": "目標が低い", "response": "見直す"}]}},
        "R5": {
            "costs": {"year": "R4", "business_cost": 1000, "personnel_cost": 500},
            "overrides": [{"indicator": "b", "status": "limited_progress", "reason": "年度途中に制度が変わった"}],
            "finding_updates": [{"id": "f1", "status": "in_progress"}],
            "external_evaluation": {"conclusion": "一部改善", "findings": [{"id": "f2", "about": "costs", "text": "人件費を示すこと"}]},
        },
    },
})
CYCLES = [Cycle.model_validate({"fiscal_year": 2022}), Cycle.model_validate({"fiscal_year": 2023})]


@pytest.fixture(scope="module")
def tables():
    return card_tables(build_card(PROGRAM, 2023, 1, cycles=CYCLES))


def by(rows, *keys):
    return {tuple(row[k] for k in keys): row for row in rows}


def test_every_row_has_exactly_the_columns_of_its_file(tables):
    for table, rows in tables.items():
        for row in rows:
            assert list(row) == [field.name for field in TABLES[table]]


def test_the_program_row(tables):
    (row,) = tables["programs"]
    assert row["program_id"] == "p" and row["name"] == "テスト事業" and row["municipality"] == "テスト市"
    assert row["organization"] == "総務部" and row["section"] == "企画課" and row["policy_id"] == "s1"
    assert row["rendered"] is True
    # R4 (C = 2021): a reached its then-target 100 (100 >= 100); b has one usable actual (from the 2021 break), no score
    assert row["previous_status"] == "target_achieved"
    assert row["change"] == "worsened"  # a is no longer at its (raised) target and b now has a score below 5
    assert row["outcome_indicators"] == 2 and row["scored_indicators"] == 2  # c is an output indicator
    assert row["total_cost"] == 1500.0 and row["cost_unit"] == "千円" and row["cost_year"] == 2022
    assert row["conclusion"] == "一部改善"
    assert row["findings_raised"] == 1  # f2
    assert row["findings_open"] == 2  # f1 in progress, f2 open
    assert row["card"] == "../p.html"
    assert row["status_label"] in ("順調", "概ね順調（加速が必要）", "遅れ", "悪化")


def test_the_indicator_rows(tables):
    rows = by(tables["indicators"], "indicator_id")
    a = rows[("a",)]
    assert (a["base_year"], a["base"], a["current_year"], a["current"], a["target_year"], a["target"]) == (2020, 80.0, 2022, 104.0, 2026, 120.0)
    assert a["achievement"] == pytest.approx(104 / 120) and a["achievement"] == pytest.approx(0.8666666666666667)
    assert a["progress"] == pytest.approx(0.6)  # (104 - 80) / (120 - 80)
    assert a["elapsed"] == pytest.approx(1 / 3)  # (2022 - 2020) / (2026 - 2020)
    assert a["revised_in_cycle"] is True and a["break_year"] is None
    assert a["override_status"] is None and a["override_reason"] is None
    b = rows[("b",)]
    assert (b["base_year"], b["base"], b["current_year"], b["current"]) == (2021, 30.0, 2022, 27.0)  # from the break on
    assert b["cagr_observed"] == pytest.approx(-0.1)  # 27 / 30 - 1
    assert b["break_year"] == 2021 and b["revised_in_cycle"] is False
    assert b["override_status"] == "limited_progress" and b["override_reason"] == "年度途中に制度が変わった"
    c = rows[("c",)]
    assert c["kind"] == "output" and c["achievement"] == pytest.approx(1.25) and c["status"] == "target_achieved"


def test_the_observation_rows(tables):
    rows = by(tables["observations"], "indicator_id", "year")
    assert list(rows) == [("a", 2020), ("a", 2021), ("a", 2022), ("a", 2026),
                          ("b", 2019), ("b", 2020), ("b", 2021), ("b", 2022), ("b", 2024), ("c", 2022)]
    # a: no target before 2026, so every actual is measured against the 2026 target (120); 2023 is after C: no row
    assert [rows[("a", y)]["achievement"] for y in (2020, 2021, 2022)] == pytest.approx([80 / 120, 100 / 120, 104 / 120])
    assert rows[("a", 2026)] == {"program_id": "p", "indicator_id": "a", "year": 2026, "year_label": "令和8年度",
                                 "actual": None, "target": 120.0, "achievement": None, "used": False}
    # b (down): target / actual against the next target 25 (2022); before the break shown but not used
    assert rows[("b", 2019)]["year_label"] == "令和元年度"
    assert rows[("b", 2019)]["achievement"] == pytest.approx(0.5) and rows[("b", 2019)]["used"] is False
    assert rows[("b", 2020)]["achievement"] == pytest.approx(0.625) and rows[("b", 2020)]["used"] is False
    assert rows[("b", 2021)]["achievement"] == pytest.approx(25 / 30) and rows[("b", 2021)]["used"] is True
    assert rows[("b", 2022)]["achievement"] == pytest.approx(25 / 27) and rows[("b", 2022)]["target"] == 25.0
    assert rows[("b", 2024)]["actual"] is None and rows[("b", 2024)]["target"] == 20.0


def test_targets_are_those_of_the_cycle():
    earlier = by(card_tables(build_card(PROGRAM, 2022, 1, cycles=CYCLES))["observations"], "indicator_id", "year")
    assert earlier[("a", 2026)]["target"] == 100.0  # raised to 120 only in R5
    assert earlier[("a", 2021)]["achievement"] == pytest.approx(1.0)  # 100 / 100
    assert ("a", 2022) not in earlier  # C = 2021 for E = 2022


def test_the_finding_rows(tables):
    rows = by(tables["findings"], "finding_id")
    assert rows[("f1",)] == {"program_id": "p", "finding_id": "f1", "raised_in": 2022, "about": "a", "text": "目標が低い",
                             "response": "見直す", "status": "in_progress", "open": True}
    assert rows[("f2",)]["raised_in"] == 2023 and rows[("f2",)]["status"] == "open" and rows[("f2",)]["response"] is None


def test_diagnostics_of_the_program_itself_have_an_empty_subject(tables):
    rows = tables["diagnostics"]
    assert rows and all(row["program_id"] == "p" and row["subject"] != "p" for row in rows)
    assert ("a", "no_source") in {(row["subject"], row["code"]) for row in rows}  # no indicator says where its data come from


def test_a_failed_card_is_listed_as_not_rendered_and_nothing_else():
    row = failed_program_row("broken")
    assert row["program_id"] == "broken" and row["rendered"] is False
    assert all(value is None for key, value in row.items() if key not in ("program_id", "rendered"))


def test_plan_rows_name_the_parent_and_leave_out_the_unassigned():
    member = ProgramResult(program_id="p", name="テスト事業", status="moderate_progress", score=1.0, policy="s1", total_cost=1500.0, cost_unit="千円")
    rollups = [
        Rollup(item_id="g1", name="暮らし", level="基本目標", depth=1, programs=(member,), score=1.0, status="moderate_progress",
               total_cost=1500.0, cost_unit="千円", cost_programs=1),
        Rollup(item_id="s1", name="福祉", level="施策", depth=2, programs=(member,), score=1.0, status="moderate_progress",
               total_cost=1500.0, cost_unit="千円", cost_programs=1, ancestors=("g1",)),
        Rollup(item_id=UNASSIGNED, name="未分類", level="未分類", depth=1),
    ]
    rows = plan_rows(rollups)
    assert [r["policy_id"] for r in rows] == ["g1", "s1"]
    assert rows[0]["parent_id"] is None and rows[1]["parent_id"] == "g1"
    assert rows[1] == {"policy_id": "s1", "name": "福祉", "level": "施策", "parent_id": "g1", "programs": 1, "scored": 1, "score": 1.0,
                       "status": "moderate_progress", "status_label": "概ね順調（加速が必要）", "total_cost": 1500.0,
                       "cost_unit": "千円", "costed_programs": 1}


# ---------------------------------------------------------------- CSV rules

@pytest.mark.parametrize(("value", "type_", "text"), [
    (None, "number", ""), (math.nan, "number", ""), (math.inf, "number", ""),
    (True, "boolean", "true"), (False, "boolean", "false"),
    (0.946, "number", "0.946"), (65.0, "number", "65.0"), (-2.5, "number", "-2.5"), (0.0, "number", "0.0"),
    (1e-05, "number", "0.00001"), (1.5e20, "number", "150000000000000000000"), (-3e-7, "number", "-0.0000003"),
    (2026.0, "integer", "2026"), (2026, "integer", "2026"), (0, "integer", "0"),
    ("=SUM(A1)", "string", "=SUM(A1)"), ("", "string", ""),
])
def test_a_cell_is_a_plain_decimal_or_empty(value, type_, text):
    assert cell(value, type_) == text


def test_a_file_is_utf8_with_a_bom_lf_lines_and_rfc4180_quoting():
    data = table_csv("diagnostics", [
        {"program_id": "p", "subject": None, "code": "x", "message": 'a,b "c"\nd'},
        {"program_id": "q", "subject": "a", "code": "y", "message": "plain"},
    ])
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "\r" not in text
    assert text == 'program_id,subject,code,message\np,,x,"a,b ""c""\nd"\nq,a,y,plain\n'
    assert list(csv.reader(io.StringIO(text)))[1] == ["p", "", "x", 'a,b "c"\nd']


def test_the_descriptor_declares_every_file_with_its_schema_and_key():
    package = descriptor(2023, "令和5年度 通知表", ["programs", "indicators", "observations", "findings", "diagnostics"])
    assert package["name"] == "evaluation-2023"
    resources = {r["name"]: r for r in package["resources"]}
    assert list(resources) == ["programs", "indicators", "observations", "findings", "diagnostics"]
    observations = resources["observations"]
    assert observations["path"] == "observations.csv" and observations["encoding"] == "utf-8"
    assert observations["schema"]["primaryKey"] == ["program_id", "indicator_id", "year"]
    assert observations["schema"]["missingValues"] == [""]
    assert [f["name"] for f in observations["schema"]["fields"]] == [
        "program_id", "indicator_id", "year", "year_label", "actual", "target", "achievement", "used"]
    assert all(f["title"] and f["description"] for r in resources.values() for f in r["schema"]["fields"])
    assert "primaryKey" not in resources["diagnostics"]["schema"]
    assert {name: tuple(r["schema"].get("primaryKey", ())) for name, r in resources.items()} == {k: v for k, v in KEYS.items() if k != "plan"}


def test_a_written_package_is_valid_for_frictionless(tmp_path, tables):
    from frictionless import validate

    write_package(tmp_path / "data", 2023, None, {**tables, "programs": [*tables["programs"], failed_program_row("broken")]})
    report = validate(str(tmp_path / "data" / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    names = json.loads((tmp_path / "data" / "datapackage.json").read_text(encoding="utf-8"))["resources"]
    assert [r["name"] for r in names] == ["programs", "indicators", "observations", "findings", "diagnostics"]


def test_a_package_without_a_plan_has_no_stale_plan_file(tmp_path, tables):
    write_package(tmp_path, 2023, None, {**tables, "plan": []})
    assert (tmp_path / "plan.csv").exists()
    write_package(tmp_path, 2023, None, tables)
    assert not (tmp_path / "plan.csv").exists()


def test_a_duplicate_key_is_caught_by_the_validation(tmp_path, tables):
    """The test above can fail: frictionless does check the keys of the files evalkit writes."""
    from frictionless import validate

    write_package(tmp_path, 2023, None, {**tables, "programs": tables["programs"] * 2})
    assert not validate(str(tmp_path / "datapackage.json")).valid
