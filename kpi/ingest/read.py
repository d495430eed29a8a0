"""Reading submitted files into sheets of raw cells, refusing what cannot be read safely.

Every reader checks the caps (rows, columns and cells of a sheet's used area) while it streams,
before any sheet is built: a CSV row by row, an HTML page tag by tag (the table grid is built in
time linear in its cells), an .xlsx by streaming its sheets' XML before python-calamine (which
builds whole sheets at once) opens it, an .xls by walking its BIFF records. Reasons are Chinese
and never carry an exception's name.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from xml.parsers import expat

from kpi.ingest.text import clip

# File signatures: the content decides how a file is read, never its name alone.
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARK = "EncryptionInfo".encode("utf-16-le")  # stream of a password-protected OOXML
_META_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.I)
# BIFF2-BIFF4 files (Excel 2.x-4.x) are a bare record stream that starts with a BOF record.
_LEGACY_BOF = (b"\x09\x00", b"\x09\x02", b"\x09\x04")
SPREADSHEET_EXTS = (".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".csv")
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
MAX_SHEETS = 255  # sheets (or HTML tables) of one file
MAX_SHARED_CHARS = 20_000_000  # text of an .xlsx's shared strings, all together
MAX_XML_PART = 10_000_000  # a workbook's own index parts (workbook.xml, its relationships)
SMALL_PART = 1_000_000  # shared strings this small cannot hold too many strings or too much text
SHEET_NAME_CHARS = 100
HTML_CHUNK = 1 << 16


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


@dataclass(frozen=True)
class Caps:
    """How much of a file is read at most: a sheet's used area (from A1) and the whole file's."""

    max_rows: int = 5_000
    max_columns: int = 100
    max_cells: int = 200_000
    max_uncompressed: int = 200_000_000


class _Budget:
    """The caps, counted while a file is read; raise FileRefused as soon as one is broken."""

    def __init__(self, caps: Caps):
        self.caps = caps
        self.cells = 0  # used areas of the sheets done so far
        self.sheets = 0

    def sheet(self) -> None:
        self.sheets += 1
        if self.sheets > MAX_SHEETS:
            raise FileRefused(
                f"的工作表（表格）超过{MAX_SHEETS}个（上限），不是正常的报送表，拒绝读取",
                "too_many_sheets",
            )

    def check(self, sheet: str | None, rows: int, columns: int) -> None:
        """A sheet (None: the file's only one) whose used area reaches `rows` x `columns` so far."""
        c = self.caps
        fits = rows <= c.max_rows and columns <= c.max_columns
        if fits and self.cells + rows * columns <= c.max_cells:
            return
        where = f"的工作表“{clip(sheet)}”" if sheet is not None else ""
        if rows > c.max_rows:
            raise FileRefused(
                f"{where}超过{c.max_rows}行（上限），不是正常的报送表，拒绝读取", "too_many_rows"
            )
        if columns > c.max_columns:
            raise FileRefused(
                f"{where}超过{c.max_columns}列（上限），不是正常的报送表，拒绝读取",
                "too_many_columns",
            )
        if self.cells + rows * columns > c.max_cells:
            raise FileRefused(
                f"的表格区域超过{c.max_cells}个单元格（上限，按行数×列数计），"
                "不是正常的报送表，拒绝读取",
                "too_many_cells",
            )

    def done(self, rows: int, columns: int) -> None:
        self.cells += rows * columns


def read_sheets(data: bytes, file_name: str, caps: Caps | None = None) -> list[Sheet]:
    """The sheets of a file given as bytes; raise FileRefused with a Chinese reason."""
    caps = caps or Caps()
    ext = _ext(file_name)
    if not data:
        raise FileRefused("为空（0字节）", "empty")
    if ext not in SPREADSHEET_EXTS:
        raise FileRefused(
            f"的类型“{clip(ext, 20) or '无扩展名'}”不受支持（不支持的文件类型），"
            "请提交.xlsx、.xls或.csv文件",
            "unsupported_type",
        )
    budget = _Budget(caps)
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
        _scan_xls(data, budget)
        return _read_calamine(data, caps)
    if head.startswith(_ZIP):
        return _read_calamine(data, caps, _scan_xlsx(data, budget))
    if ext == ".xls" and head[:2] in _LEGACY_BOF:
        raise _legacy()
    if _looks_like_html(data):
        return _read_html(data, budget)
    if ext == ".csv":
        return [_read_csv(data, budget)]
    raise FileRefused(
        f"的内容不是电子表格（扩展名为{ext}，但无法识别为Excel工作簿），可能已损坏",
        "not_spreadsheet",
    )


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _legacy() -> FileRefused:
    return FileRefused(
        "是Excel 95或更早版本的旧格式工作簿，无法读取，请用Excel另存为.xlsx后重新报送", "legacy_xls"
    )


def _corrupt(what: str = "") -> FileRefused:
    return FileRefused(f"已损坏或格式不正确，无法读取{what}", "corrupt")


# --- .xlsx: the zip and its sheets' XML, streamed ---------------------------------------------


def _scan_xlsx(data: bytes, budget: _Budget) -> int:
    """Refuse zip bombs, macros, non-workbooks and sheets over the caps, before calamine runs.

    Returns the size of the largest member (as declared; calamine refuses one that is longer).
    """
    try:
        with _Zip(data) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            cap = budget.caps.max_uncompressed
            if total > cap:
                raise FileRefused(
                    f"解压后达{total / 1e6:.0f}MB，超过上限{cap / 1e6:.0f}MB，拒绝读取", "zip_bomb"
                )
            names = {i.filename for i in infos}
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                raise FileRefused("含宏的文件不予接收，请另存为 .xlsx", "macros")
            if "xl/workbook.bin" in names:
                raise FileRefused(
                    "是Excel二进制工作簿（.xlsb），无法读取，请另存为.xlsx后重新报送", "xlsb"
                )
            if "xl/workbook.xml" not in names:
                raise FileRefused(
                    "是压缩包而不是Excel工作簿（缺少workbook），不是电子表格，无法读取",
                    "not_spreadsheet",
                )
            strings = (
                zf.getinfo("xl/sharedStrings.xml") if "xl/sharedStrings.xml" in names else None
            )
            if strings is not None and strings.file_size > SMALL_PART:
                _scan_xml(zf, strings.filename, _SharedStrings(budget.caps))
            for part, sheet in _sheet_parts(zf, names):
                budget.sheet()
                area = _quick_area(zf, part, budget, sheet)
                if area is None:  # large, or written in a way the quick look cannot vouch for
                    scan = _SheetScan(budget, sheet)
                    _scan_xml(zf, part, scan)
                    area = scan.max_row, scan.max_col
                budget.done(*area)
            return max((i.file_size for i in infos), default=0)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        ValueError,
        OSError,
        EOFError,
        KeyError,
        RuntimeError,  # an encrypted zip member
        NotImplementedError,  # a compression method zipfile does not know
    ) as exc:
        raise FileRefused("已损坏（压缩结构不完整），无法读取", "corrupt") from exc


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a member's local header (zipfile's layout)
_UNUSUAL = 0x1 | 0x20 | 0x40  # encrypted, patched or strongly encrypted: zipfile names them


