"""Reading submitted files into sheets of raw cells, refusing what cannot be read safely.

Every reader checks the caps (rows, columns and cells of a sheet's used area) while it streams,
before any sheet is built: a CSV row by row, an HTML page tag by tag (the table grid is built in
time linear in its cells), an .xlsx by streaming its sheets' XML before python-calamine (which
builds whole sheets at once) opens it, an .xls by walking its BIFF records. An .xlsx whose
sheets are plainly written (the template's) is read from the bytes the pre-scan inflated, to
exactly what calamine would return; calamine reads any other. Reasons are Chinese and never
carry an exception's name.
"""

from __future__ import annotations

import codecs
import csv
import datetime
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
        book = _scan_xlsx(data, budget)
        plain = _read_plain(book, caps)
        return plain if plain is not None else _read_calamine(data, caps, book.largest)
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


@dataclass
class _Book:
    """What the pre-scan learnt of an .xlsx, for the plain reader: nothing is read twice."""

    largest: int  # the largest member's declared size (calamine refuses one that is longer)
    sheets: list[tuple[str, _Plain | None]]  # name, and what the plain reader made of it


def _scan_xlsx(data: bytes, budget: _Budget) -> _Book:
    """Refuse zip bombs, macros, non-workbooks and sheets over the caps, before calamine runs."""
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
            parts, listed = _sheet_parts(zf, names)
            context = _plain_context(zf, names) if listed else None
            sheets: list[tuple[str, _Plain | None]] = []
            for part, sheet in parts:
                budget.sheet()
                area, plain = _quick_area(zf, part, budget, sheet, context)
                if area is None:  # large, or written in a way the quick look cannot vouch for
                    scan = _SheetScan(budget, sheet)
                    _scan_xml(zf, part, scan)
                    area = scan.max_row, scan.max_col
                budget.done(*area)
                sheets.append((sheet, plain))
            largest = max((i.file_size for i in infos), default=0)
            return _Book(largest, sheets)
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


