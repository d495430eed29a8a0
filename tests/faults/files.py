"""Hostile submissions, generated at run time, each run through `kpi ingest --inbox` as a night.

A case writes one or more files into a fresh inbox (deterministically: its own seeded random
generator, fixed mtimes), next to one good file that arrives after them. The real command runs
in a subprocess (`kpi ingest --inbox --json` on the bundled plan, hongqi-2023) while its whole
process tree is watched: wall time and peak resident memory (the sum over the tree, sampled).
A case holds when
- each hostile file ends as expected (accepted / partial / rejected / skipped) with the expected
  words in its reason (the file's, or a rejected row's),
- every reason is bounded (a quoted value or name is never quoted whole),
- the good file after it is accepted (the night goes on),
- nothing but skipped files is left in the inbox,
- and the time and memory stay under the case's bounds (generous: a shared 2-core machine).
Nothing big is committed: the 1.7 M-row workbook and the 300k-row files are written into a
temporary folder when the case runs.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kpi.config import ROOT

from .forkserver import ForkServer

SEED = 20230711
PLAN = "hongqi-2023"
AS_OF = "2023-07-15"
MTIME = 1_688_000_000  # 2023-06-29: the hostile files arrive first, the good one a minute later
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
REASON_CHARS = 400  # no reason, however hostile the file, is longer than this
RSS_MB = 1024.0  # the promise: peak RSS of the whole process tree, any single input or batch
SECONDS = 180.0  # generous: the machine is shared; a night's file takes well under a second


def row(code: str = "project_investment", value: object = 100.5, unit: str = "亿元", **kw) -> list:
    """One row of 发改委's template for June (hongqi-2023), in HEADER order."""
    cells = dict.fromkeys(HEADER, "")
    cells.update({"填报单位": "发改委", "报告期": "2023-06", "指标代码": code, "计量单位": unit})
    cells["数值"] = value
    cells.update(kw)
    return [cells[h] for h in HEADER]


GOOD = row()
GOOD2 = row("lifecycle_projects_under_way", 90, "个")


def write_csv(path: Path, rows: list[list], *, encoding: str = "utf-8", bom: bytes = b"") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    for r in [HEADER, *rows]:
        w.writerow(r)
    path.write_bytes(bom + buf.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list], extra: dict[str, bytes] | None = None) -> Path:
    """A workbook written by openpyxl, with optional extra zip members (e.g. a VBA project)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "报送表"
    for r in [HEADER, *rows]:
        ws.append(r)
    wb.save(path)
    if extra:
        with zipfile.ZipFile(path, "a") as z:
            for name, data in extra.items():
                z.writestr(name, data)
    return path


def _col(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _cell(ref: str, value: object) -> str:
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    text = str(value).replace("&", "&amp;").replace("<", "&lt;")
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
    '2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Default '
    'Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


def raw_xlsx(
    path: Path,
    sheets: list[tuple[str, Iterable[str]]],
    *,
    shared: Iterable[str] | None = None,
    extra: dict[str, Iterable[bytes]] | None = None,
    level: int = 1,
) -> Path:
    """A workbook written as raw XML, streamed: sheets of `<row>` strings, any size, any shape."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        listed = "".join(
            f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>'
            for i, (name, _) in enumerate(sheets, 1)
        )
        z.writestr("xl/workbook.xml", f"<workbook {_NS} {_R}><sheets>{listed}</sheets></workbook>")
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
            f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{rels}</Relationships>",
        )
        for i, (_, rows) in enumerate(sheets, 1):
            with z.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as fh:
                fh.write(f"<worksheet {_NS}><sheetData>".encode())
                buf = []
                for r in rows:
                    buf.append(r)
                    if len(buf) >= 10_000:
                        fh.write("".join(buf).encode())
                        buf = []
                fh.write(("".join(buf) + "</sheetData></worksheet>").encode())
        if shared is not None:
            with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
                fh.write(f"<sst {_NS}>".encode())
                for s in shared:
                    fh.write(f"<si><t>{s}</t></si>".encode())
                fh.write(b"</sst>")
        for name, chunks in (extra or {}).items():
            with z.open(name, "w", force_zip64=True) as fh:
                for chunk in chunks:
                    fh.write(chunk)
    return path


def sheet_rows(rows: list[list], start: int = 1) -> Iterable[str]:
    """`<row>` strings of a sheet from lists of cells (header first)."""
    for n, cells in enumerate(rows, start):
        body = "".join(
            _cell(f"{_col(j)}{n}", v) for j, v in enumerate(cells, 1) if v not in ("", None)
        )
        yield f'<row r="{n}">{body}</row>'


