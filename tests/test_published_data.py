"""What the real batch publishes beside the cards: every cycle's open-data package validates with Frictionless,
covers exactly the cycle's cards, and its workbook opens with openpyxl."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import copy_project, run_cli


def read(path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def cycles(out):
    return sorted(p for p in out.iterdir() if p.is_dir() and p.name.isdigit())


@pytest.mark.parametrize("fixture", ["rendered", "rendered_city"])
def test_every_cycle_package_is_valid(fixture, request):
    from frictionless import validate

    out = request.getfixturevalue(fixture)
    for folder in cycles(out):
        report = validate(str(folder / "data/datapackage.json"))
        assert report.valid, (folder.name, report.flatten(["resourceName", "rowNumber", "fieldName", "type", "note"]))


def test_the_package_covers_the_cards_of_its_cycle(rendered, rendered_city):
    for out in (rendered, rendered_city):
        for folder in cycles(out):
            cards = sorted(p.stem for p in folder.glob("*.html") if p.stem not in ("index", "triage") and not p.stem.endswith(".failed"))
            programs = read(folder / "data/programs.csv")
            assert sorted(row["program_id"] for row in programs) == cards, folder
            ids = {row["program_id"] for row in programs}
            for table in ("indicators", "observations", "findings", "diagnostics"):
                assert {row["program_id"] for row in read(folder / f"data/{table}.csv")} <= ids, (folder, table)


def test_the_plan_file_is_there_only_with_a_plan(rendered, rendered_city):
    assert not any((folder / "data/plan.csv").exists() for folder in cycles(rendered))
    for folder in cycles(rendered_city):
        rows = read(folder / "data/plan.csv")
        assert rows and {row["level"] for row in rows} == {"基本目標", "施策"}
        leaves = {row["policy_id"] for row in rows if row["level"] == "施策"}
        assert {row["policy_id"] for row in read(folder / "data/programs.csv")} <= leaves | {""}


def test_the_seed_row_is_what_its_card_says(rendered):
    (row,) = [r for r in read(rendered / "2023/data/programs.csv") if r["program_id"] == "chiiki-kyosei"]
    assert (row["name"], row["rendered"], row["status"], row["status_label"], row["score"], row["change"]) == (
        "地域共生社会推進事業", "true", "substantial_progress", "順調", "5.0", "new")
    assert row["card"] == "../chiiki-kyosei.html" and (rendered / "2023/data" / row["card"]).resolve().is_file()
    # partners: 65 (R3) -> 87 (R4) against 102 in R8; 達成率 87 / 92 (the R5 target, the next after R4)
    (partners,) = read(rendered / "2023/data/indicators.csv")
    assert (partners["base"], partners["current"], partners["target"], partners["achievement"]) == ("65.0", "87.0", "102.0", "0.9456521739130435")
    years = [(r["year"], r["actual"], r["target"], r["used"]) for r in read(rendered / "2023/data/observations.csv")]
    assert years == [("2021", "65.0", "", "true"), ("2022", "87.0", "", "true"), ("2023", "", "92.0", "false"), ("2026", "", "102.0", "false")]


def test_a_failed_card_is_listed_as_not_rendered(tmp_path):
    project = copy_project(tmp_path)
    (project / "data/programs/broken.yaml").write_text("id: broken\nname: 壊れた事業\nsheets: {R5: {costs: 12}}\n", encoding="utf-8")
    result = run_cli(project, "--year", "2023", "--quiet")
    assert result.returncode == 1
    rows = {row["program_id"]: row for row in read(project / "outputs/2023/data/programs.csv")}
    assert rows["broken"]["rendered"] == "false" and rows["broken"]["status"] == "" and rows["broken"]["name"] == ""
    assert rows["chiiki-kyosei"]["rendered"] == "true"
    from frictionless import validate

    assert validate(str(project / "outputs/2023/data/datapackage.json")).valid


def test_the_workbook_opens_with_its_sheets(rendered_city):
    from openpyxl import load_workbook

    book = load_workbook(rendered_city / "2024/一覧表.xlsx")
    assert book.sheetnames == ["説明", "事業", "指標"]
    programs = book["事業"]
    assert programs["A1"].value == "事業ID" and programs.max_row == 1 + 15
    assert programs.freeze_panes and programs.auto_filter.ref


def test_cards_never_run_are_neither_rendered_nor_failed(tmp_path):
    """A --program selection on a fresh output folder: the other cards were never run, so the package leaves them out."""
    project = copy_project(tmp_path)
    result = run_cli(project, "--program", "shinjo-gomi-shuseki-hojo", "--quiet")
    assert result.returncode == 0, result.stderr
    assert [row["program_id"] for row in read(project / "outputs/2019/data/programs.csv")] == ["shinjo-gomi-shuseki-hojo"]
    assert read(project / "outputs/2023/data/programs.csv") == []  # the seed's card was not run either
