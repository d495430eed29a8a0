"""Writers of real submission files (xlsx, xls, HTML-as-xls, csv) and warehouse readers for tests."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import duckdb
import openpyxl

AS_OF = date(2023, 7, 15)
HEADER = [
    "填报单位",
    "报告期",
    "指标代码",
    "指标名称",
    "计量单位",
    "数值",
    "同比增长(%)",
    "上年同期值",
    "参照值",
    "进展状态",
    "完成日期",
    "备注",
]


def r(
    dept,
    period,
    code,
    unit=None,
    value=None,
    growth=None,
    prior=None,
    ref=None,
    status=None,
    done=None,
    note=None,
) -> list:
    """One row in HEADER order."""
    return [dept, period, code, "", unit, value, growth, prior, ref, status, done, note]


def good_rows(period: str = "2023-06") -> list[list]:
    """One valid row for each target of the tiny catalogue."""
    return [
        r("发改委", period, "investment_total", "亿元", 120.5),
        r("统计局", period, "gdp_growth", "%", growth=8.6),
        r("人社局", period, "urban_jobs", "人", 4300),
        r("人社局", period, "unemployment_rate", "%", 3.9),
        r("发改委", period, "finance_hall_open", status="已完成", done="2023-06-28"),
        r("市场监管局", period, "market_entities", "万户", 5.3),
        r("科技局", period, "hightech_firms", "家", 12),
    ]


# What good_rows() stores, in each target's canonical unit.
GOOD_VALUES = {
    "investment_total": (1205000.0, "万元"),
    "gdp_growth": (None, None),
    "urban_jobs": (4300.0, "人"),
    "unemployment_rate": (3.9, "%"),
    "finance_hall_open": (None, None),
    "market_entities": (53000.0, "户"),
    "hightech_firms": (12.0, "家"),
}


def write_xlsx(
    path: Path,
    rows: list[list],
    *,
    header: list[str] = HEADER,
    title: str | None = None,
    blank_rows: int = 0,
    sheet: str = "报送表",
) -> Path:
    """A workbook with an optional merged title row and blank rows above the header."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    for _ in range(blank_rows):
        ws.append([])
    ws.append(header)
    for row in rows:
        ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_xls(path: Path, rows: list[list], *, header=HEADER, title: str | None = None) -> Path:
    """A real BIFF8 .xls workbook (as Excel 97-2003 saves it)."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Sheet1")
    at = 0
    if title:
        ws.write_merge(0, 0, 0, len(header) - 1, title)
        at = 2
    for row in [header, *rows]:
        for j, v in enumerate(row):
            if v is not None:
                ws.write(at, j, v)
        at += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(str(path))
    return path


def write_csv(
    path: Path, rows: list[list], *, header=HEADER, encoding: str = "utf-8", bom: bool = False
) -> Path:
    """A CSV in the given encoding, as Excel or a script would save it."""
    buf = io.StringIO()
    w = csv.writer(buf)
    for row in [header, *rows]:
        w.writerow(["" if v is None else v for v in row])
    data = buf.getvalue().encode(encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_html_xls(
    path: Path,
    rows: list[list],
    *,
    header=HEADER,
    title: str | None = None,
    charset: str = "gb2312",
    encoding: str = "gb18030",
) -> Path:
    """An HTML table saved under an .xls name, as many government systems export."""
    cells = lambda row, tag: "".join(  # noqa: E731
        f"<{tag}>{'' if v is None else v}</{tag}>" for v in row
    )
    body = [f'<tr><td colspan="{len(header)}">{title}</td></tr>'] if title else []
    body.append(f"<tr>{cells(header, 'th')}</tr>")
    body += [f"<tr>{cells(row, 'td')}</tr>" for row in rows]
    html = (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        f"</head><body><table border=1>{''.join(body)}</table></body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(html.encode(encoding))
    return path


def dump(cfg) -> dict[str, list[tuple]]:
    """Every row of every warehouse table, sorted: the warehouse's contents to compare."""
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        names = con.execute(
            "select schema_name, table_name from duckdb_tables() order by all"
        ).fetchall()
        return {
            f"{s}.{t}": con.execute(f'select * from "{s}"."{t}" order by all').fetchall()
            for s, t in names
        }
    finally:
        con.close()


def query(cfg, sql: str, params=None) -> list[dict]:
    """Rows of a query on the warehouse, as dicts."""
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        cur = con.execute(sql, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def one_bad_among_good(folder: Path, n: int, at: int) -> list[Path]:
    """n one-row .csv files, with bad.csv (a whole template's rows) inserted at `at`."""
    files = [
        write_csv(folder / f"f{i:03}.csv", [r("科技局", "2023-06", "hightech_firms", "家", i)])
        for i in range(n)
    ]
    files.insert(at, write_csv(folder / "bad.csv", good_rows()))
    return files
