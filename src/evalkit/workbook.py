"""The cycle's Excel summary, 一覧表.xlsx: the open-data rows of programs and indicators as sheets for staff.

The rows are those of :mod:`evalkit.opendata` (the same ones :mod:`evalkit.datapackage` writes as CSV); here
they are laid out for people who open them in Excel rather than for programs that read them:

- sheets 「説明」 (title, fiscal year, how to read the values, and a data dictionary), 「事業」 and 「指標」;
- the header of a column is the Field's Japanese ``title``; its machine name (the CSV header) is the header
  cell's comment (an Excel note), and the dictionary lists both, so the header stays one filterable row;
- a frozen header row and identifying columns, an autofilter, widths fitted to the content (a wide East Asian
  character counts 2) up to 60 (40 for a frozen column), longer text wrapped;
- cell values are not rounded, only their display is formatted: rates as ``0.0%`` (the cell holds 0.946,
  shown 94.6%), scores and paces as ``0.00``, years and counts as integers (openpyxl writes a number to 16
  significant digits, one more than Excel shows; the CSV has every digit);
- booleans are Excel booleans (TRUE / FALSE), like ``true`` / ``false`` in the CSV: they filter, and
  ``COUNTIF(…, TRUE)`` counts them, which a text はい／いいえ would not;
- an undefined value (``None``, NaN) is an empty cell, never 0;
- text is always literal text, never a formula or an error value (``=SUM(A1)``, ``#N/A``), and characters
  XML cannot hold are dropped, so a bad data value cannot crash the batch or make a file Excel must repair;
- the bytes are deterministic (the timestamps are fixed), so an unchanged cycle gives an unchanged file.
"""

from __future__ import annotations

import datetime
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from .opendata import TABLES, Field
from .years import era_label

__all__ = ["WORKBOOK_NAME", "SHEETS", "RATE_FIELDS", "workbook_bytes"]

WORKBOOK_NAME = "一覧表.xlsx"

#: open-data table -> its sheet, in the workbook's order (after 説明)
SHEETS: dict[str, str] = {"programs": "事業", "indicators": "指標"}
GUIDE_SHEET = "説明"

#: fractions shown as percentages (0.946 -> 94.6%)
RATE_FIELDS = frozenset({"achievement", "progress", "elapsed", "cagr_observed", "cagr_required"})
_TWO_DECIMALS = frozenset({"score", "pace"})
#: the columns that stay in view when scrolling right: everything up to and including the name
_FROZEN_THROUGH = "name"

RATE_FORMAT, SCORE_FORMAT, INTEGER_FORMAT = "0.0%", "0.00", "0"
_WHOLE_FORMAT, _DECIMAL_FORMAT = "#,##0", "#,##0.0##"

MAX_WIDTH = 60
MAX_FROZEN_WIDTH = 40  # the frozen columns stay on screen: long names wrap sooner so that the data has room
_FILTER_BUTTON = 3  # the autofilter's drop-down button covers the end of the header
_PADDING = 2

#: openpyxl refuses C0 controls; lone surrogates and U+FFFE/U+FFFF it writes, but as XML no reader accepts
_ILLEGAL = re.compile(f"{ILLEGAL_CHARACTERS_RE.pattern}|[\ud800-\udfff\ufffe\uffff]")
_FORMULA_LIKE = ("=", "+", "-", "@")

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
_TITLE_FONT = Font(bold=True, size=14)
_WRAP = Alignment(wrap_text=True, vertical="top")

#: zip entries' time (the earliest a zip can hold): the timestamps are not information, the content is
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _titles(test: Callable[[Field], bool]) -> list[str]:
    return list(dict.fromkeys(f.title for table in SHEETS for f in TABLES[table] if test(f)))


_NOTES = (
    f"率（{'・'.join(_titles(lambda f: f.name in RATE_FIELDS))}）は % で表示しています。セルの値は割合です（0.946 は 94.6%）。",
    "数値はセルに丸めずに入っています（有効数字16桁）。表示の桁数は見やすさのためです。",
    "空欄は未定義の値です（0 ではありません）。",
    f"{''.join(f'「{t}」' for t in _titles(lambda f: f.type == 'boolean'))}の列は TRUE（はい）／FALSE（いいえ）です。",
    "見出しは日本語名です。オープンデータ（CSV）の列名は、見出しのセルのメモと下の表にあります。",
)


