"""evalkit.workbook: the cycle's 一覧表.xlsx, read back with openpyxl and, where it matters, as its XML."""

from __future__ import annotations

import datetime
import io
import zipfile
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest

from evalkit.opendata import TABLES
from evalkit.workbook import WORKBOOK_NAME, display_width, workbook_bytes

pytestmark = pytest.mark.unit

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

LONG_NAME = "地域共生社会推進のための関係機関連携"  # 18 wide characters: width 36
LONG_REASON = "統計の取り方が令和四年度から変わったため、計算上は悪化となるが、実態としては横ばいと判断した。"  # 47 wide


def row(table: str, **values: Any) -> dict[str, Any]:
    """A row as opendata makes them: exactly the table's columns, None where not given."""
    assert set(values) <= {f.name for f in TABLES[table]}
    return {f.name: values.get(f.name) for f in TABLES[table]}


PROGRAMS = [
    row("programs", program_id="chiiki-kyosei", name=LONG_NAME, municipality="新城市", organization="市長直轄組織",
        section="地域共生推進課", policy_id="1-2", rendered=True, status="substantial_progress", status_label="順調",
        score=3.5, previous_status="moderate_progress", change="improved", outcome_indicators=2, scored_indicators=2,
        total_cost=12345.0, cost_unit="千円", cost_year=2023, conclusion="継続", findings_raised=1, findings_open=0,
        diagnostics=0, card="../chiiki-kyosei.html"),
    row("programs", program_id="gomi", rendered=False),  # a failed card: nothing else claimed
]

INDICATORS = [
    row("indicators", program_id="chiiki-kyosei", indicator_id="partners", name="支援のために連携した関係者の数", unit="者",
        direction="up", kind="outcome", base_year=2021, base=65.0, current_year=2022, current=87.0, target_year=2026.0,
        target=102.0, achievement=0.9456521739130435, progress=0.5945945945945946, elapsed=0.2,
        cagr_observed=0.33846153846153837, cagr_required=0.09430242851206572, pace=3.589107341156471,
        projected=279.21763002695974, status="substantial_progress", status_label="順調", score=5.0, revised_in_cycle=False),
    row("indicators", program_id="chiiki-kyosei", indicator_id="formula", name="=SUM(A1)", unit="%", direction="down",
        kind="outcome", base_year=2021, base=12.5, current_year=2022, current=13.0, target_year=2026, target=10.0,
        achievement=-0.2, progress=-0.2, elapsed=0.2, cagr_observed=-0.05, cagr_required=-0.054, pace=-1.25,
        projected=None, status="deterioration", status_label="悪化", score=-2.5, override_status="moderate_progress",
        override_reason=LONG_REASON, revised_in_cycle=True, break_year=2022),
    row("indicators", program_id="chiiki-kyosei", indicator_id="soudan", name="相談件数\x07（速報）", unit="件",
        direction="up", kind="output", status="not_available", status_label="判定不能", override_reason="#N/A"),
]

TABLES_IN = {"programs": PROGRAMS, "indicators": INDICATORS}


@pytest.fixture(scope="module")
def data() -> bytes:
    return workbook_bytes(2023, None, TABLES_IN)


