"""A cycle's open data as a Frictionless Data Package: the CSV files and their descriptor (docs/open-data.md).

The rows come from :mod:`evalkit.opendata`; here they become CSV text by the
package's rules (UTF-8 with a byte-order mark, LF line ends, plain decimals,
an empty cell for an undefined value) and the descriptor is built with the
``frictionless`` library, so that it is a valid Data Package by construction.
"""

from __future__ import annotations

import csv
import io
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from .iorw import write_atomic
from .opendata import KEYS, TABLES

__all__ = ["DATA_FOLDER", "DESCRIPTOR", "cell", "table_csv", "descriptor", "write_package"]

DATA_FOLDER = "data"
DESCRIPTOR = "datapackage.json"


def cell(value: Any, type_: str = "string") -> str:
    """One CSV cell: empty for undefined, ``true``/``false``, a decimal never in exponent form."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if type_ == "integer" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        text = repr(value)
        return format(Decimal(text), "f") if "e" in text or "E" in text else text
    return str(value)


def table_csv(table: str, rows: list[dict[str, Any]]) -> bytes:
    """The rows of one file as its CSV bytes, every column of the table in order."""
    fields = TABLES[table]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([field.name for field in fields])
    for row in rows:
        writer.writerow([cell(row.get(field.name), field.type) for field in fields])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


_TABLE_TITLES = {
    "programs": ("事業", "評価年度に通知表のある事業（1行1事業）"),
    "indicators": ("指標", "事業の指標とその評価（1行1指標）"),
    "observations": ("実績と目標", "指標の年度ごとの実績・目標・達成率（1行1指標1年度）"),
    "findings": ("外部評価の指摘", "これまでに出された外部評価の指摘とこの評価年度の時点の状況（1行1指摘）"),
    "diagnostics": ("点検", "データの点検で見つかった項目（1行1項目）"),
    "plan": ("計画の項目", "計画（基本目標・施策など）の項目ごとの集計（1行1項目）"),
}


def descriptor(fiscal_year: int, title: str | None, tables: list[str]) -> dict[str, Any]:
    """The datapackage.json of a cycle whose package has ``tables`` (file stems)."""
    from frictionless import Package, Resource, Schema

    resources = []
    for table in tables:
        schema = Schema.from_descriptor({
            "fields": [{"name": f.name, "type": f.type, "title": f.title, "description": f.description} for f in TABLES[table]],
            **({"primaryKey": list(KEYS[table])} if KEYS[table] else {}),
            "missingValues": [""],
        })
        name, description = _TABLE_TITLES[table]
        resources.append(Resource(
            name=table, path=f"{table}.csv", title=name, description=description, scheme="file", format="csv",
            mediatype="text/csv", encoding="utf-8", schema=schema,
        ))
    package = Package(
        name=f"evaluation-{fiscal_year}", title=f"{title or f'{fiscal_year}年度 行政評価'} オープンデータ",
        description=f"{fiscal_year}年度の評価サイクルで通知表を作成した事業の評価結果。数値は小数（率は割合）、未定義は空欄。",
        resources=resources,
    )
    out = package.to_dict()
    for resource in out["resources"]:  # the files' dialect, said explicitly (frictionless leaves defaults out)
        resource["dialect"] = {"csv": {"delimiter": ",", "lineTerminator": "\n", "quoteChar": '"', "header": True}}
    return out


def write_package(folder: Path, fiscal_year: int, title: str | None, tables: dict[str, list[dict[str, Any]]]) -> None:
    """Write every CSV then the descriptor (last, so a reader that finds it finds complete files); a plan.csv
    whose plan is gone is removed."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [table for table in TABLES if table in tables]
    for table in names:
        write_atomic(folder / f"{table}.csv", table_csv(table, tables[table]))
    for table in TABLES:
        if table not in tables:
            (folder / f"{table}.csv").unlink(missing_ok=True)
    text = json.dumps(descriptor(fiscal_year, title, names), ensure_ascii=False, indent=2) + "\n"
    write_atomic(folder / DESCRIPTOR, text)