def workbook_bytes(fiscal_year: int, title: str | None, tables: dict[str, list[dict[str, Any]]]) -> bytes:
    """The 一覧表.xlsx of a cycle, from its open-data rows (a missing table gives a sheet with headers only).

    Returns bytes, not a file, so the batch writes it atomically like the rest of the cycle's files, and
    can compare it with the file on disk: the same rows always give the same bytes.
    """
    heading = title or f"{fiscal_year}年度 行政評価"
    workbook = Workbook()
    guide = workbook.active
    guide.title = GUIDE_SHEET
    _guide_sheet(guide, fiscal_year, heading)
    for table, name in SHEETS.items():
        _table_sheet(workbook.create_sheet(name), TABLES[table], tables.get(table, []))
    workbook.active = 1  # open on 事業: the guide is one tab to the left
    for sheet in workbook.worksheets:  # exactly one selected tab: two would be a group, and an edit would go to both
        sheet.sheet_view.tabSelected = sheet is workbook.active
    fixed = datetime.datetime(fiscal_year, 4, 1)  # not the clock, so the bytes depend on the rows only: the year's start
    workbook.properties.title = f"{heading} 一覧表"
    workbook.properties.creator = "evalkit"
    workbook.properties.created = workbook.properties.modified = fixed
    return _deterministic(_save(workbook))


def _table_sheet(sheet: Worksheet, fields: tuple[Field, ...], rows: list[dict[str, Any]]) -> None:
    """One open-data table: its columns in order, a header row of Japanese titles, one row per row."""
    for column, field in enumerate(fields, 1):
        cell = _put(sheet.cell(row=1, column=column), field.title)
        _header_style(cell)
        cell.comment = Comment(field.name, "evalkit", height=22, width=max(60, 8 * len(field.name) + 16))
    for row_number, row in enumerate(rows, 2):
        for column, field in enumerate(fields, 1):
            _put_field(sheet.cell(row=row_number, column=column), row.get(field.name), field)
    last = get_column_letter(len(fields))
    sheet.auto_filter.ref = f"A1:{last}{len(rows) + 1}"
    names = [field.name for field in fields]
    frozen = names.index(_FROZEN_THROUGH) + 1 if _FROZEN_THROUGH in names else 0
    sheet.freeze_panes = f"{get_column_letter(frozen + 1)}2"
    for column in range(1, len(fields) + 1):
        cells = [sheet.cell(row=r, column=column) for r in range(1, len(rows) + 2)]
        _fit(sheet, column, cells[0], cells[1:], MAX_FROZEN_WIDTH if column <= frozen else MAX_WIDTH)
    _print_setup(sheet)


def _guide_sheet(sheet: Worksheet, fiscal_year: int, heading: str) -> None:
    """Title, year, how to read the values, and the data dictionary (sheet, column, 日本語名, 説明)."""
    _put(sheet.cell(row=1, column=1), heading).font = _TITLE_FONT
    _put(sheet.cell(row=2, column=1), "評価年度").font = _HEADER_FONT
    _put(sheet.cell(row=2, column=2), _year_text(fiscal_year))
    for offset, note in enumerate(_NOTES):
        _put(sheet.cell(row=4 + offset, column=1), note)
    top = 4 + len(_NOTES) + 1
    header = ("シート", "列名", "日本語名", "説明")
    for column, text in enumerate(header, 1):
        _header_style(_put(sheet.cell(row=top, column=column), text))
    row_number = top
    for table, name in SHEETS.items():
        for field in TABLES[table]:
            row_number += 1
            for column, text in enumerate((name, field.name, field.title, field.description), 1):
                _put(sheet.cell(row=row_number, column=column), text)
    sheet.auto_filter.ref = f"A{top}:D{row_number}"
    for column in range(1, len(header) + 1):
        cells = [sheet.cell(row=r, column=column) for r in range(top, row_number + 1)]
        _fit(sheet, column, cells[0], [*cells[1:], *([sheet.cell(row=2, column=column)] if column <= 2 else [])])
    _print_setup(sheet, title_row=top)