class _Zip(zipfile.ZipFile):
    """A workbook's zip in memory, whose members are read no further than they declare."""

    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data))
        self.data = data

    def member(self, info: zipfile.ZipInfo) -> bytes:
        """A member's bytes; one that is longer or shorter than it declares is damage (BadZipFile).

        `zf.read` decompresses a member whole, whatever size it declares: a sheet declaring a
        few KB that holds gigabytes grew the worker to its memory ceiling ("memory") instead of
        being refused as damaged. At most one byte past the declared size is decompressed here.
        Deflated and stored members are read from the bytes directly (zipfile's stream costs
        ~10 µs a member); anything else through zipfile, bounded the same way.
        """
        size = info.file_size
        if info.compress_type in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED) and not (
            info.flag_bits & _UNUSUAL
        ):
            raw = self._raw(info)
            if info.compress_type == zipfile.ZIP_STORED:
                out = raw
            else:
                out = zlib.decompressobj(-15).decompress(raw, size + 1)
        else:
            with self.open(info) as fh:
                out = fh.read(size + 1)
        if len(out) != size:
            raise zipfile.BadZipFile(f"{info.filename!r} is not of its declared size")
        if zlib.crc32(out) != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
        return out

    def _raw(self, info: zipfile.ZipInfo) -> bytes:
        """A member's compressed bytes, after the checks zipfile makes of its local header."""
        at = info.header_offset
        head = self.data[at : at + _LOCAL_HEADER.size]
        if len(head) != _LOCAL_HEADER.size:
            raise zipfile.BadZipFile("Truncated file header")
        magic, _, _, flags, *_, name_len, extra_len = _LOCAL_HEADER.unpack(head)
        if magic != _ZIP:
            raise zipfile.BadZipFile("Bad magic number for file header")
        at += _LOCAL_HEADER.size
        name = self.data[at : at + name_len].decode("utf-8" if flags & 0x800 else "cp437")
        if name != info.orig_filename:
            raise zipfile.BadZipFile(f"File name in directory and header differ: {name!r}")
        at += name_len + extra_len
        raw = self.data[at : at + info.compress_size]
        if len(raw) != info.compress_size:
            raise EOFError
        return raw