def many_rows(n: int, rng: random.Random, *, same: bool = False) -> Iterable[str]:
    """The template's header, then n rows of one target with seeded values (cheap to write).

    same=True writes the same row throughout, without positions (SpreadsheetML allows it): 1.7 M
    rows, 190 MB of XML, pack into well under a megabyte.
    """
    yield from sheet_rows([HEADER])
    if same:
        one = (
            '<row><c t="inlineStr"><is><t>发改委</t></is></c>'
            '<c t="inlineStr"><is><t>x</t></is></c><c><v>1</v></c></row>'
        )
        yield from (one for _ in range(n))
        return
    for i in range(2, n + 2):
        v = rng.randint(1, 200)
        yield (
            f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>发改委</t></is></c>'
            f'<c r="C{i}" t="inlineStr"><is><t>project_investment</t></is></c>'
            f'<c r="F{i}"><v>{v}</v></c></row>'
        )


def big_csv(path: Path, n: int, rng: random.Random) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for _ in range(n):
            w.writerow(row(value=rng.randint(1, 200)))
    return path


def html_xls(path: Path, body: str, charset: str = "utf-8") -> Path:
    head = "".join(f"<th>{h}</th>" for h in HEADER)
    html = (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        f"</head><body><table><tr>{head}</tr>{body}</table></body></html>"
    )
    path.write_bytes(html.encode(charset))
    return path


