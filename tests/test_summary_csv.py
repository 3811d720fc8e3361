"""evalkit.index.summary_csv: the cycle's summary.csv (UTF-8 with BOM for Excel), read back with the csv module."""

import csv
import io

import pytest

from evalkit.assessment import ASSESSMENT_COLUMNS
from evalkit.index import SUMMARY_COLUMNS, summary_csv

pytestmark = pytest.mark.unit

BOM = "\ufeff"


def parse(text: str) -> list[list[str]]:
    """What a CSV reader sees: the file as bytes, decoded as Excel does (UTF-8 with BOM)."""
    decoded = text.encode("utf-8").decode("utf-8-sig")
    return list(csv.reader(io.StringIO(decoded, newline="")))


def test_header_is_exactly_the_summary_columns():
    assert SUMMARY_COLUMNS[:6] == ["fiscal_year", "program_id", "program_name", "organization", "section", "program_status"]
    assert SUMMARY_COLUMNS[6:] == ASSESSMENT_COLUMNS
    assert parse(summary_csv([])) == [SUMMARY_COLUMNS]


def test_bom_first_and_only_once():
    text = summary_csv([{"program_id": "a"}])
    assert text.startswith(BOM + "fiscal_year,program_id,")
    assert text.count(BOM) == 1
    assert text.encode("utf-8")[:3] == b"\xef\xbb\xbf"


def test_one_line_per_row_in_order_values_in_their_columns():
    rows = [
        {"fiscal_year": 2023, "program_id": "chiiki-kyosei", "indicator_id": "partners", "current": 87.0, "score": 5.0},
        {"fiscal_year": 2019, "program_id": "shinjo", "indicator_id": "gomi", "current": 815, "score": -2.5},
    ]
    table = parse(summary_csv(rows))
    assert len(table) == 3
    records = [dict(zip(table[0], line, strict=False)) for line in table[1:]]
    assert [r["program_id"] for r in records] == ["chiiki-kyosei", "shinjo"]
    assert (records[0]["fiscal_year"], records[0]["current"], records[0]["score"]) == ("2023", "87.0", "5.0")
    assert (records[1]["indicator_id"], records[1]["current"], records[1]["score"]) == ("gomi", "815", "-2.5")


def test_none_and_absent_keys_are_empty_cells_and_extra_keys_are_ignored():
    row = {key: None for key in SUMMARY_COLUMNS}
    row.update(program_id="p", score=0.0, not_a_column="never written")
    del row["section"]
    table = parse(summary_csv([row]))
    assert len(table[1]) == len(SUMMARY_COLUMNS)
    record = dict(zip(table[0], table[1], strict=False))
    assert record["program_id"] == "p"
    assert record["score"] == "0.0"  # zero is a value, not an empty cell
    assert record["target"] == "" and record["section"] == "" and record["base_year"] == ""
    assert "never written" not in summary_csv([row])


@pytest.mark.parametrize(
    "value",
    [
        "a,b",  # the delimiter
        'say "hi"',  # the quote character
        'both, "and"',
        "line one\nline two",  # a newline
        "line one\r\nline two",  # a Windows line break
        " leading and trailing spaces ",
        "",
    ],
)
def test_awkward_text_survives_the_round_trip(value):
    table = parse(summary_csv([{"program_name": value, "program_id": "p", "score": 1.5}]))
    assert len(table) == 2  # the value did not break the row
    record = dict(zip(table[0], table[1], strict=False))
    assert (record["program_name"], record["program_id"], record["score"]) == (value, "p", "1.5")


def test_a_lone_carriage_return_is_quoted():
    # a lone CR is a line break to csv readers and Excel: the field must be quoted
    table = parse(summary_csv([{"program_name": "before\rafter", "program_id": "p"}]))
    assert len(table) == 2
    assert dict(zip(table[0], table[1], strict=False))["program_name"] == "before\rafter"


def test_japanese_text_round_trips():
    row = {
        "program_name": "地域共生社会推進事業（重層的支援体制整備事業）",
        "organization": "市長直轄組織",
        "section": "地域共生推進課",
        "name": "支援のために連携した関係者の数",
        "unit": "者",
        "status_label": "概ね順調（加速が必要）",
        "program_status": "substantial_progress",
    }
    text = summary_csv([row])
    record = dict(zip(*parse(text), strict=False))
    for key, value in row.items():
        assert record[key] == value, key
    # and from the bytes a UTF-8 file holds (no mojibake, no lost characters)
    assert "地域共生推進課".encode() in text.encode("utf-8")