def _sheet_parts(zf: zipfile.ZipFile, names: set[str]) -> list[tuple[str, str]]:
    """(part, sheet name) of each worksheet the workbook lists, then any other worksheet part.

    Every part under xl/worksheets/ is measured whatever the workbook says: the workbook's own
    index only names the sheets and finds any kept elsewhere.
    """
    sheets = _index(zf, "xl/workbook.xml", "sheet", ("name", "r:id", "id"))
    rels = []
    if "xl/_rels/workbook.xml.rels" in names:
        rels = _index(zf, "xl/_rels/workbook.xml.rels", "Relationship", ("Id", "Target", "Type"))
    target = {r["Id"]: _part_path(r["Target"]) for r in rels if r["Type"].endswith("/worksheet")}
    out, seen = [], set()
    for s in sheets:
        part = target.get(s["r:id"] or s["id"])
        if part in names and part not in seen:
            out.append((part, s["name"]))
            seen.add(part)
    for n in sorted(names):
        if n.startswith("xl/worksheets/") and n.endswith(".xml") and n not in seen:
            out.append((n, n.rsplit("/", 1)[-1].removesuffix(".xml")))
    return out


def _index(zf: _Zip, part: str, tag: str, attrs: tuple[str, ...]) -> list[dict]:
    """_Collect's finds in one of the workbook's index parts, remembered by the part's bytes.

    Every file made from one template carries the same index parts: one parse serves them all.
    A part is known by its compressed bytes, method, declared size and CRC, which decide what
    member() and the parse make of it; its local header is checked in every file (_raw).
    """
    info = zf.getinfo(part)
    key = None
    if (
        info.compress_size <= INDEX_KEPT_BYTES
        and info.file_size <= QUICK_PART
        and info.compress_type in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED)
        and not info.flag_bits & _UNUSUAL
    ):
        key = (tag, attrs, info.compress_type, info.file_size, info.CRC, zf._raw(info))
        hit = _INDEXES.get(key)
        if hit is not None:
            return hit
    found = _Collect(tag, attrs)
    _scan_xml(zf, part, found, limit=MAX_XML_PART)
    if key is not None:
        if len(_INDEXES) >= INDEXES_KEPT:
            _INDEXES.clear()
        _INDEXES[key] = found.found
    return found.found


INDEX_KEPT_BYTES = 1 << 16  # index parts remembered are at most this long, compressed
INDEXES_KEPT = 64  # index parts remembered (a worker sees a few templates' in a night)
_INDEXES: dict[tuple, list[dict]] = {}


