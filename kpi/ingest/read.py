"""Reading submitted files into sheets of raw cells, refusing what cannot be read safely."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass

# File signatures: the content decides how a file is read, never its name alone.
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARK = "EncryptionInfo".encode("utf-16-le")  # stream of a password-protected OOXML
_META_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.I)
SPREADSHEET_EXTS = (".xlsx", ".xlsm", ".xls", ".csv")


class FileRefused(Exception):
    """A file that cannot be read at all; the message is the reason in Chinese, `code` the kind."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.code = code


@dataclass
class Sheet:
    """One sheet as read: a name and rows of raw cells (row i is spreadsheet row i + 1)."""

    name: str
    rows: list[list[object]]


def read_sheets(data: bytes, file_name: str, *, max_uncompressed: int) -> list[Sheet]:
    """The sheets of a file given as bytes; raise FileRefused with a Chinese reason."""
    ext = _ext(file_name)
    if not data:
        raise FileRefused("为空（0字节）", "empty")
    if ext not in SPREADSHEET_EXTS:
        raise FileRefused(
            f"的类型“{ext or '无扩展名'}”不受支持（不支持的文件类型），请提交.xlsx、.xls或.csv文件",
            "unsupported_type",
        )
    head = data[:8]
    if head.startswith(_OLE2):
        if _ENCRYPTED_MARK in data:
            raise FileRefused(
                "已加密（设置了打开密码），无法读取，请取消密码后重新报送", "encrypted"
            )
        if ext == ".csv":
            raise FileRefused(
                "的扩展名为.csv，但内容是Excel 97-2003工作簿，不是电子表格文本，请另存为.csv或.xls",
                "not_spreadsheet",
            )
        return _read_calamine(data)
    if head.startswith(_ZIP):
        _check_zip(data, max_uncompressed)
        return _read_calamine(data)
    if _looks_like_html(data):
        return _read_html(data)
    if ext == ".csv":
        return [_read_csv(data)]
    raise FileRefused(
        f"的内容不是电子表格（扩展名为{ext}，但无法识别为Excel工作簿），可能已损坏",
        "not_spreadsheet",
    )


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _check_zip(data: bytes, max_uncompressed: int) -> None:
    """Refuse zip bombs and zips that are not workbooks, before any member is opened."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise FileRefused("已损坏（压缩结构不完整），无法读取", "corrupt") from exc
    total = sum(i.file_size for i in infos)
    if total > max_uncompressed:
        raise FileRefused(
            f"解压后达{total / 1e6:.0f}MB，超过上限{max_uncompressed / 1e6:.0f}MB，拒绝读取",
            "zip_bomb",
        )
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise FileRefused(
            "是压缩包而不是Excel工作簿（缺少workbook），不是电子表格，无法读取", "not_spreadsheet"
        )


def cell_value(cell: object) -> object:
    """A cell as calamine returns it, with empty strings as None."""
    return None if cell == "" else cell


def _read_calamine(data: bytes) -> list[Sheet]:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = []
        for name in wb.sheet_names:
            # Absolute positions: row numbers must match what the spreadsheet shows.
            sheet = wb.get_sheet_by_name(name)
            rows = [[cell_value(c) for c in row] for row in sheet.to_python(skip_empty_area=False)]
            _fill_merged(rows, getattr(sheet, "merged_cell_ranges", None) or [])
            sheets.append(Sheet(name, rows))
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        raise FileRefused(
            f"已损坏或格式不正确，无法读取（{type(exc).__name__}）", "corrupt"
        ) from exc
    return sheets


def _fill_merged(rows: list[list[object]], ranges) -> None:
    """Show a merged cell's value in every cell it covers, as the spreadsheet displays it."""
    for (r0, c0), (r1, c1) in ranges:
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        value = rows[r0][c0]
        for r in range(r0, min(r1, len(rows) - 1) + 1):  # never grows the grid
            row = rows[r]
            for c in range(c0, min(c1, len(row) - 1) + 1):
                if row[c] is None:
                    row[c] = value