@pytest.fixture(scope="module")
def book(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def sheet_xml(data: bytes, name: str) -> ElementTree.Element:
    """The worksheet part of the sheet called ``name`` (sheetN.xml in the sheets' order)."""
    names = openpyxl.load_workbook(io.BytesIO(data)).sheetnames
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        part = archive.read(f"xl/worksheets/sheet{names.index(name) + 1}.xml")
    return ElementTree.fromstring(part)  # noqa: S314 -- XML this test just made


def xml_cell(root: ElementTree.Element, ref: str) -> ElementTree.Element:
    (cell,) = [c for c in root.iter(f"{MAIN}c") if c.get("r") == ref]
    return cell


def test_name_and_sheets(book):
    assert WORKBOOK_NAME == "一覧表.xlsx"
    assert book.sheetnames == ["説明", "事業", "指標"]
    assert book.active.title == "事業"
    assert [ws.sheet_view.tabSelected for ws in book.worksheets] == [False, True, False]


def test_headers_are_the_japanese_titles_in_table_order_with_the_column_name_as_comment(book):
    programs, indicators = book["事業"], book["指標"]
    assert [c.value for c in programs[1]] == [
        "事業ID", "事業名", "自治体", "部", "課", "施策ID", "通知表作成", "事業の状態", "事業の状態（表示）", "得点",
        "前回の状態", "前回からの変化", "成果指標の数", "得点のある成果指標の数", "トータルコスト", "コストの単位", "コストの年度",
        "外部評価の結論", "今回の指摘数", "未対応の指摘数", "点検の件数", "通知表",
    ]
    assert [c.value for c in indicators[1]] == [
        "事業ID", "指標ID", "指標名", "単位", "望ましい方向", "指標の種類", "基準年度", "基準値", "直近年度", "直近の実績",
        "目標年度", "目標値", "達成率", "進捗率", "経過率", "実績の年平均伸び率", "必要な年平均伸び率", "ペース", "目標年度の見込み",
        "状態", "状態（表示）", "得点", "担当課の判断", "判断の理由", "今回の目標見直し", "系列の断絶年度",
    ]
    assert [c.comment.text for c in programs[1]] == [f.name for f in TABLES["programs"]]
    assert [c.comment.text for c in indicators[1]] == [f.name for f in TABLES["indicators"]]
    assert indicators["M1"].comment.text == "achievement"
    assert programs["A1"].font.bold and programs["A1"].fill.fill_type == "solid"


def test_frozen_header_and_identifying_columns(book):
    assert book["事業"].freeze_panes == "C2"  # 事業ID, 事業名
    assert book["指標"].freeze_panes == "D2"  # 事業ID, 指標ID, 指標名


def test_autofilter_covers_header_and_data(book):
    assert book["事業"].auto_filter.ref == "A1:V3"
    assert book["指標"].auto_filter.ref == "A1:Z4"


def test_widths_fit_the_content_counting_wide_characters_double(book):
    programs, indicators = book["事業"], book["指標"]
    assert programs.column_dimensions["B"].width == 38  # the 18-character name, not the 3-character header
    assert programs.column_dimensions["B"].width > display_width("事業名")
    assert programs.column_dimensions["D"].width == 14  # 市長直轄組織
    assert indicators.column_dimensions["X"].width == 60  # the 47-character reason: capped, and wrapped
    assert indicators["X3"].alignment.wrap_text
    assert not programs["B2"].alignment.wrap_text


def test_a_frozen_column_wraps_at_40():
    name = "まちづくり評価アンケート調査「公園や街路樹などの街の中の緑が多いと思う」と答えた市民の割合"
    tables = {"indicators": [row("indicators", program_id="p", indicator_id="i", name=name, override_reason=name)]}
    ws = openpyxl.load_workbook(io.BytesIO(workbook_bytes(2023, None, tables)))["指標"]
    assert ws.column_dimensions["C"].width == 40 and ws["C2"].alignment.wrap_text  # 指標名, frozen
    assert ws.column_dimensions["X"].width == 60 and ws["X2"].alignment.wrap_text  # 判断の理由, scrolls


def test_display_width():
    assert display_width("abc") == 3
    assert display_width("事業名") == 6
    assert display_width("ＡＢ") == 4  # full-width
    assert display_width("ｱｲ") == 2  # half-width katakana


def test_rates_are_fractions_shown_as_percent(book):
    indicators = book["指標"]
    for ref in ("M2", "N2", "O2", "P2", "Q2", "M3", "P3"):
        assert indicators[ref].number_format == "0.0%", ref
    assert indicators["M2"].value == 0.9456521739130435
    assert indicators["P3"].value == -0.05


def test_numbers_are_numbers_with_formats(book):
    programs, indicators = book["事業"], book["指標"]
    assert indicators["V2"].value == 5 and indicators["V2"].number_format == "0.00"
    assert indicators["V3"].value == -2.5 and indicators["V3"].number_format == "0.00"
    assert indicators["R3"].value == -1.25 and indicators["R3"].number_format == "0.00"
    assert indicators["H2"].value == 65 and indicators["H2"].number_format == "#,##0"
    # given 279.21763002695974: openpyxl writes 16 significant digits (Excel itself shows 15)
    assert indicators["S2"].value == 279.2176300269597 and indicators["S2"].number_format == "#,##0.0##"
    assert programs["O2"].value == 12345 and programs["O2"].number_format == "#,##0"
    assert programs["J2"].value == 3.5 and programs["J2"].number_format == "0.00"
    for ref in ("H2", "S2", "M2", "V3"):
        value = indicators[ref].value
        assert indicators[ref].data_type == "n" and isinstance(value, (int, float)) and not isinstance(value, bool), ref


def test_years_and_counts_are_integers(book):
    programs, indicators = book["事業"], book["指標"]
    assert indicators["G2"].value == 2021 and type(indicators["G2"].value) is int and indicators["G2"].number_format == "0"
    assert indicators["K2"].value == 2026 and type(indicators["K2"].value) is int  # given as 2026.0
    assert indicators["Z3"].value == 2022 and type(indicators["Z3"].value) is int
    assert programs["Q2"].value == 2023 and programs["Q2"].number_format == "0"  # a year: 2023, not 2,023
    assert programs["M2"].value == 2 and type(programs["M2"].value) is int


def test_booleans_are_excel_booleans(book, data):
    programs, indicators = book["事業"], book["指標"]
    assert programs["G2"].value is True and programs["G3"].value is False
    assert indicators["Y2"].value is False and indicators["Y3"].value is True
    assert xml_cell(sheet_xml(data, "事業"), "G3").get("t") == "b"


def test_none_is_an_empty_cell(book, data):
    programs, indicators = book["事業"], book["指標"]
    assert [c.value for c in programs[3]] == ["gomi", None, None, None, None, None, False] + [None] * 15  # a failed card
    assert indicators["S3"].value is None and indicators["Z2"].value is None and indicators["G4"].value is None
    assert not [c for c in sheet_xml(data, "指標").iter(f"{MAIN}c") if c.get("r") in ("S3", "Z2") and len(c)]  # no value written


def test_formula_like_text_stays_literal_text(book, data):
    indicators = book["指標"]
    assert indicators["C3"].value == "=SUM(A1)"
    assert indicators["C3"].data_type == "s"
    assert indicators["C3"].quotePrefix  # Excel's ' prefix: editing the cell keeps it text
    assert indicators["X4"].value == "#N/A" and indicators["X4"].data_type == "s"  # not an error value
    root = sheet_xml(data, "指標")
    cell = xml_cell(root, "C3")
    assert cell.find(f"{MAIN}f") is None
    assert cell.get("t") == "inlineStr"
    assert cell.find(f"{MAIN}is/{MAIN}t").text == "=SUM(A1)"
    assert xml_cell(root, "X4").get("t") == "inlineStr"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name


def test_ids_stay_text():
    tables = {"programs": [row("programs", program_id=2023, rendered=True)]}
    ws = openpyxl.load_workbook(io.BytesIO(workbook_bytes(2023, None, tables)))["事業"]
    assert ws["A2"].value == "2023" and ws["A2"].data_type == "s"


def test_characters_xml_cannot_hold_are_dropped(book):
    assert book["指標"]["C4"].value == "相談件数（速報）"
    tables = {"programs": [row("programs", program_id="p", name="a\x00b\x1fc\ufffed\uffffe\ud800f", section="改行\nは残る")]}
    ws = openpyxl.load_workbook(io.BytesIO(workbook_bytes(2023, None, tables)))["事業"]
    assert ws["B2"].value == "abcdef"
    assert ws["E2"].value == "改行\nは残る"
    assert ws["E2"].alignment.wrap_text


def test_non_finite_numbers_are_empty():
    tables = {"indicators": [row("indicators", program_id="p", indicator_id="i", achievement=float("nan"), pace=float("inf"))]}
    ws = openpyxl.load_workbook(io.BytesIO(workbook_bytes(2023, None, tables)))["指標"]
    assert ws["M2"].value is None and ws["R2"].value is None


def test_missing_tables_give_header_only_sheets():
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(2023, None, {})))
    assert book["事業"].max_row == 1 and book["指標"].max_row == 1
    assert book["事業"].auto_filter.ref == "A1:V1"
    assert book["指標"]["A1"].value == "事業ID"