def _part_path(target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = ["xl"]
    for p in target.split("/"):
        if p == "..":
            parts = parts[:-1]
        elif p not in ("", "."):
            parts.append(p)
    return "/".join(parts)


def _scan_xml(zf: _Zip, part: str, handler, limit: int | None = None) -> None:
    """One XML part of the zip through an expat handler (no DTD, no entities); large ones streamed."""
    info = zf.getinfo(part)
    if limit is not None and info.file_size > limit:
        raise _corrupt()
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = handler.start
    if getattr(handler, "needs_text", False):
        parser.CharacterDataHandler = handler.chars

    def no_dtd(*_args) -> None:
        raise _corrupt()

    parser.StartDoctypeDeclHandler = no_dtd  # a workbook never has one; entities could explode
    parser.EntityDeclHandler = no_dtd
    try:
        if info.file_size <= QUICK_PART:  # a workbook's index parts, every night: one call
            parser.Parse(zf.member(info), True)
        else:
            with zf.open(info) as fh:  # never past the declared size (then its CRC is checked)
                while chunk := fh.read(1 << 20):
                    parser.Parse(chunk, False)
                parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise _corrupt() from exc


def _local(name: str) -> str:
    return name.rpartition(":")[2]


class _Collect:
    """Attributes of every element with a given local name (a workbook's small index parts)."""

    def __init__(self, tag: str, attrs: tuple[str, ...]):
        self.tag, self.attrs, self.found = tag, attrs, []

    def start(self, name: str, attrs: dict) -> None:
        if _local(name) == self.tag:
            by_local = {}
            for k, v in attrs.items():
                by_local.setdefault(k, v)
                by_local.setdefault(_local(k), v)
            self.found.append(
                {a: str(by_local.get(a) or by_local.get(_local(a)) or "") for a in self.attrs}
            )


class _SharedStrings:
    """Counts the shared strings: no more than the cells a file may hold, bounded text."""

    needs_text = True

    def __init__(self, caps: Caps):
        self.caps, self.count, self.text = caps, 0, 0

    def start(self, name: str, attrs: dict) -> None:
        if _local(name) == "si":
            self.count += 1
            if self.count > self.caps.max_cells:
                raise FileRefused(
                    f"的共享文本超过{self.caps.max_cells}条（上限），不是正常的报送表，拒绝读取",
                    "too_many_cells",
                )

    def chars(self, data: str) -> None:
        self.text += len(data)
        if self.text > MAX_SHARED_CHARS:
            raise FileRefused(
                f"的文本内容超过{MAX_SHARED_CHARS // 10_000}万个字符（上限），拒绝读取",
                "too_much_text",
            )


_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,4})\$?(\d{1,8})$")
QUICK_PART = 4_000_000  # sheet XML up to this size is first measured by a quick look
# Each cell with its position written first, as every writer puts it (letters, digits); a cell
# written otherwise (no position, or another attribute first: its groups empty) is left to the
# exact scan, as is a sheet with a prefixed cell or row tag or a CDATA section. A lazy search for
# `r=` anywhere in the tag cost twice as much; prefixed tags are looked for only where a colon
# before `c` or `row` hints at one (a search from the colon costs half of one from every tag).
_QUICK_CELLS = re.compile(rb'<c(?: r="([A-Z]{1,3})([0-9]{1,7})"|[\s/>])')
_PREFIX_HINT = re.compile(rb":(?:c|row)[\s/>]")  # in every prefixed cell or row tag
_PREFIXED = re.compile(rb"<\w+:(?:c|row)[\s/>]")


def _quick_area(zf: _Zip, part: str, budget: _Budget, sheet: str):
    """The area of every cell of a small sheet, blank ones included: a bound of the used area.

    Sound only when every cell states its position and no tag is prefixed; then, within the
    caps, the exact scan is not needed (the template's own sheets, every night). None: unsure.
    """
    info = zf.getinfo(part)
    if info.file_size > QUICK_PART:
        return None
    data = zf.member(info)
    if b"<![CDATA[" in data or (_PREFIX_HINT.search(data) and _PREFIXED.search(data)):
        return None
    cells = _QUICK_CELLS.findall(data)
    if not cells:
        return 0, 0
    letters, numbers = zip(*cells, strict=True)
    if not all(letters):
        return None  # a cell without its position first
    rows = max(map(int, numbers))
    cols = max(_column_number(c.decode()) for c in set(letters))
    c = budget.caps
    fits = rows <= c.max_rows and cols <= c.max_columns
    return (rows, cols) if fits and budget.cells + rows * cols <= c.max_cells else None


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