def _looks_like_html(data: bytes) -> bool:
    start = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<table", b"<meta")) or (
        start.startswith(b"<") and b"<table" in data[:65536].lower()
    )


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Text of a file in UTF-8 (with or without BOM), a declared charset, or GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    candidates = ["utf-8"]
    if declared:
        candidates.insert(0, declared)
    candidates.append("gb18030")  # Excel "Save as CSV" on a Chinese Windows
    for enc in candidates:
        try:
            return data.decode(_alias(enc), errors="strict")
        except (UnicodeDecodeError, LookupError):
            continue
    raise FileRefused("的字符编码无法识别（应为UTF-8或GB18030）", "encoding")


def _alias(enc: str) -> str:
    # gb2312 and gbk declarations are routinely wrong about characters outside them.
    return "gb18030" if enc.lower().replace("-", "") in ("gb2312", "gbk", "cp936") else enc


def _read_csv(data: bytes) -> Sheet:
    if b"\x00" in data[:65536] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused("的内容不是电子表格文本（含二进制数据），可能已损坏", "not_spreadsheet")
    text = decode_text(data)
    delimiter = _delimiter(text[:16384])
    try:
        rows = [
            [c if c != "" else None for c in row]
            for row in csv.reader(io.StringIO(text), delimiter=delimiter)
        ]
    except csv.Error as exc:
        raise FileRefused(f"的CSV格式已损坏，无法读取（{exc}）", "corrupt") from exc
    return Sheet("csv", rows)


def _delimiter(sample: str) -> str:
    """The delimiter that splits the widest line of the sample (comma on a tie)."""
    lines = sample.splitlines()[:50]
    best, width = ",", 0
    for d in (",", "\t", ";"):
        try:
            w = max((len(row) for row in csv.reader(lines, delimiter=d)), default=0)
        except csv.Error:
            continue
        if w > width:
            best, width = d, w
    return best


def _read_html(data: bytes) -> list[Sheet]:
    """Tables of an HTML page saved under an .xls name, cell text kept exactly as shown."""
    import lxml.html

    m = _META_CHARSET.search(data[:4096])
    text = decode_text(data, m.group(1).decode("ascii") if m else None)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses str input with a declaration
    try:
        doc = lxml.html.document_fromstring(text)
    except Exception as exc:  # lxml raises ParserError / XMLSyntaxError on garbage
        raise FileRefused("是HTML网页，但已损坏，无法读取", "corrupt") from exc
    sheets = [Sheet(f"表{n}", _table_grid(t)) for n, t in enumerate(doc.iter("table"), start=1)]
    if not sheets:
        raise FileRefused("是HTML网页，但其中没有表格，不是电子表格，无法读取", "not_spreadsheet")
    return sheets


def _table_grid(table) -> list[list[object]]:
    """Rows of an HTML table with merged cells (rowspan, colspan) repeated over their area."""
    grid: list[list[object]] = []
    carried: dict[int, tuple[int, object]] = {}  # column -> (rows still covered, value)
    for tr in table.iter("tr"):
        if _nearest_table(tr) is not table:
            continue  # a row of a nested table belongs to that table
        row: list[object] = []
        cells = [td for td in tr if td.tag in ("td", "th")]
        col = 0
        while cells or any(c >= col for c in carried):
            if col in carried:
                left, value = carried[col]
                row.append(value)
                carried = (
                    {**carried, col: (left - 1, value)} if left > 1 else _without(carried, col)
                )
                col += 1
                continue
            if not cells:
                row.append(None)
                col += 1
                continue
            td = cells.pop(0)
            value = " ".join(td.text_content().split()) or None
            for _ in range(_span(td.get("colspan"))):
                if (rs := _span(td.get("rowspan"))) > 1:
                    carried[col] = (rs - 1, value)
                row.append(value)
                col += 1
        grid.append(row)
    return grid


def _without(d: dict, key: int) -> dict:
    return {k: v for k, v in d.items() if k != key}


def _nearest_table(el):
    p = el.getparent()
    while p is not None and p.tag != "table":
        p = p.getparent()
    return p


def _span(text: str | None) -> int:
    try:
        return max(1, min(int(text or 1), 1000))
    except ValueError:
        return 1