def _tr(cells: list) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def xls_stream(rows: list[list]) -> bytes:
    """The BIFF8 Workbook stream xlwt writes for these rows."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Sheet1")
    for i, r in enumerate([HEADER, *rows]):
        for j, v in enumerate(r):
            if v not in ("", None):
                ws.write(i, j, v)
    return wb.get_biff_data()


def write_ole(path: Path, stream: bytes) -> Path:
    """An OLE2 compound file holding one Workbook stream (as Excel 97-2003 saves it)."""
    from xlwt.CompoundDoc import XlsDoc

    buf = io.BytesIO()
    XlsDoc().save(buf, stream)
    path.write_bytes(buf.getvalue())
    return path


def encrypted_xls(path: Path) -> Path:
    """A BIFF8 workbook whose globals carry a FILEPASS record: password-protected."""
    s = xls_stream([GOOD])
    bof = 4 + struct.unpack_from("<H", s, 2)[0]
    return write_ole(path, s[:bof] + struct.pack("<HH", 0x002F, 6) + bytes(6) + s[bof:])


def biff5_xls(path: Path) -> Path:
    """Excel 5.0/95: the same stream with a BIFF5 version in its BOF record."""
    s = bytearray(xls_stream([GOOD]))
    struct.pack_into("<H", s, 4, 0x0500)
    return write_ole(path, bytes(s))


def encrypted_xlsx(path: Path) -> Path:
    """What Excel writes for a password-protected .xlsx: OLE2 with an EncryptionInfo stream."""
    body = bytearray(4096)
    body[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    mark = "EncryptionInfo".encode("utf-16-le")
    body[1024 : 1024 + len(mark)] = mark
    path.write_bytes(bytes(body))
    return path


def lying_size_xlsx(path: Path, hidden_mb: int) -> Path:
    """A workbook whose sheet declares its 1 KB of XML but holds `hidden_mb` MB more after it.

    The declared size and CRC-32 are those of the well-formed sheet at its start, so a reader
    that trusts them reads a fine sheet; only decompressing past the declared size finds the rest.
    """
    part = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(raw_xlsx(path, [("报送表", sheet_rows([HEADER, GOOD]))])) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in members.items():
            if name != part:
                z.writestr(name, data)
        with z.open(part, "w") as fh:
            fh.write(members[part])
            for _ in range(hidden_mb):
                fh.write(b" " * (1 << 20))  # XML allows white space after the root element
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo(part)
        directory = z.start_dir
    crc, size = zipfile.crc32(members[part]), len(members[part])
    struct.pack_into("<L", data, info.header_offset + 14, crc)  # the member's local header
    struct.pack_into("<L", data, info.header_offset + 22, size)
    at = directory
    while data[at : at + 4] == b"PK\x01\x02":  # its record in the central directory
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        if data[at + 46 : at + 46 + name_len] == part.encode():
            struct.pack_into("<L", data, at + 16, crc)
            struct.pack_into("<L", data, at + 24, size)
        at += 46 + name_len + extra_len + comment_len
    path.write_bytes(bytes(data))
    return path


@dataclass(frozen=True)
class Case:
    """One kind of hostile submission and what ingest must make of it."""

    name: str
    make: Callable[[Path, random.Random], list[Path]]  # writes the file(s) into the folder
    outcome: str  # accepted | partial | rejected | skipped (each hostile file)
    reason: str | None = None  # words its reason (or a rejected row's) must contain
    seconds: float = SECONDS
    rss_mb: float = RSS_MB
    slow: bool = False
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[list[dict], Path], str | None] | None = None  # extra check: None when fine


def _one(fn: Callable[[Path, random.Random], Path]) -> Callable[[Path, random.Random], list[Path]]:
    return lambda folder, rng: [fn(folder, rng)]


def _fifo(folder: Path, rng: random.Random) -> Path:
    p = folder / "发改委_2023年6月.csv"
    os.mkfifo(p)  # reading it would wait for a writer for ever
    return p


def _symlink(folder: Path, rng: random.Random) -> Path:
    target = folder.parent / "elsewhere.csv"
    write_csv(target, [GOOD])
    p = folder / "发改委_链接.csv"
    p.symlink_to(target)
    return p


def _bytes_name(folder: Path, rng: random.Random) -> Path:
    raw = os.fsencode(folder) + b"/\xff\xfe\xfa_" + "发改委.csv".encode()
    fd = os.open(raw, os.O_WRONLY | os.O_CREAT, 0o644)
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, GOOD2])
    os.write(fd, buf.getvalue().encode())
    os.close(fd)
    return Path(os.fsdecode(raw))


def _long_name(folder: Path, ext: str, content: Callable[[Path], Path]) -> Path:
    name = "发" * 80 + ext  # 80 x 3 bytes + the extension: 245 bytes with ".xlsx"
    assert len(name.encode()) == 240 + len(ext)
    return content(folder / name)


def _no_reason_over(limit: int) -> Callable[[list[dict], Path], str | None]:
    def check(receipts: list[dict], home: Path) -> str | None:
        for r in receipts:
            texts = [r.get("reason") or ""] + [e["reason"] for e in r.get("rejected", [])]
            if any(len(t) > limit for t in texts):
                return f"a reason of {max(map(len, texts))} characters"
        return None

    return check


def _set_aside_bounded(receipts: list[dict], home: Path) -> str | None:
    names = [p.name for p in (home / "rejected").iterdir()]
    if not any(n.endswith(".reason.txt") for n in names):
        return "no reason file beside the refused file"
    if any(len(os.fsencode(n)) > 160 for n in names):
        return "a stored name longer than a hash and 100 bytes"
    return None


def _stored_rejections_capped(receipts: list[dict], home: Path) -> str | None:
    [r] = [x for x in receipts if x["status"] == "partial"]
    if len(r["rejected"]) > 200 or r["rejected_unlisted"] <= 0:
        return f"{len(r['rejected'])} rows listed, {r['rejected_unlisted']} counted"
    if len(json.dumps(r, ensure_ascii=False)) > 400_000:
        return "a receipt of more than 400 KB"
    return None


CASES: list[Case] = [
    # --- the ones named in issue 11 ----------------------------------------------------------
    Case(
        "span_bomb_xls",  # 9 KB of HTML under an .xls name: four 1000x1000 cells, 999 rows
        _one(
            lambda f, r: html_xls(
                f / "发改委_2023年6月.xls",
                "<tr>"
                + '<td colspan="1000" rowspan="1000">x</td>' * 4
                + "</tr>"
                + "<tr></tr>" * 999,
            )
        ),
        "rejected",
        "超过100列",
        seconds=60,
    ),
    Case(
        "span_bomb_within_caps",  # the same shape, 100 columns wide: read, in linear time
        _one(
            lambda f, r: html_xls(
                f / "发改委_宽表.xls",
                "<tr>" + '<td colspan="25" rowspan="1000">x</td>' * 4 + "</tr>" + "<tr></tr>" * 999,
            )
        ),
        "rejected",
        "不是已登记的填报单位",  # every row of x: read whole, every row refused
        seconds=60,
    ),
    Case(
        "name_245_bytes",
        _one(lambda f, r: _long_name(f, ".xlsx", lambda p: write_xlsx(p, [GOOD2]))),
        "accepted",
    ),
    Case(
        "name_245_bytes_refused",  # the name that made every night fail when set aside
        _one(
            lambda f, r: _long_name(
                f, ".xlsx", lambda p: p.write_bytes(b"PK\x03\x04 cut short") and p
            )
        ),
        "rejected",
        "已损坏",
        check=_set_aside_bounded,
    ),
    Case(
        "xlsx_1_7m_rows_under_byte_caps",
        _one(
            lambda f, r: raw_xlsx(
                f / "发改委_2023年6月.xlsx",
                [("报送表", many_rows(1_700_000, r, same=True))],
                level=9,
            )
        ),
        "rejected",
        "超过5000行",
        slow=True,
    ),
    Case(
        "csv_300k_rows",
        _one(lambda f, r: big_csv(f / "发改委_2023年6月.csv", 300_000, r)),
        "rejected",
        "超过5000行",
        slow=True,
    ),
    Case(
        "three_300k_row_files_in_one_chunk",
        lambda f, r: [
            big_csv(f / "发改委_1.csv", 300_000, r),
            raw_xlsx(f / "发改委_2.xlsx", [("报送表", many_rows(300_000, r))]),
            raw_xlsx(f / "发改委_3.xlsx", [("报送表", many_rows(300_000, r))]),
        ],
        "rejected",
        "超过5000行",
        slow=True,
    ),
    Case(
        "rows_just_under_the_cap",  # 4,990 bad rows: listed up to 200, the rest counted
        _one(
            lambda f, r: write_csv(
                f / "发改委_多行.csv",
                [GOOD] + [row(f"nope_{i}", i) for i in range(4_990)],
            )
        ),
        "partial",
        "不是本年度目标任务清单中的指标代码",
        check=_stored_rejections_capped,
        slow=True,
    ),
    Case(
        "markdown_link_in_a_cell",
        _one(lambda f, r: write_csv(f / "发改委_链接.csv", [GOOD2, row("[x](http://evil)")])),
        "partial",
        "[x](http://evil)",  # kept as written, quoted short; renderers make it inert
    ),
    Case(
        "markdown_link_in_the_name",
        _one(lambda f, r: write_csv(f / "[点我](http:evil)_发改委.csv", [GOOD2])),
        "accepted",
    ),
    Case(
        "value_of_5000_characters",
        _one(lambda f, r: write_csv(f / "发改委_长值.csv", [GOOD2, row(value="9" * 5000)])),
        "partial",
        "…",
        check=_no_reason_over(REASON_CHARS),
    ),
    Case(
        "unterminated_quote",
        _one(
            lambda f, r: (
                (f / "发改委_引号.csv").write_bytes(
                    (
                        ",".join(HEADER)
                        + "\n"
                        + ",".join(map(str, GOOD2))
                        + '\n发改委,2023-06,project_investment,,亿元,"120'
                        + "\n发改委,2023-06,project_investment,,亿元,1" * 400
                    ).encode()
                )
                and f / "发改委_引号.csv"
            )
        ),
        "partial",
        "“数值”列“120 发改委",  # the rest of the file in one cell, quoted short
        check=_no_reason_over(REASON_CHARS),
    ),
    Case(
        "xlsm_with_macros",
        _one(
            lambda f, r: write_xlsx(
                f / "发改委_2023年6月.xlsm", [GOOD], {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0vba"}
            )
        ),
        "rejected",
        "含宏的文件不予接收，请另存为 .xlsx",
    ),
    Case(
        "xltm_with_macros",
        _one(
            lambda f, r: write_xlsx(
                f / "发改委_模板.xltm", [GOOD], {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0vba"}
            )
        ),
        "rejected",
        "含宏的文件不予接收",
    ),
    Case(
        "macros_under_an_xlsx_name",
        _one(
            lambda f, r: write_xlsx(
                f / "发改委_改名.xlsx", [GOOD], {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0vba"}
            )
        ),
        "rejected",
        "含宏",
    ),
    Case(
        "dotfile_with_a_submission",  # hidden, and still a department's file: ingested
        _one(lambda f, r: write_csv(f / ".发改委_2023年6月.csv", [GOOD2])),
        "accepted",
    ),
    Case(
        "dotfile_of_junk",
        _one(lambda f, r: (f / ".hidden").write_bytes(b"junk") and f / ".hidden"),
        "rejected",
        "不受支持",
    ),
    Case(
        "excel_lock_file",
        _one(
            lambda f, r: (
                (f / "~$发改委_2023年6月.xlsx").write_bytes(b"\x06owner")
                and f / "~$发改委_2023年6月.xlsx"
            )
        ),
        "skipped",
        "锁定文件",
    ),
    Case(
        "libreoffice_lock_file",
        _one(
            lambda f, r: (
                (f / ".~lock.发改委.xlsx#").write_text("x,host") and f / ".~lock.发改委.xlsx#"
            )
        ),
        "skipped",
        "锁定文件",
    ),
    Case(
        "sync_and_download_temporaries",
        lambda f, r: [
            write_xlsx(f / "发改委_2023年6月.xlsx.crdownload", [GOOD]),
            (f / "~WRL0001.tmp").write_bytes(b"x") and f / "~WRL0001.tmp",
            (f / ".sync_4a2b.db").write_bytes(b"x") and f / ".sync_4a2b.db",
            (f / "desktop.ini").write_text("[.ShellClassInfo]") and f / "desktop.ini",
            (f / "Thumbs.db").write_bytes(b"x") and f / "Thumbs.db",
            (f / ".DS_Store").write_bytes(b"x") and f / ".DS_Store",
        ],
        "skipped",
        "已跳过",
    ),
    Case(
        "encrypted_xlsx",
        _one(lambda f, r: encrypted_xlsx(f / "发改委_加密.xlsx")),
        "rejected",
        "已加密",
    ),
    Case(
        "encrypted_xls",
        _one(lambda f, r: encrypted_xls(f / "发改委_加密.xls")),
        "rejected",
        "已加密",
    ),
    Case(
        "legacy_excel95_xls",
        _one(lambda f, r: biff5_xls(f / "发改委_旧版.xls")),
        "rejected",
        "Excel 95或更早版本",
    ),
    Case(
        "legacy_excel4_xls",
        _one(
            lambda f, r: (
                (f / "发改委_excel4.xls").write_bytes(
                    b"\x09\x04\x06\x00\x00\x00\x10\x00\x00\x00" + bytes(64)
                )
                and f / "发改委_excel4.xls"
            )
        ),
        "rejected",
        "Excel 95或更早版本",
    ),
    Case(
        "arabic_indic_digits",
        _one(lambda f, r: write_csv(f / "发改委_数字.csv", [GOOD2, row(value="١٢٣")])),
        "partial",
        "0-9以外的数字",
    ),
    Case(
        "space_grouped_number",
        _one(lambda f, r: write_csv(f / "发改委_空格.csv", [GOOD2, row(value="1 234")])),
        "partial",
        "中间有空格",
    ),
    Case(
        "full_width_digits",
        _one(lambda f, r: write_csv(f / "发改委_全角.csv", [row(value="１２０．５"), GOOD2])),
        "accepted",
    ),
    Case(
        "zip_bomb",  # 250 MB of zeros packed into a few hundred KB
        _one(
            lambda f, r: raw_xlsx(
                f / "发改委_炸弹.xlsx",
                [("报送表", sheet_rows([HEADER, GOOD]))],
                extra={"xl/media/pad.bin": (bytes(1 << 20) for _ in range(250))},
            )
        ),
        "rejected",
        "解压后达",
    ),
    Case(
        # A sheet declaring its 1 KB of XML and holding 300 MB: read no further than it declares
        # (before, the whole member was decompressed and the worker stopped at its memory ceiling).
        "lying_size_xlsx",
        _one(lambda f, r: lying_size_xlsx(f / "发改委_谎报大小.xlsx", 300)),
        "rejected",
        "已损坏（压缩结构不完整）",
    ),
    Case(
        "shared_strings_bomb",
        _one(
            lambda f, r: raw_xlsx(
                f / "发改委_文本.xlsx",
                [("报送表", sheet_rows([HEADER, GOOD]))],
                shared=(f"s{i}" for i in range(300_000)),
            )
        ),
        "rejected",
        "共享文本",
    ),
    Case(
        "wrong_encoding_big5",
        _one(
            lambda f, r: (
                (f / "发改委_big5.csv").write_bytes(
                    "填報單位,報告期,指標代碼,計量單位,數值\n發改委,2023-06,project_investment,億元,100.5\n".encode(
                        "big5"
                    )
                )
                and f / "发改委_big5.csv"
            )
        ),
        "rejected",
        "未找到表头",
    ),
    Case(
        "wrong_encoding_utf16_without_bom",
        _one(lambda f, r: write_csv(f / "发改委_utf16.csv", [GOOD], encoding="utf-16-le")),
        "rejected",
        "二进制",
    ),
    Case(
        "formula_text_hyperlink",
        _one(
            lambda f, r: write_csv(
                f / "发改委_公式.csv", [GOOD2, row('=HYPERLINK("http://evil","点我")')]
            )
        ),
        "partial",
        "=HYPERLINK",
    ),
    Case(
        "nul_bytes",
        _one(
            lambda f, r: (
                (f / "发改委_nul.csv").write_bytes(",".join(HEADER).encode() + b"\n\x00\x00" * 100)
                and f / "发改委_nul.csv"
            )
        ),
        "rejected",
        "二进制",
    ),
    Case(
        "huge_column_count",
        _one(
            lambda f, r: raw_xlsx(
                f / "发改委_宽.xlsx",
                [
                    (
                        "报送表",
                        [*sheet_rows([HEADER, GOOD]), '<row r="3"><c r="XFD3"><v>1</v></c></row>'],
                    )
                ],
            )
        ),
        "rejected",
        "超过100列",
    ),
    Case(
        "one_cell_a_million_rows_down",
        _one(
            lambda f, r: raw_xlsx(
                f / "发改委_远.xlsx",
                [
                    (
                        "报送表",
                        [
                            *sheet_rows([HEADER, GOOD]),
                            '<row r="1000000"><c r="A1000000"><v>1</v></c></row>',
                        ],
                    )
                ],
            )
        ),
        "rejected",
        "超过5000行",
    ),
    Case(
        "three_hundred_sheets",
        _one(
            lambda f, r: raw_xlsx(
                f / "发改委_多表.xlsx", [(f"表{i}", sheet_rows([HEADER])) for i in range(300)]
            )
        ),
        "rejected",
        "超过255个",
    ),
    Case(
        "deeply_nested_html",
        _one(
            lambda f, r: html_xls(
                f / "发改委_嵌套.xls",
                _tr(GOOD2)
                + "<tr><td>"
                + "<div>" * 100_000
                + "x"
                + "</div>" * 100_000
                + "</td></tr>",
            )
        ),
        "accepted",
    ),
    Case(
        "bom_utf8",
        _one(lambda f, r: write_csv(f / "发改委_bom8.csv", [GOOD2], bom=codecs.BOM_UTF8)),
        "accepted",
    ),
    Case(
        "bom_utf16le",
        _one(
            lambda f, r: write_csv(
                f / "发改委_bom16le.csv", [GOOD2], encoding="utf-16-le", bom=codecs.BOM_UTF16_LE
            )
        ),
        "accepted",
    ),
    Case(
        "bom_utf16be",
        _one(
            lambda f, r: write_csv(
                f / "发改委_bom16be.csv", [GOOD2], encoding="utf-16-be", bom=codecs.BOM_UTF16_BE
            )
        ),
        "accepted",
    ),
    Case(
        "bom_utf32le",
        _one(
            lambda f, r: write_csv(
                f / "发改委_bom32.csv", [GOOD2], encoding="utf-32-le", bom=codecs.BOM_UTF32_LE
            )
        ),
        "accepted",
    ),
    Case(
        "empty_file",
        _one(lambda f, r: (f / "发改委_空.xlsx").write_bytes(b"") or f / "发改委_空.xlsx"),
        "rejected",
        "为空",
    ),
    Case(
        "picture_named_xlsx",
        _one(
            lambda f, r: (
                (f / "发改委_截图.xlsx").write_bytes(b"\x89PNG\r\n\x1a\n" + r.randbytes(4096))
                and f / "发改委_截图.xlsx"
            )
        ),
        "rejected",
        "不是电子表格",
    ),
    Case(
        "over_the_byte_cap",
        _one(
            lambda f, r: (
                (f / "发改委_大.csv").write_bytes(b"x" * 20_000_001) and f / "发改委_大.csv"
            )
        ),
        "rejected",
        "超过上限20MB",
    ),
    Case(
        "cell_over_32767_characters",
        _one(lambda f, r: write_csv(f / "发改委_超长.csv", [GOOD2, row(备注="长" * 40_000)])),
        "rejected",
        "32767",
    ),
    Case(
        "trailing_blank_lines",  # 19 MB of empty lines after the data: never materialised
        _one(
            lambda f, r: (
                (f / "发改委_空行.csv").write_bytes(
                    (",".join(HEADER) + "\n" + ",".join(map(str, GOOD2)) + "\n").encode()
                    + b"\n" * 19_000_000
                )
                and f / "发改委_空行.csv"
            )
        ),
        "accepted",
    ),
    Case(
        "bidi_and_control_characters",
        _one(
            lambda f, r: write_csv(f / "发改委_\u202e控制.csv", [GOOD2, row("\u202eevil\x07code")])
        ),
        "partial",
        "不是本年度目标任务清单中的指标代码",
        check=lambda receipts, home: (
            "a control character in a reason"
            if any(
                ch in e["reason"]
                for r in receipts
                for e in r["rejected"]
                for ch in ("\u202e", "\x07")
            )
            else None
        ),
    ),
    Case("fifo_in_the_inbox", _one(_fifo), "rejected", "不是普通文件"),
    Case("symlink_in_the_inbox", _one(_symlink), "rejected", "不是普通文件"),
    Case("name_not_utf8", _one(_bytes_name), "accepted"),
    # --- a parser that misbehaves (injected in the worker: the same refusal a real one gets) --
    Case(
        "parser_hangs",
        _one(lambda f, r: write_csv(f / "hang.csv", [GOOD2])),
        "rejected",
        "读取超过2秒",
        env={"KPI_FAILPOINT": "worker-hang:hang.csv", "KPI_PARSE_SECONDS": "2"},
    ),
    Case(
        "parser_memory_grows",
        _one(lambda f, r: write_csv(f / "balloon.csv", [GOOD2])),
        "rejected",
        "内存超过上限",
        env={"KPI_FAILPOINT": "worker-balloon:balloon.csv"},
    ),
    Case(
        "parser_dies",
        _one(lambda f, r: write_csv(f / "crash.csv", [GOOD2])),
        "rejected",
        "意外中止",
        env={"KPI_FAILPOINT": "worker-crash:crash.csv"},
    ),
]


# --- running a case -----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def run_measured(
    cmd: list[str], env: dict, timeout: float, forks: ForkServer | None = None
) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a command; (its result, wall seconds, peak RSS of its process tree in MB).

    With `forks`, a warm fork server starts it (the test suite); else a cold subprocess.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kpi-fault-out-") as tmp:
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            if forks is None:
                proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
            else:
                proc = forks.start(cmd, env, out_path, err_path)
            peak = 0.0
            while proc.poll() is None:
                tree, todo = [], [proc.pid]
                while todo:
                    pid = todo.pop()
                    tree.append(pid)
                    todo += _children(pid)
                peak = max(peak, sum(_rss_mb(p) for p in tree))
                if time.monotonic() - started > timeout:
                    proc.kill()
                time.sleep(0.02)
            seconds = time.monotonic() - started
        done = subprocess.CompletedProcess(
            cmd,
            proc.returncode,
            out_path.read_bytes().decode(errors="replace"),
            err_path.read_bytes().decode(errors="replace"),
        )
    return done, seconds, peak


@dataclass
class Result:
    """What a case did, and whether that was what was expected (`problems` empty)."""

    case: Case
    receipts: list[dict]
    seconds: float
    peak_rss_mb: float
    problems: list[str]

    @property
    def row(self) -> dict:
        hostile = [r for r in self.receipts if r.get("file") != GOOD_NAME]
        outcome = ",".join(sorted({r["status"] for r in hostile})) or "—"
        reason = next((_reason_of(r) for r in hostile if _reason_of(r)), "")
        return {
            "case": self.case.name,
            "outcome": outcome,
            "reason": reason,
            "seconds": round(self.seconds, 1),
            "peak_rss_mb": round(self.peak_rss_mb),
            "expected_ok": not self.problems,
        }


GOOD_NAME = "zz_发改委_2023年6月_正常.csv"


def _reason_of(receipt: dict) -> str:
    texts = [receipt.get("reason") or ""] + [e["reason"] for e in receipt.get("rejected", [])]
    return next((t for t in texts if t), "")


# One night of the good file alone, run in the fork server itself before its first case: its
# forks then start with what any night of this plan and day builds first (GX's context, the
# suites for these values, the good file's shape verdicts, the catalogue), as a second night in
# one process would. What each case's files are and do is still validated in the case's fork.
WARM_NIGHT = """
import os, shutil
from datetime import date
from kpi.catalogue import get_catalogue
from kpi.config import settings
from kpi.ingest import prepare
from kpi.ingest.inbox import ingest_inbox
saved = dict(os.environ)
os.environ.update({"KPI_HOME": HOME, "KPI_PLAN": PLAN, "KPI_LOCK_WAIT_SECONDS": "0"})
for k in ("KPI_CATALOGUE_DIR", "KPI_INBOX", "KPI_WAREHOUSE", "KPI_SNAPSHOT", "KPI_FAILPOINT"):
    os.environ.pop(k, None)