class _SheetScan:
    """The used area of one worksheet's XML (cells with a value), checked against the caps.

    Only element starts are looked at (a handful per cell): a cell counts once a `<v>` or `<is>`
    opens inside it; a cell with neither (a formatted blank, a formula never calculated) is
    empty, as calamine reads it.
    """

    def __init__(self, budget: _Budget, sheet: str):
        self.budget, self.sheet = budget, sheet
        self.row = self.col = self.max_row = self.max_col = 0
        self.cell: tuple[int, int] | None = None  # (row, column) of the open cell, until valued
        self.kinds: dict[str, str] = {}

    def start(self, name: str, attrs: dict) -> None:
        kind = self.kinds.get(name)
        if kind is None:
            kind = self.kinds[name] = _KINDS.get(_local(name), "")
        if not kind:
            return
        if kind == "c":
            ref = attrs.get("r")
            m = _CELL_REF.match(ref) if ref else None
            if m:
                self.col, row = _column_number(m.group(1)), int(m.group(2))
            else:
                self.col, row = self.col + 1, self.row
            self.cell = (row, self.col)
        elif kind == "row":
            r = attrs.get("r")
            self.row = int(r) if r and r.isdigit() else self.row + 1
            self.col = 0
            self.cell = None
        elif self.cell is not None:  # <v> or <is>: the open cell holds a value
            row, col = self.cell
            self.cell = None
            if row > self.max_row or col > self.max_col:
                rows, cols = max(self.max_row, row), max(self.max_col, col)
                self.budget.check(self.sheet, rows, cols)
                self.max_row, self.max_col = rows, cols


_KINDS = {"c": "c", "row": "row", "v": "value", "is": "value"}


# --- .xls: the BIFF records of the OLE2 container ---------------------------------------------

_BOF, _EOF, _FILEPASS = 0x0809, 0x000A, 0x002F
# Records of a cell with a value: (row, column) are their first two 16-bit fields.
_CELL_RECORDS = frozenset({0x0203, 0x0204, 0x0205, 0x0006, 0x027E, 0x00FD, 0x00D6})
_MULRK = 0x00BD


def _scan_xls(data: bytes, budget: _Budget) -> None:
    """Name legacy and encrypted workbooks, and refuse sheets over the caps, from the records."""
    from xlrd.compdoc import CompDoc, CompDocError

    try:
        doc = CompDoc(data, logfile=io.StringIO())
        stream = doc.get_named_stream("Workbook")
        if stream is None:
            if doc.get_named_stream("Book") is not None:
                raise _legacy()
            raise FileRefused(
                "是Office文档，但不是Excel工作簿（可能是Word等其他文件改了扩展名），无法读取",
                "not_spreadsheet",
            )
    except CompDocError as exc:
        raise _corrupt() from exc
    except (IndexError, struct.error, ValueError) as exc:
        raise _corrupt() from exc
    _scan_biff(stream, budget)