def _sheet_parts(zf: zipfile.ZipFile, names: set[str]) -> tuple[list[tuple[str, str]], bool]:
    """(part, sheet name) of each worksheet the workbook lists, then any other worksheet part.

    Every part under xl/worksheets/ is measured whatever the workbook says: the workbook's own
    index only names the sheets and finds any kept elsewhere. The flag: every sheet the
    workbook lists is a worksheet found here, and there is no other (what calamine reads).
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
    listed = len(out) == len(sheets)
    for n in sorted(names):
        if n.startswith("xl/worksheets/") and n.endswith(".xml") and n not in seen:
            out.append((n, n.rsplit("/", 1)[-1].removesuffix(".xml")))
            listed = False
    return out, listed


def _index(zf: _Zip, part: str, tag: str, attrs: tuple[str, ...]) -> list[dict]:
    """_Collect's finds in one of the workbook's index parts, remembered by the part's bytes.

    Every file made from one template carries the same index parts: one parse serves them all.
    """

    def parse() -> list[dict]:
        found = _Collect(tag, attrs)
        _scan_xml(zf, part, found, limit=MAX_XML_PART)
        return found.found

    return _by_content(zf, part, _INDEXES, parse, tag, attrs)


def _by_content(zf: _Zip, part: str, cache: dict, read, *about):
    """`read()`, remembered in `cache` by the part's content (and `about`, what was read of it).

    A part is known by its compressed bytes, method, declared size and CRC, which decide what
    member() and a parse make of it; its local header is checked in every file (_raw). Large,
    unusual parts are read every time.
    """
    info = zf.getinfo(part)
    if (
        info.compress_size > INDEX_KEPT_BYTES
        or info.file_size > QUICK_PART
        or info.compress_type not in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED)
        or info.flag_bits & _UNUSUAL
    ):
        return read()
    key = (*about, info.compress_type, info.file_size, info.CRC, zf._raw(info))
    if key in cache:
        return cache[key]
    value = read()
    if len(cache) >= INDEXES_KEPT:
        cache.clear()
    cache[key] = value
    return value


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
PLAIN_PART = (
    1 << 18
)  # sheet XML up to this size may be read by the plain reader (the template's: 5-15 KB)
# Each cell with its position written first, as every writer puts it (letters, digits); a cell
# written otherwise (no position, or another attribute first: its groups empty) is left to the
# exact scan, as is a sheet with a prefixed cell or row tag or a CDATA section. A lazy search for
# `r=` anywhere in the tag cost twice as much; prefixed tags are looked for only where a colon
# before `c` or `row` hints at one (a search from the colon costs half of one from every tag).
_QUICK_CELLS = re.compile(rb'<c(?: r="([A-Z]{1,3})([0-9]{1,7})"|[\s/>])')
_PREFIX_HINT = re.compile(rb":(?:c|row)[\s/>]")  # in every prefixed cell or row tag
_PREFIXED = re.compile(rb"<\w+:(?:c|row)[\s/>]")


def _quick_area(zf: _Zip, part: str, budget: _Budget, sheet: str, context=None):
    """The area of every cell of a small sheet, blank ones included: a bound of the used area.

    Sound only when every cell states its position and no tag is prefixed; then, within the
    caps, the exact scan is not needed (the template's own sheets, every night). None: unsure.
    With the area, the plain reader's reading of the sheet where it is sure of it (`context`:
    the workbook's, see _plain_context): its cells give the same area, found once.
    """
    info = zf.getinfo(part)
    if info.file_size > QUICK_PART:
        return None, None
    data = zf.member(info)
    if b"<![CDATA[" in data or (_PREFIX_HINT.search(data) and _PREFIXED.search(data)):
        return None, None
    plain = _plain_sheet(data, *context) if context and len(data) <= PLAIN_PART else None
    if plain is not None:
        rows, cols = plain.area
        c = budget.caps
        fits = rows <= c.max_rows and cols <= c.max_columns
        if fits and budget.cells + rows * cols <= c.max_cells:
            return (rows, cols), plain
        return None, None
    cells = _QUICK_CELLS.findall(data)
    if not cells:
        return (0, 0), None
    letters, numbers = zip(*cells, strict=True)
    if not all(letters):
        return None, None  # a cell without its position first
    rows = max(map(int, numbers))
    cols = max(_column_number(c.decode()) for c in set(letters))
    c = budget.caps
    fits = rows <= c.max_rows and cols <= c.max_columns
    if fits and budget.cells + rows * cols <= c.max_cells:
        return (rows, cols), None
    return None, None


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


# --- .xlsx: plainly written worksheets, read from the bytes the pre-scan inflated -----------
#
# calamine opens the zip again, inflates and parses every sheet twice (python-calamine 0.9.1
# builds the merged-cell list by a second parse) and the template's sheets are plain: cells in
# one canonical form. The plain reader reads such sheets from the pre-scan's bytes and returns
# exactly what _read_calamine would; anything it cannot vouch for (other cell forms, prefixed
# tags, CDATA, comments, errors, rich text, `_xHHHH_` escapes, formats not known to be read as
# calamine reads them, the 1904 date system, ...) makes it answer None and calamine reads the
# file, as before. tests/ingest/test_plain_xlsx.py holds it to calamine on a generated corpus.

_MAIN_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_ANY_CELL = re.compile(rb"<c[\s/>]")
_ANY_MERGE = re.compile(rb"<mergeCell[\s/>]")
# One cell in the form Excel, WPS and openpyxl write: position, then style, then type; an
# optional formula (no attribute holding `>`, no entity in its text), then a value or an inline
# string of one text run (not empty: calamine counts it in the area, it reads as None). Any other
# form of a cell is left between the matches, where only row tags may be (_plain_sheet). Without
# `xml:space="preserve"` calamine trims a text's ends: a text with spaces there is left to it.
_PLAIN_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]{1,7})"(?: s="([0-9]{1,5})")?(?: t="([a-zA-Z]{1,9})")?'
    rb"(?:/>|>(?:<f(?: [^<>]*)?(?:/>|>[^<&]*</f>))?"
    rb'(?:<v>([^<]*)</v>|<is><t( xml:space="preserve")?>([^<]+)</t></is>)?</c>)'
)
# Row tags (the cells say where they are), all that may lie between the cells.
_ROW_TAGS = re.compile(rb'(?:<row(?: [a-zA-Z0-9:]+="[^"<>&]*")*(?:/>|>)|</row>)*')
_NUMBER = re.compile(rb"-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?")
_MERGE = re.compile(rb'<mergeCell ref="([A-Z]{1,3})([0-9]{1,7}):([A-Z]{1,3})([0-9]{1,7})"/>')
_SHARED = re.compile(rb'<si><t( xml:space="preserve")?>([^<]+)</t></si>')
_SST_HEAD = re.compile(rb'<sst(?: [a-zA-Z:]+="[^"<>&]*")*>')
_XML_DECL = re.compile(rb'<\?xml version="1\.0" encoding="UTF-8"(?: standalone="yes")?\?>\r?\n?')
_ESCAPE = re.compile(rb"_x[0-9A-Fa-f]")  # the start of an `_xHHHH_` escape (calamine decodes it)
_EPOCH = datetime.date(1899, 12, 30)
# A date cell is read as a date when its serial is a whole number; before 1 March 1900 Excel's
# calendar has its phantom 29 February, and past 9999 there is no date: left to calamine.
_FIRST_DATE, _LAST_DATE = 61, 2_958_465
# Built-in number formats calamine reads as numbers, and as dates (tests/ingest: each held to
# calamine); custom format codes likewise. Any other format of a number cell: left to calamine.
_NUMBER_FORMATS = frozenset({0, 1, 2, 3, 4, 9, 10, 11, 12, 13, 49})
_DATE_FORMATS = frozenset({14})
_NUMBER_CODES = frozenset(
    {"General", "0", "0.0", "0.00", "0.000", "#,##0", "#,##0.00", "0%", "0.0%", "0.00%", "@"}
)
_DATE_CODES = frozenset(
    {"yyyy-mm-dd", "yyyy/m/d", "yyyy/mm/dd", "yyyy-m-d", 'yyyy"年"m"月"d"日"', "m/d/yyyy"}
)
_STYLES: dict[tuple, tuple | None] = {}  # a workbook's styles, by content (see _index)


class _Unsure(Exception):
    """The plain reader cannot vouch for what calamine makes of the file: calamine reads it."""


def _read_plain(book: _Book, caps: Caps) -> list[Sheet] | None:
    """The sheets exactly as _read_calamine returns them, or None where that is not sure."""
    if not book.sheets or any(plain is None for _, plain in book.sheets):
        return None
    # What calamine's path does, in its order: the caps, each cell's length, merged cells.
    budget = _Budget(caps)
    check_text = book.largest > MAX_CELL_CHARS
    out = []
    for name, plain in book.sheets:
        budget.sheet()
        height, width, rows = _grid(plain.cells, *plain.span)
        out.append(_sheet(name, height, width, rows, list(plain.merged), budget, check_text))
    return out


@dataclass
class _Plain:
    """A worksheet as the plain reader read it: what calamine would make of it, before the grid."""

    area: tuple[int, int]  # rows and columns of every cell, blank ones included (the quick look's)
    cells: list[tuple[int, int, object]]  # (row, column, value) of the cells with a value, in order
    span: tuple[int, int]  # their first column and the width of the rows from A1
    merged: tuple  # ((first row, first column), (last row, last column)) of each merged range


def _plain_context(zf: _Zip, names: set[str]):
    """(styles, shared strings) for the plain reader, or None where it cannot vouch for them."""
    strings = zf.getinfo("xl/sharedStrings.xml") if "xl/sharedStrings.xml" in names else None
    if strings is not None and strings.file_size > SMALL_PART:
        return None  # measured by the exact scan, left to calamine
    try:
        _plain_workbook(zf)
        return _plain_styles(zf, names), _plain_strings(zf, names)
    except Exception:  # _Unsure, or anything unforeseen: calamine decides, as before
        return None


def _plain_workbook(zf: _Zip) -> None:
    """Refuse (_Unsure) the 1904 date system, and sheet names whose spacing XML parsers differ on."""
    if not _remembered(zf, "xl/workbook.xml", _WORKBOOKS, _workbook_plain):
        raise _Unsure


def _workbook_plain(data: bytes) -> bool:
    start, end = data.find(b"<sheets>"), data.find(b"</sheets>")
    # expat turns tabs and line ends into spaces in an attribute, calamine keeps them
    spaced = any(ch in data[start:end] for ch in (b"\t", b"\n", b"\r"))
    return b"date1904" not in data and start >= 0 and end >= 0 and not spaced


def _remembered(zf: _Zip, part: str, cache: dict, read):
    """`read` of a small part's bytes, remembered by the part's content (_by_content)."""
    info = zf.getinfo(part)
    if info.file_size > SMALL_PART:
        raise _Unsure
    return _by_content(zf, part, cache, lambda: read(zf.member(info)))


_WORKBOOKS: dict[tuple, bool] = {}  # whether a workbook part is plain, by content


def _plain_styles(zf: _Zip, names: set[str]) -> tuple | None:
    """Per cell style: "n" read as a number, "d" as a date, "?" unsure; None: no styles part."""
    if "xl/styles.xml" not in names:
        return None
    kinds = _remembered(zf, "xl/styles.xml", _STYLES, _style_kinds)
    if kinds is None:
        raise _Unsure
    return kinds


def _style_kinds(data: bytes) -> tuple | None:
    """The kind of each cell format (cellXfs) of a styles part; None if it is not plain."""
    import xml.etree.ElementTree as ET

    if _MAIN_NS not in data or b"<!" in data:
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    if root.tag != ns + "styleSheet":
        return None
    codes: dict[int, str] = {}
    for fmt in root.iter(ns + "numFmt"):
        codes[int(fmt.get("numFmtId", ""))] = fmt.get("formatCode", "")
    xfs = root.findall(ns + "cellXfs")
    if len(xfs) != 1:
        return None
    kinds = []
    for xf in xfs[0]:
        if xf.tag != ns + "xf" or xf.get("applyNumberFormat") in ("0", "false"):
            return None
        n = int(xf.get("numFmtId", "0"))
        if n in codes:
            code = codes[n]
            kind = "n" if code in _NUMBER_CODES else "d" if code in _DATE_CODES else "?"
            kinds.append(kind if n >= 164 else "?")  # a built-in redefined: unsure
        else:
            kinds.append("n" if n in _NUMBER_FORMATS else "d" if n in _DATE_FORMATS else "?")
    return tuple(kinds)


def _plain_strings(zf: _Zip, names: set[str]) -> list[str]:
    """The shared strings, each of one plain text run, none empty."""
    if "xl/sharedStrings.xml" not in names:
        return []
    data = zf.member(zf.getinfo("xl/sharedStrings.xml"))
    at = _after_declaration(data)
    head = _SST_HEAD.match(data, at)
    end = data.rfind(b"</sst>")
    if not head or _MAIN_NS not in data[at : head.end()] or end < head.end():
        raise _Unsure
    parts = _SHARED.split(data[head.end() : end])
    if any(parts[::3]) or data[end + 6 :].strip():
        raise _Unsure  # anything but plain strings in the part
    strings = _decode(parts[2::3])
    _untrimmed([s for s, keep in zip(strings, parts[1::3], strict=True) if keep is None])
    return strings


def _plain_sheet(data: bytes, styles: tuple | None, strings: list[str]) -> _Plain | None:
    """A plain worksheet read as calamine reads it; None if the plain reader cannot vouch for it."""
    try:
        at = _after_declaration(data)
        head = data[at : data.find(b">", at)]
        if not data.startswith(b"<worksheet ", at) or _MAIN_NS not in head:
            return None
        start = data.find(b"<sheetData>")
        if start < 0:
            start = data.find(b"<sheetData/>")
            end = start + 12
            body = b""
        else:
            end = data.find(b"</sheetData>", start) + 12
            body = data[start + 11 : end - 12]
        if start < 0 or end < 12 or data.find(b"<sheetData", start + 1) >= 0:
            return None
        merged = _outside(data[:start] + b"<sheetData/>" + data[end:])
        parts = _PLAIN_CELL.split(body)
        if not _ROW_TAGS.fullmatch(b"".join(parts[::8])):
            return None  # anything but rows and plain cells in the sheet's data
        texts: list[bytes] = []
        loose: list[int] = []  # which of them were written without xml:space="preserve"
        cells, area, span = _cells(parts, styles, strings, texts, loose)
        if texts:
            new = _decode(texts)
            _untrimmed([new[i] for i in loose])
            decoded = iter(new)
            cells = [(r, c, next(decoded) if v is _TEXT else v) for r, c, v in cells]
        return _Plain(area, cells, span, merged)
    except Exception:  # _Unsure, or anything unforeseen: calamine decides, as before
        return None


def _outside(rest: bytes) -> tuple:
    """The merged cells of a sheet outside its data, which must be well formed; remembered.

    The same template gives the same bytes outside the data (views, widths, merges,
    validations) to every file with as many rows: one parse serves them all.
    """
    merged = _OUTSIDE.get(rest)
    if merged is None:
        _well_formed(rest)
        if _ANY_CELL.search(rest):
            raise _Unsure  # a cell outside the data: the quick look's area would count it
        merged = _plain_merged(rest)
        if len(rest) <= OUTSIDE_KEPT_BYTES:
            if len(_OUTSIDE) >= OUTSIDES_KEPT:
                _OUTSIDE.clear()
            _OUTSIDE[rest] = merged
    return merged


OUTSIDE_KEPT_BYTES = 1 << 14  # outsides remembered are at most this long (the template's: 1-3 KB)
OUTSIDES_KEPT = 256  # outsides remembered: at most 4 MB
_OUTSIDE: dict[bytes, tuple] = {}


def _after_declaration(data: bytes) -> int:
    """Where a part's XML starts after its declaration; refuse (_Unsure) an unusual one."""
    decl = _XML_DECL.match(data)
    return decl.end() if decl else 0


def _well_formed(data: bytes) -> None:
    """Refuse (_Unsure) XML expat cannot parse, or with comments, CDATA or a DTD (`<!`)."""
    if b"<!" in data:
        raise _Unsure
    try:
        expat.ParserCreate().Parse(data, True)
    except expat.ExpatError as exc:
        raise _Unsure from exc


def _decode(texts: list[bytes]) -> list[str]:
    """XML texts (none empty) not seen before, decoded (and remembered: _TEXTS)."""
    out = _parse_texts(texts)
    if len(_TEXTS) + len(_SPACED) + len(texts) > TEXTS_KEPT:
        _TEXTS.clear()
        _SPACED.clear()
    for t, o in zip(texts, out, strict=True):
        if len(t) <= TEXT_KEPT_BYTES:
            (_SPACED if o[0].isspace() or o[-1].isspace() else _TEXTS)[t] = o
    return out


TEXT_KEPT_BYTES = 512  # texts remembered are at most this long (the template's: 360 at most)
TEXTS_KEPT = 4096  # texts remembered: with their decoded text, a few MB at most
# Texts decoded before, by their bytes in the XML: a template's recur from file to file (names,
# codes, units, the instructions), 97 in 100 over the province.
_TEXTS: dict[bytes, str] = {}
# Those whose text starts or ends with a space apart: calamine trims them unless the XML says
# xml:space="preserve" (each dict is whole on its own: a reader in another thread sees a text
# in one or in neither).
_SPACED: dict[bytes, str] = {}


def _parse_texts(texts: list[bytes]) -> list[str]:
    """XML texts (none empty) decoded by one expat parse, which refuses what XML forbids.

    One C parse of them all, each in its own tag, costs far less than a Python call a character
    reference (the template writes Chinese as `&#NNNNN;`). Carriage returns (XML parsers
    differ on line ends) and `_xHHHH_` escapes (calamine decodes them) are left to calamine.
    """
    doc = b"<a><b>" + b"</b><b>".join(texts) + b"</b></a>"
    if b"\r" in doc or _ESCAPE.search(doc):
        raise _Unsure
    found: list[str] = []
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = len(doc)  # one buffer: each text handed over whole
    parser.CharacterDataHandler = found.append
    parser.EndElementHandler = len  # any handler: expat hands over the text at each end tag
    try:
        parser.Parse(doc, True)
    except expat.ExpatError as exc:
        raise _Unsure from exc
    if len(found) != len(texts):
        raise _Unsure
    return found


def _untrimmed(texts: list[str]) -> None:
    """Refuse (_Unsure) texts calamine would trim: written without xml:space="preserve", spaced.

    calamine trims XML's spaces; Python's `isspace` holds them and more (ideographic, no-break).
    """
    for text in texts:
        if text[0].isspace() or text[-1].isspace():
            raise _Unsure


def _plain_merged(rest: bytes) -> tuple:
    found = _MERGE.findall(rest)
    if len(found) != len(_ANY_MERGE.findall(rest)):
        raise _Unsure  # a merged range written otherwise
    out = []
    for c0, r0, c1, r1 in found:
        first = (int(r0) - 1, _column(c0))
        last = (int(r1) - 1, _column(c1))
        if first[0] > last[0] or first[1] > last[1] or first[0] < 0:
            raise _Unsure
        out.append((first, last))
    return tuple(out)


def _column(letters: bytes) -> int:
    """A column's index from its letters (0 for A), remembered: a sheet has a few dozen."""
    col = _COLUMNS.get(letters)
    if col is None:
        col = _COLUMNS[letters] = _column_number(letters.decode()) - 1
    return col


_COLUMNS: dict[bytes, int] = {}  # at most 26 + 26² + 26³ keys: the cells' regex allows three


def _grid(cells: list[tuple], left: int, width: int) -> tuple[int, int, list[list[object]]]:
    """(height, width, rows from A1) of the cells with a value: calamine's used area and rows."""
    if not cells:
        return 0, 0, []
    top, bottom = cells[0][0], cells[-1][0]
    rows: list[list[object]] = [[None] * width for _ in range(bottom + 1)]
    for row, col, value in cells:
        rows[row][col] = value
    return bottom - top + 1, width - left, rows


def _cells(parts: list, styles, strings: list[str], texts: list[bytes], loose: list[int]):
    """([(row, col, value)] of the cells with a value, the area of all, their columns' span).

    `parts`: 8 items a cell (what lies before it, then the regex's groups). Texts not decoded
    before (_TEXTS) are added to `texts`, their values left as _TEXT; `loose`: which of those
    were written without xml:space="preserve" (calamine trims them; see _untrimmed).
    """
    cells: list[tuple] = []
    last = right = -1
    left, width = 16384, 0  # of the cells with a value
    known, spaced = _TEXTS, _SPACED
    it = iter(parts)
    next(it)
    for letters, digits, style, kind, v, keep, inline, _ in zip(
        it, it, it, it, it, it, it, it, strict=True
    ):
        col = _COLUMNS.get(letters)
        if col is None:
            col = _column(letters)
        row = int(digits) - 1
        key = row * 16384 + col
        if key <= last or row < 0:
            raise _Unsure  # out of order, repeated: calamine's choice is not ours to guess
        last = key
        if col > right:
            right = col
        if inline is not None:
            if kind != b"inlineStr" or v is not None:
                raise _Unsure
            value = known.get(inline)
            if value is None:
                value = spaced.get(inline)
                if value is None:
                    if keep is None:
                        loose.append(len(texts))
                    texts.append(inline)
                    value = _TEXT
                elif keep is None:
                    raise _Unsure  # calamine trims it
        elif not v:
            if v is not None and kind is not None and kind != b"n":
                raise _Unsure  # an empty text or index: calamine counts the cell in the area
            continue  # a formatted blank, a formula never calculated, an empty value
        elif kind is None or kind == b"n":
            value = _number(v, style, styles)
        elif kind == b"s":
            if not v.isdigit():
                raise _Unsure  # int() reads "-1" and " 1", calamine does not
            value = strings[int(v)]
        elif kind == b"str":
            value = known.get(v) or spaced.get(v)
            if value is None:
                texts.append(v)
                value = _TEXT
        elif kind == b"b" and v in (b"0", b"1"):
            value = v == b"1"
        else:
            raise _Unsure  # errors, dates written as text, inline kinds with a value, ...
        if col < left:
            left = col
        if col >= width:
            width = col + 1
        cells.append((row, col, value))
    return cells, (last // 16384 + 1, right + 1), (left, width)


def _number(v: bytes, style: bytes | None, styles: tuple | None) -> object:
    """A number cell's value: a float, or a date where its format is one (calamine's reading)."""
    if not _NUMBER.fullmatch(v):
        raise _Unsure
    number = float(v)
    if style is None and (styles is None or styles[0] == "n"):
        return number  # no format: a number (unsure where the first format is not one)
    if styles is None or style is None:
        raise _Unsure
    how = styles[int(style)]
    if how == "n":
        return number
    if how == "d" and _FIRST_DATE <= number <= _LAST_DATE and number == int(number):
        return _EPOCH + datetime.timedelta(days=int(number))
    raise _Unsure


_TEXT = object()  # a value whose text is still to be decoded


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
            # Empty strings as None, inline: a function call for each of a workbook's hundreds of
            # cells cost more.
            rows = [
                [None if c == "" else c for c in row]
                for row in sheet.to_python(skip_empty_area=False)
            ]
            merged = getattr(sheet, "merged_cell_ranges", None) or []
            sheets.append(_sheet(name, sheet.height, sheet.width, rows, merged, budget, check_text))
    except FileRefused:
        raise
    except PasswordError as exc:
        raise FileRefused(
            "已加密（设置了打开密码），无法读取，请取消密码后重新报送", "encrypted"
        ) from exc
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        raise _corrupt() from exc
    return sheets


def _sheet(name: str, height: int, width: int, rows, merged, budget: _Budget, check_text: bool):
    """A sheet read (by calamine or the plain reader), checked against the caps and filled in.

    `height` x `width`: the used area (from its first cell with a value), as calamine counts it.
    """
    budget.check(name, height, width)
    budget.done(height, width)
    if check_text:
        _check_text(rows, name)
    _fill_merged(rows, merged, budget.caps)
    return Sheet(name[:SHEET_NAME_CHARS], rows)


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