def _year_text(fiscal_year: int) -> str:
    try:
        return f"{fiscal_year}年度（{era_label(fiscal_year, long=True)}）"
    except ValueError:
        return f"{fiscal_year}年度"


def _put_field(cell: Cell, value: Any, field: Field) -> Cell:
    """A value of a column: typed and formatted by the column (an id stays text even if it looks like a number)."""
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    if value is None or isinstance(value, bool):
        return _put(cell, value)
    if field.type == "string" or not isinstance(value, (int, float)):
        return _put(cell, str(value))
    if field.type == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)
    cell.value = value
    cell.number_format = _number_format(field, value)
    return cell


def _number_format(field: Field, value: int | float) -> str:
    if field.name in RATE_FIELDS:
        return RATE_FORMAT
    if field.name in _TWO_DECIMALS:
        return SCORE_FORMAT
    if field.type == "integer" and isinstance(value, int):
        return INTEGER_FORMAT  # years too: 2023, never 2,023
    return _WHOLE_FORMAT if float(value).is_integer() else _DECIMAL_FORMAT


def _put(cell: Cell, value: Any) -> Cell:
    """Set a cell; text is stored as a string whatever it looks like (openpyxl makes ``=…`` a formula and
    ``#N/A`` an error), with Excel's quote prefix on formula-like text so that editing the cell keeps it text."""
    if value is None or isinstance(value, (bool, int, float)):
        cell.value = value
        return cell
    text = _ILLEGAL.sub("", str(value))
    cell.value = text or None
    if text:
        cell.data_type = "s"
        if text.startswith(_FORMULA_LIKE):
            cell.quotePrefix = True
    return cell


def _header_style(cell: Cell) -> None:
    cell.font = _HEADER_FONT
    cell.fill = _HEADER_FILL
    cell.alignment = Alignment(vertical="center")


def _fit(sheet: Worksheet, column: int, header: Cell, cells: list[Cell], cap: int = MAX_WIDTH) -> None:
    """Width to fit the header (and its filter button) and the widest shown value, at most ``cap``; a column
    with a longer or multi-line text wraps it."""
    widest, wrap = display_width(str(header.value or "")) + _FILTER_BUTTON, False
    for cell in cells:
        shown = _shown(cell)
        widest = max(widest, max(display_width(line) for line in shown.split("\n")))
        wrap = wrap or "\n" in shown
    wrap = wrap or widest + _PADDING > cap
    sheet.column_dimensions[get_column_letter(column)].width = min(cap, widest + _PADDING)
    if wrap:
        for cell in cells:
            if cell.data_type == "s":
                cell.alignment = _WRAP


def display_width(text: str) -> int:
    """Width in Excel's units (about one digit): a wide or full-width East Asian character counts 2."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _shown(cell: Cell) -> str:
    """About what Excel shows for the value with its number format (for widths only)."""
    value, fmt = cell.value, cell.number_format
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if fmt == RATE_FORMAT:
            return f"{value * 100:.1f}%"
        if fmt == SCORE_FORMAT:
            return f"{value:.2f}"
        if fmt == _DECIMAL_FORMAT:
            return f"{value:,.3f}".rstrip("0")
        if fmt == _WHOLE_FORMAT:
            return f"{value:,.0f}"
        return str(value)
    return str(value)


def _print_setup(sheet: Worksheet, title_row: int = 1) -> None:
    """A4 landscape, the header row repeated on every page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.print_title_rows = f"{title_row}:{title_row}"


def _save(workbook: Workbook) -> bytes:
    """Save as openpyxl's ``Workbook.save`` does, but without its stamping ``modified`` with the clock."""
    buffer = io.BytesIO()
    ExcelWriter(workbook, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    return buffer.getvalue()


def _deterministic(data: bytes) -> bytes:
    """The same archive with fixed entry times and attributes (openpyxl stamps each entry with the clock)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(entry.filename))
    return out.getvalue()
