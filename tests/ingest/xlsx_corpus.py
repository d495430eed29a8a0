"""A seeded corpus of .xlsx workbooks for holding the plain reader to calamine.

Two writers: openpyxl (as the templates are written) and hand-written XML in the forms Excel
and WPS write (shared strings, styles with built-in and custom number formats, formulas with
cached values, `t="str"`, `t="b"`, `t="e"`, `xml:space`, `_x000D_` escapes, entities, rich
text, phonetic runs, prefixed tags, CDATA, the 1904 date system, ...). Each workbook is a random
mix of such features, the same for the same seed.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import zipfile
from xml.sax.saxutils import quoteattr

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

SEED = 20261206
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'

TEXTS = [
    "填报单位",
    "人社局",
    "new_urban_jobs",
    "a & b < c > d \"q\" 'a'",
    "  leading",
    "trailing  ",
    "   ",
    "two\nlines",
    "tab\tin",
    "dongzhuo_xinzheng_road",
    "≥ 2000人",
    "😀 emoji",
    "x",
    "2023-03",
    "1E-3",
    "TRUE",
]
NUMBERS = [0, 1, -1, 1807, 1.5, 0.001, 1e-3, 1e20, -0.0, 1 / 3, 123456789.125, 45000, 2.5e-7]
DATES = [
    dt.date(2023, 3, 1),
    dt.date(1900, 1, 1),
    dt.date(1900, 2, 28),
    dt.date(1900, 3, 1),
    dt.date(9999, 12, 31),
    dt.datetime(2023, 3, 1, 12, 30),
    dt.datetime(2023, 3, 1, 0, 0, 0, 500),
    dt.time(12, 0),
]
FORMATS = [
    "General",
    "yyyy-mm-dd",
    "mm-dd-yy",
    "yyyy/m/d",
    'yyyy"年"m"月"d"日"',
    "m/d/yyyy",
    "0.00",
    "#,##0",
    "0%",
    "0.00%",
    "@",
    "h:mm",
    "yyyy-mm-dd h:mm",
    "[h]:mm",
    '"$"#,##0.00',
    "0.00E+00",
    "dd/mm/yyyy",
    "mmm-yy",
]


PLAIN_FORMATS = FORMATS[:11]  # those the plain reader knows (the others: left to calamine)
PLAIN_DATE_FORMATS = FORMATS[1:6]
PLAIN_DATES = [d for d in DATES if type(d) is dt.date and d >= dt.date(1900, 3, 1)]


def openpyxl_book(rng: random.Random, plain: bool = False) -> bytes:
    """A workbook openpyxl writes (inline strings), with random values, formats and merges.

    plain: only values, formats and merges the plain reader takes.
    """
    formats = PLAIN_FORMATS if plain else FORMATS
    dates = PLAIN_DATES if plain else DATES
    wb = Workbook()
    for n in range(rng.randint(1, 3)):
        ws = wb.active if n == 0 else wb.create_sheet()
        ws.title = rng.choice(["填报表", "填报说明", "Sheet&1", "表 二", "s"]) + str(n)
        if n and rng.random() < 0.2:
            ws.sheet_state = "hidden"
        for _ in range(rng.randint(0, 40)):
            cell = ws.cell(rng.randint(1, 30), rng.randint(1, 10))
            pick = rng.random()
            if pick < 0.35:
                cell.value = rng.choice(TEXTS)
            elif pick < 0.7:
                cell.value = rng.choice(NUMBERS)
            elif pick < 0.8:
                cell.value = rng.choice(dates)
            elif pick < 0.85:
                cell.value = rng.choice([True, False])
            elif pick < 0.9:
                cell.value = "=1+1"
            if rng.random() < 0.4:
                cell.number_format = rng.choice(formats)
                is_date = isinstance(cell.value, dt.date)
                if plain and is_date != (cell.number_format in PLAIN_DATE_FORMATS):
                    cell.number_format = "yyyy-mm-dd" if is_date else "General"
        for _ in range(rng.choice([0, 0, 1, 2])):
            r0, c0 = rng.randint(1, 30), rng.randint(1, 10)
            r1, c1 = r0 + rng.randint(plain, 3), c0 + rng.randint(0, 3)
            ws.merge_cells(f"{get_column_letter(c0)}{r0}:{get_column_letter(c1)}{r1}")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# Hand-written XML: each feature a cell form, a shared string, or a whole-part variant.
SHARED = [
    "<si><t>填报单位</t></si>",
    "<si><t>&#20154;&#31038;&#23616;</t></si>",
    "<si><t>a &amp; b &lt; c</t></si>",
    '<si><t xml:space="preserve"> spaced </t></si>',
    "<si><t>line_x000D_\nnext</t></si>",
    "<si><r><rPr><b/></rPr><t>rich</t></r><r><t>text</t></r></si>",
    '<si><t>東京</t><rPh sb="0" eb="2"><t>とうきょう</t></rPh><phoneticPr fontId="1"/></si>',
    "<si><t/></si>",
    "<si><t>&#x4E2D;&#x6587;</t></si>",
    "<si><t>plain</t></si>",
    "<si><t> trimmed by calamine </t></si>",
    "<si><t>&#32;&#x3000;spaced</t></si>",
]
PLAIN_SHARED = (0, 1, 2, 3, 8, 9)  # the ones the plain reader takes (a part of others: none)
CELLS = [  # (form with {r} for the position, plain: whether the plain reader takes it)
    ('<c r="{r}"><v>1807</v></c>', True),
    ('<c r="{r}" s="0"><v>1.5</v></c>', True),
    ('<c r="{r}"><v>1E-3</v></c>', True),
    ('<c r="{r}"><v>-0</v></c>', True),
    ('<c r="{r}"><v>2.5e-7</v></c>', True),
    ('<c r="{r}"><v>.5</v></c>', False),
    ('<c r="{r}" s="1"><v>45000</v></c>', True),
    ('<c r="{r}" s="2"><v>44986</v></c>', True),
    ('<c r="{r}" s="2"><v>44986.5</v></c>', False),
    ('<c r="{r}" s="2"><v>59</v></c>', False),
    ('<c r="{r}" s="3"><v>0.125</v></c>', True),
    ('<c r="{r}" s="4"><v>45000.25</v></c>', False),
    ('<c r="{r}" s="5"><v>45000</v></c>', False),
    ('<c r="{r}" s="6"><v>12</v></c>', True),
    ('<c r="{r}" t="s"><v>{s}</v></c>', None),
    ('<c r="{r}" t="s"><v>-1</v></c>', False),
    ('<c r="{r}" s="1" t="s"><v>{s}</v></c>', None),
    ('<c r="{r}" t="inlineStr"><is><t>inline &amp; &#22635;</t></is></c>', True),
    ('<c r="{r}" t="inlineStr"><is><t xml:space="preserve"> kept </t></is></c>', True),
    ('<c r="{r}" t="inlineStr"><is><r><t>rich</t></r></is></c>', False),
    ('<c r="{r}" t="inlineStr"><is><t> trimmed </t></is></c>', False),
    ('<c r="{r}" t="inlineStr"><is><t>&#32;&#32;</t></is></c>', False),
    ('<c r="{r}" t="inlineStr"><is><t>a\n</t></is></c>', False),
    ('<c r="{r}" t="inlineStr"><is><t>a  b\tc</t></is></c>', True),
    ('<c r="{r}" t="inlineStr"><is><t xml:space="preserve">\n</t></is></c>', True),
    ('<c r="{r}" t="inlineStr"><is><t></t></is></c>', False),
    ('<c r="{r}" t="str"><f>A1&amp;"x"</f><v>cached &amp; text</v></c>', False),
    ('<c r="{r}" t="str"><f>CONCAT("a","b")</f><v>ab</v></c>', True),
    ('<c r="{r}"><f>1+1</f><v>2</v></c>', True),
    ('<c r="{r}"><f t="shared" ref="A1:A3" si="0">B1*2</f><v>4</v></c>', True),
    ('<c r="{r}"><f t="shared" si="0"/><v>6</v></c>', True),
    ('<c r="{r}"><f>1+1</f></c>', True),
    ('<c r="{r}" t="b"><v>1</v></c>', True),
    ('<c r="{r}" t="b"><v>0</v></c>', True),
    ('<c r="{r}" t="e"><v>#DIV/0!</v></c>', False),
    ('<c r="{r}" t="d"><v>2023-01-01T00:00:00</v></c>', False),
    ('<c r="{r}" s="1"/>', True),
    ('<c r="{r}" s="3"></c>', True),
    ('<c r="{r}"><v></v></c>', False),
    ('<c r="{r}" t="n"><v> 7</v></c>', False),
    ('<c r="{r}" cm="1"><v>3</v></c>', False),
]
# cellXfs: 0 General, 1 built-in 14 (a date), 2 custom yyyy-mm-dd, 3 0.00, 4 built-in 22
# (date and time), 5 a custom format the plain reader does not know, 6 '#,##0'.
STYLES = (
    f'{DECL}<styleSheet xmlns="{MAIN}"><numFmts count="2">'
    '<numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="[$-804]yyyy&quot;年&quot;m&quot;月&quot;"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/></font></fonts>'
    '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="7"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs></styleSheet>"
)
SHEET_VARIANTS = [
    "excel",
    "excel",
    "excel",
    "bare",
    "prefixed",
    "cdata",
    "comment",
    "no_ref",
    "tab",
]


def hand_book(rng: random.Random, plain: bool = False) -> tuple[bytes, bool]:
    """A hand-written workbook and whether every feature in it is one the plain reader takes."""
    sheets = []
    takes = True
    # The shared strings: all of them, or the plain ones only (a workbook's whole part is read).
    shared = [SHARED[i] for i in PLAIN_SHARED] if plain or rng.random() < 0.5 else SHARED
    takes = len(shared) == len(PLAIN_SHARED)
    for n in range(rng.randint(1, 3)):
        cells: dict[tuple[int, int], str] = {}
        for _ in range(rng.randint(0, 25)):
            form, ok = rng.choice(CELLS)
            s = rng.randrange(len(shared))
            if ok is None:
                ok = True
            if plain and not ok:
                continue
            takes = takes and ok
            cells[(rng.randint(1, 20), rng.randint(1, 8))] = form.replace("{s}", str(s))
        variant = "excel" if plain else rng.choice(SHEET_VARIANTS)
        takes = takes and variant in ("excel", "bare", "tab")
        merges = []
        for _ in range(rng.choice([0, 0, 1, 3])):
            r0, c0 = rng.randint(1, 20), rng.randint(1, 8)
            r1, c1 = r0 + rng.randint(0, 2), c0 + rng.randint(0, 2)
            merges.append(f"{get_column_letter(c0)}{r0}:{get_column_letter(c1)}{r1}")
        name = rng.choice(["填报表", "Sheet1", "a & b", "数据", " 表 "]) + str(n)
        sheets.append((name, _sheet_xml(cells, merges, variant)))
    date1904 = not plain and rng.random() < 0.08
    takes = takes and not date1904
    relative = rng.random() < 0.5
    with_strings = plain or rng.random() < 0.9
    if not with_strings:
        takes = takes and all('t="s"' not in xml for _, xml in sheets)
    return _zip(sheets, shared if with_strings else None, date1904, relative), takes


def _sheet_xml(cells: dict[tuple[int, int], str], merges: list[str], variant: str) -> str:
    rows: dict[int, list[str]] = {}
    for (r, c), form in sorted(cells.items()):
        ref = f"{get_column_letter(c)}{r}"
        cell = form.replace("{r}", ref)
        if variant == "no_ref":
            cell = cell.replace(f' r="{ref}"', "", 1)
        rows.setdefault(r, []).append(cell)
    body = "".join(
        f'<row r="{r}" spans="1:8" x14ac:dyDescent="0.25">{"".join(cs)}</row>'
        for r, cs in sorted(rows.items())
    )
    if variant == "cdata":
        body = body.replace("<t>", "<t><![CDATA[", 1).replace("</t>", "]]></t>", 1)
    merged = ""
    if merges:
        refs = "".join(f'<mergeCell ref="{m}"/>' for m in merges)
        merged = f'<mergeCells count="{len(merges)}">{refs}</mergeCells>'
    head = (
        f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}" '
        'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
    )
    comment = "<!-- written by hand -->" if variant == "comment" else ""
    xml = (
        f'{DECL}{head}<dimension ref="A1"/><sheetViews><sheetView workbookViewId="0"/>'
        f'</sheetViews><sheetFormatPr defaultRowHeight="15"/>{comment}<sheetData>{body}'
        f'</sheetData>{merged}<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
        'header="0.3" footer="0.3"/></worksheet>'
    )
    if variant == "tab":  # a merged range written with a tab: left to calamine
        xml = xml.replace("<mergeCell ref", "<mergeCell\tref")
    if variant == "bare":
        xml = xml.removeprefix(DECL)
    if variant == "prefixed":
        xml = (
            xml.replace(f'<worksheet xmlns="{MAIN}"', f'<x:worksheet xmlns:x="{MAIN}"')
            .replace("<c ", "<x:c ")
            .replace("</c>", "</x:c>")
            .replace("<row ", "<x:row ")
            .replace("</row>", "</x:row>")
            .replace("<v>", "<x:v>")
            .replace("</v>", "</x:v>")
            .replace("sheetData>", "x:sheetData>")
            .replace("</worksheet>", "</x:worksheet>")
        )
    return xml


def _zip(sheets, shared: list[str] | None, date1904: bool, relative: bool) -> bytes:
    pr = '<workbookPr date1904="1"/>' if date1904 else '<workbookPr defaultThemeVersion="166925"/>'
    listed = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>'
        for i, (name, _) in enumerate(sheets, start=1)
    )
    workbook = (
        f'{DECL}<workbook xmlns="{MAIN}" xmlns:r="{REL}">{pr}<sheets>{listed}</sheets></workbook>'
    )
    prefix = "worksheets/" if relative else "/xl/worksheets/"
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="{prefix}sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    n = len(sheets)
    with_strings = shared is not None
    rels += f'<Relationship Id="rId{n + 1}" Type="{REL}/styles" Target="styles.xml"/>'
    if with_strings:
        rels += (
            f'<Relationship Id="rId{n + 2}" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    parts = {
        "[Content_Types].xml": _content_types(n, with_strings),
        "_rels/.rels": f'{DECL}<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
        f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": f'{DECL}<Relationships xmlns="{PKG}">{rels}</Relationships>',
        "xl/styles.xml": STYLES,
    }
    if with_strings:
        parts["xl/sharedStrings.xml"] = (
            f'{DECL}<sst xmlns="{MAIN}" count="{len(shared)}" uniqueCount="{len(shared)}">'
            + "".join(shared)
            + "</sst>"
        )
    for i, (_, xml) in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2023, 1, 1, 0, 0, 0)), text.encode())
    return out.getvalue()


def _content_types(sheets: int, with_strings: bool) -> str:
    ov = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    over = [("/xl/workbook.xml", f"{ov}.sheet.main+xml"), ("/xl/styles.xml", f"{ov}.styles+xml")]
    over += [(f"/xl/worksheets/sheet{i}.xml", f"{ov}.worksheet+xml") for i in range(1, sheets + 1)]
    if with_strings:
        over.append(("/xl/sharedStrings.xml", f"{ov}.sharedStrings+xml"))
    items = "".join(f'<Override PartName="{p}" ContentType="{c}"/>' for p, c in over)
    return (
        f'{DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f"{items}</Types>"
    )


def corpus(seed: int = SEED, n_openpyxl: int = 40, n_hand: int = 120, n_plain: int = 40):
    """(label, bytes, whether the plain reader must take it: True, or None: either way)."""
    rng = random.Random(seed)
    out = []
    for i in range(n_openpyxl):
        out.append((f"openpyxl-{i}", openpyxl_book(rng), None))
    for i in range(n_plain):
        out.append((f"openpyxl-plain-{i}", openpyxl_book(rng, plain=True), True))
    for i in range(n_hand):
        data, _ = hand_book(rng)
        out.append((f"hand-{i}", data, None))
    for i in range(n_plain):
        data, takes = hand_book(rng, plain=True)
        out.append((f"plain-{i}", data, takes or None))
    return out


def formatted_book(num_fmt_id: int, code: str | None) -> bytes:
    """A workbook of number cells (a date's serial, a fraction, a negative) in one number format.

    `code`: a custom format (numFmtId >= 164) with this code; None: the built-in `num_fmt_id`.
    """
    fmt = ""
    if code is not None:
        fmt = f'<numFmts count="1"><numFmt numFmtId="{num_fmt_id}" formatCode={quoteattr(code)}/>'
        fmt += "</numFmts>"
    styles = (
        f'{DECL}<styleSheet xmlns="{MAIN}">{fmt}'
        '<fonts count="1"><font><sz val="11"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0"/>'
        '</cellStyleXfs><cellXfs count="2"><xf numFmtId="0" xfId="0"/>'
        f'<xf numFmtId="{num_fmt_id}" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>'
    )
    cells = {(1, 1): '<c r="{r}" s="1"><v>45000</v></c>', (2, 1): '<c r="{r}" s="1"><v>61</v></c>'}
    cells[(3, 1)] = '<c r="{r}" s="1"><v>2958465</v></c>'
    data = _zip([("S", _sheet_xml(cells, [], "excel"))], [], False, True)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            zout.writestr(info, styles.encode() if info.filename == "xl/styles.xml" else body)
    return out.getvalue()


def one_cell_book(form: str) -> bytes:
    """A workbook of one sheet whose A1 is the cell `form` (with {r} for its position)."""
    return _zip([("S", _sheet_xml({(1, 1): form}, [], "excel"))], None, False, False)