def _scan_biff(stream: bytes, budget: _Budget) -> None:
    """Walk the workbook stream: globals first (version, password), then one substream a sheet."""
    pos, end = 0, len(stream)
    depth, sub = 0, -1  # sub: -1 before the first record, 0 the globals, n the n-th sheet
    rows = cols = 0
    unpack = struct.unpack_from
    while pos + 4 <= end:
        rtype, size = unpack("<HH", stream, pos)
        body = pos + 4
        pos = body + size
        if sub == -1:
            if rtype != _BOF or size < 2:
                raise _corrupt()
            if unpack("<H", stream, body)[0] != 0x0600:
                raise _legacy()  # BIFF5 (Excel 5.0/95) and older
        if rtype == _BOF:
            if depth == 0:
                sub += 1
                rows = cols = 0
                if sub >= 1:
                    budget.sheet()
            depth += 1
        elif rtype == _EOF:
            depth = max(0, depth - 1)
            if depth == 0 and sub >= 1:
                budget.done(rows, cols)
        elif sub == 0 and rtype == _FILEPASS:
            raise FileRefused(
                "已加密（设置了打开密码），无法读取，请取消密码后重新报送", "encrypted"
            )
        elif sub >= 1 and depth >= 1 and size >= 4 and (rtype in _CELL_RECORDS or rtype == _MULRK):
            row, col = unpack("<HH", stream, body)
            if rtype == _MULRK and size >= 6:
                col = unpack("<H", stream, pos - 2)[0]
            r, c = max(rows, row + 1), max(cols, col + 1)
            if r != rows or c != cols:
                budget.check(f"第{sub}个工作表", r, c)
                rows, cols = r, c
    if sub == -1:
        raise _corrupt()


# --- calamine: the workbook, now known to be within the caps ----------------------------------


def _read_calamine(data: bytes, caps: Caps, largest_part: int | None = None) -> list[Sheet]:
    """The sheets as calamine reads them; `largest_part`: the size of an .xlsx's largest member.

    A cell's text comes from one member's XML (its sheet's or the shared strings'), at least a
    byte a character: where no member is longer than a cell may be, no cell's length is checked.
    """
    from python_calamine import CalamineWorkbook, PasswordError

    check_text = largest_part is None or largest_part > MAX_CELL_CHARS
    budget = _Budget(caps)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = []
        for name in wb.sheet_names:
            budget.sheet()
            # Absolute positions: row numbers must match what the spreadsheet shows.
            sheet = wb.get_sheet_by_name(name)
            height, width = sheet.height, sheet.width  # the area from A1 (the scan's bound)
            budget.check(name, height, width)
            budget.done(height, width)
            # Empty strings as None, inline: a function call for each of a workbook's hundreds of
            # cells cost more.
            rows = [
                [None if c == "" else c for c in row]
                for row in sheet.to_python(skip_empty_area=False)
            ]
            if check_text:
                _check_text(rows, name)
            _fill_merged(rows, getattr(sheet, "merged_cell_ranges", None) or [], caps)
            sheets.append(Sheet(name[:SHEET_NAME_CHARS], rows))
    except FileRefused:
        raise
    except PasswordError as exc:
        raise FileRefused(
            "已加密（设置了打开密码），无法读取，请取消密码后重新报送", "encrypted"
        ) from exc
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        raise _corrupt() from exc
    return sheets


def _check_text(rows: list[list[object]], sheet: str) -> None:
    for n, row in enumerate(rows, start=1):
        for cell in row:
            if cell.__class__ is str and len(cell) > MAX_CELL_CHARS:
                raise _too_long(sheet, n)


def _too_long(sheet: str, row: int) -> FileRefused:
    return FileRefused(
        f"的工作表“{clip(sheet)}”第{row}行有单元格超过{MAX_CELL_CHARS}个字符"
        "（Excel单元格的上限），不是正常的报送内容，拒绝读取",
        "cell_too_long",
    )


def _fill_merged(rows: list[list[object]], ranges, caps: Caps) -> None:
    """Show a merged cell's value in every cell it covers, as the spreadsheet displays it."""
    clipped = []
    area = 0
    for (r0, c0), (r1, c1) in ranges:
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        r1, c1 = min(r1, len(rows) - 1), min(c1, len(rows[r0]) - 1)  # never grows the grid
        area += max(0, r1 - r0 + 1) * max(0, c1 - c0 + 1)
        clipped.append((r0, c0, r1, c1))
    if area > caps.max_cells:  # merged areas overlap: a real sheet's never do
        raise FileRefused(
            "的合并单元格区域重叠或过多，不是正常的报送表，拒绝读取", "too_many_cells"
        )
    for r0, c0, r1, c1 in clipped:
        value = rows[r0][c0]
        for r in range(r0, r1 + 1):
            row = rows[r]
            for c in range(c0, min(c1, len(row) - 1) + 1):
                if row[c] is None:
                    row[c] = value