settings.cache_clear()
try:
    [receipt] = ingest_inbox(settings(), get_catalogue(PLAN), as_of=date.fromisoformat(AS_OF))
    assert receipt["status"] == "accepted", receipt
finally:
    prepare._stop_idle()  # its parsing worker is not the forks' to use
    import threading
    from tqdm._monitor import TMonitor
    for t in threading.enumerate():  # GX's progress bars' monitor: a fork starts its own
        if isinstance(t, TMonitor):
            t.exit()
            t.tqdm_cls.monitor = None
    os.environ.clear()
    os.environ.update(saved)
    settings.cache_clear()
    shutil.rmtree(HOME, ignore_errors=True)
"""


def warm_up(forks: ForkServer) -> None:
    """Run WARM_NIGHT in the fork server, once per server."""
    if "hostile-files" in forks.warmed:
        return
    home = Path(tempfile.mkdtemp(prefix="kpi-fault-warm-"))
    (home / "inbox").mkdir()
    write_csv(home / "inbox" / GOOD_NAME, [GOOD])
    values = {"HOME": str(home), "PLAN": PLAN, "AS_OF": AS_OF}
    code = "".join(f"{k} = {v!r}\n" for k, v in values.items()) + WARM_NIGHT
    forks.warm("hostile-files", code)


def run_case(case: Case, workdir: Path | None = None, forks: ForkServer | None = None) -> Result:
    """Write the case's files and a good one into a fresh inbox; ingest; check and measure."""
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix=f"kpi-fault-{case.name}-")) if own else workdir
    try:
        home = work / "home"
        inbox = home / "inbox"
        inbox.mkdir(parents=True)
        rng = random.Random(f"{SEED}:{case.name}")
        made = case.make(inbox, rng)
        good = write_csv(inbox / GOOD_NAME, [GOOD])
        for n, p in enumerate(made):
            if not p.is_symlink() and p.exists() and not p.is_fifo():
                os.utime(p, (MTIME + n, MTIME + n))
        os.utime(good, (MTIME + 600, MTIME + 600))
        env = {
            **os.environ,
            "KPI_HOME": str(home),
            "KPI_PLAN": PLAN,
            "KPI_LOCK_WAIT_SECONDS": "0",
            **case.env,
        }
        for k in ("KPI_CATALOGUE_DIR", "KPI_INBOX", "KPI_WAREHOUSE", "KPI_SNAPSHOT"):
            env.pop(k, None)
        if "KPI_FAILPOINT" not in case.env:
            env.pop("KPI_FAILPOINT", None)
        cmd = [sys.executable, "-m", "kpi.cli", "ingest", "--inbox", "--json", "--as-of", AS_OF]
        if forks is not None:
            warm_up(forks)
        done, seconds, peak = run_measured(cmd, env, timeout=max(case.seconds, 60) * 2, forks=forks)
        problems: list[str] = []
        try:
            receipts = json.loads(done.stdout)
        except json.JSONDecodeError:
            receipts = []
            problems.append(f"no receipts (exit {done.returncode}): {done.stderr[-2000:]}")
        problems += _check(case, receipts, home, len(made))
        if seconds > case.seconds:
            problems.append(f"{seconds:.1f} s > {case.seconds:.0f} s")
        if peak > case.rss_mb:
            problems.append(f"peak RSS {peak:.0f} MB > {case.rss_mb:.0f} MB")
        return Result(case, receipts, seconds, peak, problems)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _check(case: Case, receipts: list[dict], home: Path, n_made: int) -> list[str]:
    problems = []
    good = [r for r in receipts if r.get("file") == GOOD_NAME]
    hostile = [r for r in receipts if r.get("file") != GOOD_NAME]
    if [r["status"] for r in good] != ["accepted"]:
        problems.append(f"the good file after it: {[r['status'] for r in good]}")
    if len(hostile) != n_made:
        problems.append(f"{len(hostile)} receipts for {n_made} files")
    for r in hostile:
        if r["status"] != case.outcome:
            problems.append(f"{r['file']}: {r['status']}, expected {case.outcome}")
        texts = [r.get("reason") or ""] + [e["reason"] for e in r.get("rejected", [])]
        if case.reason and not any(case.reason in t for t in texts):
            problems.append(f"{r['file']}: no reason with “{case.reason}”: {texts[:3]}")
        if any(len(t) > REASON_CHARS for t in texts):
            problems.append(f"{r['file']}: a reason of {max(map(len, texts))} characters")
    left = sorted(p.name for p in (home / "inbox").iterdir()) if (home / "inbox").exists() else []
    skipped = sorted(r["file"] for r in hostile if r["status"] == "skipped")
    if left != skipped:
        problems.append(f"left in the inbox: {left}")
    if case.check is not None and receipts:
        extra = case.check(receipts, home)
        if extra:
            problems.append(extra)
    return problems