def test_guide_sheet(book):
    guide = book["説明"]
    assert guide["A1"].value == "2023年度 行政評価"
    assert guide["B2"].value == "2023年度（令和5年度）"
    notes = [guide.cell(row=r, column=1).value for r in range(3, 10)]
    assert "率（達成率・進捗率・経過率・実績の年平均伸び率・必要な年平均伸び率）は % で表示しています。セルの値は割合です（0.946 は 94.6%）。" in notes
    rows = [tuple(c.value for c in r) for r in guide.iter_rows(min_row=1, max_col=4)]
    top = rows.index(("シート", "列名", "日本語名", "説明"))
    dictionary = rows[top + 1:]
    assert len(dictionary) == 22 + 26
    assert dictionary[0] == ("事業", "program_id", "事業ID", "事業を識別する記号（事業ファイルの名前）")
    assert ("指標", "achievement", "達成率", "直近の実績の達成率（割合：0.946 は 94.6%）") in dictionary
    assert guide.auto_filter.ref == f"A{top + 1}:D{top + 1 + 48}"
    assert guide.column_dimensions["D"].width == 60
    assert guide.cell(row=top + 1, column=1).font.bold


def test_title_given_and_document_properties(book):
    assert book.properties.title == "2023年度 行政評価 一覧表"
    assert book.properties.creator == "evalkit"
    assert book.properties.created == datetime.datetime(2023, 4, 1)
    assert book.properties.modified == datetime.datetime(2023, 4, 1)
    titled = openpyxl.load_workbook(io.BytesIO(workbook_bytes(2024, "新城市 行政評価", TABLES_IN)))
    assert titled["説明"]["A1"].value == "新城市 行政評価"
    assert titled.properties.title == "新城市 行政評価 一覧表"
    assert titled.properties.created == datetime.datetime(2024, 4, 1)


def test_same_input_same_bytes(data):
    assert workbook_bytes(2023, None, TABLES_IN) == data
    assert workbook_bytes(2023, "別の題", TABLES_IN) != data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert archive.testzip() is None