# --- text: CSV and HTML -----------------------------------------------------------------------


def _looks_like_html(data: bytes) -> bool:
    start = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<table", b"<meta")) or (
        start.startswith(b"<") and b"<table" in data[:65536].lower()
    )


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Text of a file in UTF-8 (with or without BOM), UTF-16/32 with BOM, a declared charset, GB18030."""
    try:
        if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            return data.decode("utf-32")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise _encoding() from exc
    candidates = ["utf-8"]
    if declared:
        candidates.insert(0, declared)
    candidates.append("gb18030")  # Excel "Save as CSV" on a Chinese Windows
    for enc in candidates:
        try:
            return data.decode(_alias(enc), errors="strict")
        except (UnicodeDecodeError, LookupError):
            continue
    raise _encoding()


def _encoding() -> FileRefused:
    return FileRefused("的字符编码无法识别（应为UTF-8或GB18030），请另存为UTF-8编码", "encoding")


def _alias(enc: str) -> str:
    # gb2312 and gbk declarations are routinely wrong about characters outside them.
    return "gb18030" if enc.lower().replace("-", "") in ("gb2312", "gbk", "cp936") else enc


def _read_csv(data: bytes, budget: _Budget) -> Sheet:
    wide = data.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
    )
    if not wide and b"\x00" in data:
        raise FileRefused("的内容不是电子表格文本（含二进制数据），可能已损坏", "not_spreadsheet")
    text = decode_text(data)
    if "\x00" in text:
        raise FileRefused("的内容不是电子表格文本（含二进制数据），可能已损坏", "not_spreadsheet")
    budget.sheet()
    delimiter = _delimiter(text[:16384])
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[object]] = []
    blank = width = 0
    caps = budget.caps
    # budget.check's own test, inline: a call for every row cost more; it raises the refusal
    max_rows, max_columns, max_cells = (
        caps.max_rows,
        caps.max_columns,
        caps.max_cells - budget.cells,
    )
    previous = csv.field_size_limit(MAX_CELL_CHARS)
    try:
        for row in reader:
            while row and row[-1] == "":
                row.pop()  # trailing empty cells of a sheet saved wider than its data
            if not row:
                blank += 1  # kept only if a row with content follows
                continue
            if len(row) > width:
                width = len(row)
            height = len(rows) + blank + 1
            if height > max_rows or width > max_columns or height * width > max_cells:
                budget.check(None, height, width)
            if blank:
                rows.extend([] for _ in range(blank))
                blank = 0
            rows.append([c or None for c in row])  # empty text as None
    except csv.Error as exc:
        line = len(rows) + blank + 1
        if "field larger than field limit" in str(exc):
            raise FileRefused(
                f'第{line}行起有单元格超过{MAX_CELL_CHARS}个字符（可能有未闭合的引号“"”），'
                "不是正常的报送内容，拒绝读取",
                "cell_too_long",
            ) from exc
        raise FileRefused(f"的CSV格式已损坏（第{line}行附近），无法读取", "corrupt") from exc
    finally:
        csv.field_size_limit(previous)
    budget.done(len(rows), width)
    return Sheet("csv", rows)


def _delimiter(sample: str) -> str:
    """The delimiter that splits the widest line of the sample (comma on a tie)."""
    if "\t" not in sample and ";" not in sample:
        return ","  # the others split no line: the comma wins or ties (most files, every night)
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


def _read_html(data: bytes, budget: _Budget) -> list[Sheet]:
    """Tables of an HTML page saved under an .xls name, cell text kept exactly as shown.

    The page is parsed as a stream of tags: each row is turned into cells when it ends and
    then dropped, so memory holds the grids, never the whole document.
    """
    from lxml import etree

    m = _META_CHARSET.search(data[:4096])
    text = decode_text(data, m.group(1).decode("ascii", "replace") if m else None)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses str input with a declaration
    parser = etree.HTMLPullParser(events=("start", "end"))
    open_tables: list[_Grid] = []
    grids: list[_Grid] = []
    try:
        for at in range(0, len(text), HTML_CHUNK):
            parser.feed(text[at : at + HTML_CHUNK])
            _html_events(parser, open_tables, grids, budget)
        parser.close()
        _html_events(parser, open_tables, grids, budget)
    except FileRefused:
        raise
    except Exception as exc:  # lxml raises ParserError / XMLSyntaxError on garbage
        raise FileRefused("是HTML网页，但已损坏，无法读取", "corrupt") from exc
    sheets = [Sheet(g.name, g.rows) for g in sorted(grids, key=lambda g: g.number)]
    if not sheets:
        raise FileRefused("是HTML网页，但其中没有表格，不是电子表格，无法读取", "not_spreadsheet")
    return sheets


def _html_events(parser, open_tables: list, grids: list, budget: _Budget) -> None:
    for event, el in parser.read_events():
        tag = el.tag
        if tag == "table":
            if event == "start":
                budget.sheet()
                open_tables.append(_Grid(f"表{budget.sheets}", budget.sheets, budget))
            elif open_tables:
                grid = open_tables.pop()
                budget.done(len(grid.rows), grid.width)
                grids.append(grid)
                _drop(el)
        elif event == "start":
            continue
        elif tag == "tr" and open_tables:  # a row ends: it belongs to the innermost open table
            cells = []
            for td in el:
                if td.tag in ("td", "th"):
                    value = " ".join(_text(td).split()) or None
                    if value is not None and len(value) > MAX_CELL_CHARS:
                        raise _too_long(open_tables[-1].name, len(open_tables[-1].rows) + 1)
                    cells.append((value, _span(td.get("colspan")), _span(td.get("rowspan"))))
            open_tables[-1].add(cells)
            _drop(el)
        elif not open_tables:
            _drop(el)  # page content outside any table is never kept


def _text(el) -> str:
    from lxml import etree

    return etree.tostring(el, method="text", encoding=str, with_tail=False)


def _drop(el) -> None:
    """Free a finished element and the finished siblings before it (a streaming parse)."""
    el.clear()
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


class _Grid:
    """Rows of an HTML table with merged cells (rowspan, colspan) repeated over their area.

    Each row costs time in proportion to its width, and the width is capped: the whole grid is
    built in time linear in its cells (the caps bound them before they are made).
    """

    def __init__(self, name: str, number: int, budget: _Budget):
        self.name, self.number, self.budget = name, number, budget
        self.rows: list[list[object]] = []
        self.width = 0
        self.carried: list[list] = []  # per column: [rows still covered, value] or []
        self.last_carried = -1  # the highest column with something carried

    def add(self, cells: list[tuple[object, int, int]]) -> None:
        row: list[object] = []
        carried = self.carried
        cap = self.budget.caps.max_columns
        it = iter(cells)
        pending = next(it, None)
        col = 0
        while pending is not None or col <= self.last_carried:
            if col < len(carried) and carried[col]:
                slot = carried[col]
                row.append(slot[1])
                slot[0] -= 1
                if slot[0] == 0:
                    carried[col] = []
                col += 1
                continue
            if pending is None:
                row.append(None)
                col += 1
                continue
            value, colspan, rowspan = pending
            pending = next(it, None)
            if col + colspan > cap:
                self.budget.check(self.name, len(self.rows) + 1, col + colspan)
            for _ in range(colspan):
                if rowspan > 1:
                    while len(carried) <= col:
                        carried.append([])
                    carried[col] = [rowspan - 1, value]
                    self.last_carried = max(self.last_carried, col)
                row.append(value)
                col += 1
        while self.last_carried >= 0 and not (
            self.last_carried < len(carried) and carried[self.last_carried]
        ):
            self.last_carried -= 1
        self.width = max(self.width, len(row))
        self.budget.check(self.name, len(self.rows) + 1, self.width)
        self.rows.append(row)


def _span(text: str | None) -> int:
    try:
        return max(1, min(int(text or 1), 1000))
    except ValueError:
        return 1
