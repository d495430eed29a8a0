"""From sheets of raw cells to one typed frame per file: header detection, parsing, derived columns.

No I/O here: the frame carries every value as written, its parsed form, and the per-row
bounds and lookups that the Great Expectations suite checks.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from kpi.contract import COLUMNS, KIND_FIELDS, STATUS_VOCAB
from kpi.ingest.read import Sheet
from transforms.numbers import Number, NumberError, is_blank, parse_number
from transforms.periods import Period, PeriodError, context_year, parse_period, with_year
from transforms.units import UnitError, canonical, convert, normalize_unit

HEADER_SCAN_ROWS = 50  # a header further down than this is not a template header
MIN_HEADER_FIELDS = 3  # fewer matching cells is a title or a note, not a header
NUMERIC_FIELDS = ("value", "growth_pct", "prior_value", "reference_value")
# Which target kinds' values scale with the annual target, and how far above it is absurd.
RANGE_FACTOR = 5.0
GROWTH_KINDS = ("growth_rate", "relative")
HEADER_ZH = {c.field: c.header_zh for c in COLUMNS}
# A row's key names, made once: keys built per row (f-strings) were new strings in every row,
# which the workers' pickles then carried in full and the ingesting process hashed again.
_RAW_KEY = {c.field: f"{c.field}_raw" for c in COLUMNS}
_NUMERIC_KEYS = tuple(
    (f, f"{f}_present", f"{f}_detail", f"{f}_num", f"{f}_numeric") for f in NUMERIC_FIELDS
)
_KIND_FIELDS_ZH = {k: "或".join(f"“{HEADER_ZH[f]}”" for f in v) for k, v in KIND_FIELDS.items()}
_NO_COLUMN = 1 << 62  # beyond any row
_DATE = re.compile(r"^(\d{4})(?:[-/.]|年)(\d{1,2})(?:[-/.]|月)(\d{1,2})日?$")


def fold_header(text: object) -> str:
    """A header cell compared loosely: NFKC, no spaces, no required-marker '*', lower case."""
    return _fold_header(str(text or ""))


# Text folding is pure and the same few strings (headers, units, names, the instruction lines
# of the template) recur in every file: caching it is most of the cost of a row.
_CACHE = 1 << 16


@lru_cache(maxsize=_CACHE)
def _header_field(text: str) -> str | None:
    return _HEADER_LOOKUP.get(_fold_header(text))


@lru_cache(maxsize=_CACHE)
def _fold_header(text: str) -> str:
    s = "".join(unicodedata.normalize("NFKC", text).split())
    return s.strip("*").lower()


_HEADER_LOOKUP: dict[str, str] = {}
for _c in COLUMNS:
    for _h in (_c.header_zh, *_c.aliases):
        _HEADER_LOOKUP.setdefault(fold_header(_h), _c.field)


@dataclass
class Table:
    """The data block of one sheet: where its header is and which column holds which field."""

    sheet: str
    header_row: int  # 1-based
    columns: dict[str, tuple[int, str]]  # field -> (0-based column, header as written)
    rows: list[tuple[int, list[object]]]  # (1-based row number, cells)
    titles: list[str] = field(default_factory=list)  # text above the header (title rows)
    header: list[str] = field(default_factory=list)  # every header cell as written


def find_table(sheet: Sheet) -> Table | None:
    """The sheet's header row (the first with most contract headers) and the rows below it."""
    best: tuple[int, dict[str, tuple[int, str]]] | None = None
    for i, row in enumerate(sheet.rows[:HEADER_SCAN_ROWS]):
        if len(row) - row.count(None) < MIN_HEADER_FIELDS:
            continue  # too few cells to hold a header (a title, a note, a blank row)
        found: dict[str, tuple[int, str]] = {}
        for j, cell in enumerate(row):
            f = _header_field(str(cell)) if cell is not None else None
            if f and f not in found:  # the first of two columns for one field wins
                found[f] = (j, str(cell).strip())
        if len(found) >= MIN_HEADER_FIELDS and (best is None or len(found) > len(best[1])):
            best = (i, found)
    if best is None:
        return None
    i, columns = best
    titles = [cell_text(c) for row in sheet.rows[:i] for c in row if c is not None]
    rows = [(n + 1, r) for n, r in enumerate(sheet.rows) if n > i]
    header = [cell_text(c) for c in sheet.rows[i]]
    return Table(sheet.name, i + 1, columns, rows, titles, header)


def cell_text(cell: object) -> str:
    """A cell as the spreadsheet shows it, for messages and raw.submission_rows."""
    if cell.__class__ is str:  # most cells: checked first
        return cell.strip()
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        if math.isfinite(cell) and cell.is_integer() and abs(cell) < 1e16:
            return str(int(cell))
        return repr(cell)
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time(0) else cell.isoformat(sep=" ")
    if isinstance(cell, date | time):
        return cell.isoformat()
    if isinstance(cell, timedelta):
        return str(cell)
    return str(cell).strip()


def parse_date(cell: object) -> date | None:
    """A completion date from a date cell or text such as 2023-06-28 / 2023年6月28日."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    m = _DATE.match("".join(unicodedata.normalize("NFKC", str(cell)).split()))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _fold_text(cell: object) -> str | None:
    if cell is None:
        return None
    return _fold_cell_text(cell_text(cell))


@lru_cache(maxsize=_CACHE)
def _fold_cell_text(text: str) -> str | None:
    s = "".join(unicodedata.normalize("NFKC", text).split())
    return s or None


def _blank(cell: object) -> bool:
    """transforms.numbers.is_blank, cached for text cells."""
    if cell is None:
        return True
    if cell.__class__ is str:
        return _blank_text(cell)
    return is_blank(cell)


_blank_text = lru_cache(maxsize=_CACHE)(is_blank)
_number_text = lru_cache(maxsize=_CACHE)(parse_number)  # a Number is immutable: shared safely


# What a department enters; the template pre-fills the rest (unit, department, period, code,
# name). A note alone is not a figure (and a footer often sits in the note column).
ENTERED_FIELDS = (*NUMERIC_FIELDS, "status", "completion_date")


def _entered_columns(columns: dict[str, tuple[int, str]]) -> tuple[int, ...]:
    """The columns of the fields a department enters (ENTERED_FIELDS), once per table."""
    return tuple(columns[f][0] for f in ENTERED_FIELDS if f in columns)


def _entered(cells: list[object], entered: tuple[int, ...]) -> bool:
    """A row in which something was entered; footers, blanks and unfilled template rows are not.

    A template row the department left blank (code, name and unit pre-filled, nothing entered)
    is not a submission of that target: it is ignored, not rejected. `entered`: _entered_columns.
    """
    n = len(cells)
    return any(j < n and not _blank(cells[j]) for j in entered)


def _filled(cells: list[object], columns: dict[str, tuple[int, str]], f: str) -> bool:
    if f not in columns:
        return False
    j = columns[f][0]
    return j < len(cells) and not _blank(cells[j])


def blank_template_rows(table: Table) -> int:
    """Rows with a code or period but nothing entered: template rows left blank (for the receipt)."""
    entered = _entered_columns(table.columns)
    return sum(
        1
        for _, row in table.rows
        if not _entered(row, entered)
        and (_filled(row, table.columns, "code") or _filled(row, table.columns, "period"))
    )


def build_frame(
    tables: list[Table],
    catalogue,
    *,
    as_of: date,
    previous: dict[str, list[tuple[int, str, float]]] | None = None,
):
    """One row per data row of the file, with raw, parsed and derived columns for validation.

    `previous` maps a target code to its current stored (period_index, period, value) triples,
    for the year-to-date check against earlier periods.
    """
    import pandas as pd  # the parsing workers never build a frame: they import no pandas

    records, columns = frame_records(tables, catalogue, as_of=as_of)
    add_previous(records, previous or {})
    if not records:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame.from_records(records, columns=columns)


def frame_records(tables: list[Table], catalogue, *, as_of: date) -> tuple[list[dict], list[str]]:
    """The rows of build_frame as dicts (without the previous-period lookups), and its columns.

    Batch ingestion works on these plain records: building a DataFrame per file would cost more
    than reading the file.
    """
    lookups = _Lookups(catalogue)
    records: list[dict] = []
    cells_of: list[dict] = []
    for t in tables:
        # A field the table lacks reads from a column no row reaches.
        where = [
            (c.field, _RAW_KEY[c.field], t.columns.get(c.field, (_NO_COLUMN,))[0]) for c in COLUMNS
        ]
        entered = _entered_columns(t.columns)
        for number, row in t.rows:
            if not _entered(row, entered):
                continue
            rec: dict = {"_rid": len(records), "sheet": t.sheet, "row": number}
            cells = {}
            width = len(row)
            for f, key, j in where:
                cell = row[j] if j < width else None
                cells[f] = cell
                # cell_text, its most common case inline (a call per cell cost more)
                rec[key] = cell.strip() if cell.__class__ is str else cell_text(cell)
            records.append(rec)
            cells_of.append(cells)

    parsed: list[Period | None] = []
    for rec, cells in zip(records, cells_of, strict=True):
        try:
            p = parse_period(cells["period"]) if not _blank(cells["period"]) else None
            rec["period_detail"] = None
        except PeriodError as exc:
            p, rec["period_detail"] = None, exc.detail
        parsed.append(p)
    years = [p.year for p in parsed if p and p.year is not None]
    if years and years.count(years[0]) == len(years):
        year = years[0]  # context_year's answer where one year is written (most files)
    else:
        year = context_year(years, [s for t in tables for s in t.titles], catalogue.plan.year)
    for rec, cells, p in zip(records, cells_of, parsed, strict=True):
        _derive(rec, cells, with_year(p, year) if p else None, lookups)
    _add_duplicates(records)

    present = set.intersection(*(set(t.columns) for t in tables)) if tables else set()
    # A column absent from some sheet is absent from the file: the suite checks required ones.
    absent = [_RAW_KEY[c.field] for c in COLUMNS if c.field not in present]
    for rec in records:
        for k in absent:
            del rec[k]
    if not records:
        columns = [k for k in _empty_columns(lookups) if k not in absent]
    else:
        columns = list(records[0])
        # Rows differ only by the keys set for some kinds (kind_fields_zh): a longer row adds.
        for rec in records:
            if len(rec) != len(columns):
                columns += [k for k in rec if k not in columns]
    columns += [k for k in ("previous_value", "previous_period") if k not in columns]
    return records, columns


def _empty_columns(lookups: _Lookups) -> list[str]:
    """Every column of a frame, for a file without data rows: each rule still finds its column."""
    rec: dict = {"_rid": 0, "sheet": "", "row": 0}
    for c in COLUMNS:
        rec[_RAW_KEY[c.field]] = ""
    _derive(rec, dict.fromkeys((c.field for c in COLUMNS), None), None, lookups)
    _add_duplicates([rec])
    return list(rec)


class _Lookups:
    """A catalogue's targets and departments by code (made once per catalogue), names resolved."""

    def __init__(self, catalogue):
        self.catalogue = catalogue
        self.targets, self.departments = catalogue.by_code()
        self._named: dict[str, object] = {}

    def resolve(self, text: str):
        """catalogue.resolve_department, remembered for the file."""
        if text not in self._named:
            self._named[text] = self.catalogue.resolve_department(text)
        return self._named[text]


def _derive(rec: dict, cells: dict, period: Period | None, lookups: _Lookups) -> None:
    """Parse one row and add the lookups and bounds its rules need."""
    dept = lookups.resolve(_fold_text(cells["department"]) or "")
    rec["department_code"] = dept.code if dept else None
    code = (_fold_text(cells["code"]) or "").lower() or None
    rec["code"] = code
    target = lookups.targets.get(code) if code else None
    kind = target.kind if target else None
    rec["target_kind"] = kind
    rec["lead_department"] = target.department if target else None
    lead = lookups.departments[target.department] if target else None
    rec["lead_name"] = lead.short_zh if lead else ""

    rec["period"] = period.key if period else None
    rec["period_year"] = period.year if period else None
    rec["period_month"] = period.month if period else None
    rec["period_start_month"] = period.start_month if period else None
    rec["period_index"] = period.index if period else None

    nums = {}
    for f, present_key, detail_key, num_key, numeric_key in _NUMERIC_KEYS:
        cell = cells[f]
        present = rec[present_key] = not _blank(cell)
        try:
            # parse_number, without checking blankness again (uncached for text: NFKC each time)
            if not present:
                n = None
            elif cell.__class__ is str:
                n = _number_text(cell)
            elif cell.__class__ is float and math.isfinite(cell):
                n = Number(cell)  # parse_number's answer for a present float (most .xlsx cells)
            else:
                n = parse_number(cell)
            rec[detail_key] = None
        except NumberError as exc:
            n, rec[detail_key] = None, exc.detail
        nums[f] = n
        rec[num_key] = n.value if n else None
        rec[numeric_key] = (n is not None) if present else None

    # Growth and reference figures are percentages as written; levels convert to a unit.
    rec["growth_pct"] = rec["growth_pct_num"]
    rec["reference_value"] = rec["reference_value_num"]
    unit_raw = _fold_text(cells["unit"])
    rec["unit"], rec["unit_detail"] = None, None
    rec["value"], rec["prior_value"] = None, None
    if target is not None:
        unit_to = None if kind in GROWTH_KINDS else target.unit
        for f in ("value", "prior_value"):
            n = nums[f]
            if n is None:
                continue
            try:
                rec[f], rec["unit"] = _to_canonical(n.value, n.percent, unit_raw, unit_to)
            except UnitError as exc:
                rec["unit_detail"] = str(exc)
    for f, key in (("value", "value_converted"), ("prior_value", "prior_value_converted")):
        given = target is not None and nums[f] is not None  # None where no conversion was asked for
        rec[key] = (rec[f] is not None) if given else None
    rec["value_min"], rec["value_max"] = _value_bounds(target, rec["unit"])

    status = _fold_text(cells["status"])
    rec["status"] = status
    rec["milestone_status"] = STATUS_VOCAB.get(status or "")
    done_cell = cells["completion_date"]
    rec["completion_date_present"] = not _blank(done_cell)
    done = parse_date(done_cell) if rec["completion_date_present"] else None
    rec["completion_date"] = done.isoformat() if done else None
    rec["completion_date_valid"] = (done is not None) if rec["completion_date_present"] else None
    # Given at all: a date that does not parse is completion_date_valid's to report.
    given = rec["completion_date_present"]
    rec["done_date_given"] = given if rec["milestone_status"] == "done" else None
    rec["note"] = rec["note_raw"] or None

    if kind is None:
        rec["kind_filled"], rec["kind_field"] = None, None
    else:
        fields = KIND_FIELDS[kind]
        filled = {f: not _blank(cells[f]) for f in (*fields, "value")}
        if (
            kind == "growth_rate"
        ):  # growth given, or computed from this year's and last year's levels
            ok = filled["growth_pct"] or (filled["prior_value"] and filled["value"])
        else:
            ok = any(filled[f] for f in fields)
        rec["kind_filled"], rec["kind_field"] = ok, fields[0]
        rec["kind_fields_zh"] = _KIND_FIELDS_ZH[kind]


def _to_canonical(
    value: float, percent: bool, unit_raw: str | None, unit_to: str | None
) -> tuple[float, str]:
    """A level in the canonical unit of its target (or of its own unit for growth kinds)."""
    written = unit_raw or ("%" if percent else None)
    key = (written, percent, unit_to)
    if key not in _CONVERSIONS:
        try:
            _CONVERSIONS[key] = _conversion(written, percent, unit_to)
        except UnitError as exc:
            _CONVERSIONS[key] = exc
    hit = _CONVERSIONS[key]
    if isinstance(hit, UnitError):
        raise UnitError(str(hit))
    unit, f_from, f_to = hit
    # The arithmetic of transforms.units.convert, so that the stored value is bit-identical.
    return (value * f_from if f_to is None else value * f_from / f_to), unit


# (unit as written, percent sign, target unit) -> conversion or its error: a few dozen keys.
_CONVERSIONS: dict[tuple, tuple | UnitError] = {}


def _conversion(
    written: str | None, percent: bool, unit_to: str | None
) -> tuple[str, float, float | None]:
    """(canonical unit, factor from the written unit, factor to the target's), or UnitError."""
    if written is None:
        expected = f"（应为“{unit_to}”或可换算的单位）" if unit_to else ""
        raise UnitError(f"无法确定数值的单位{expected}")
    if percent and canonical(written)[0] != "%":
        raise UnitError(f"数值带百分号，与计量单位“{written}”不符")
    if unit_to is None:
        unit, factor = canonical(written)
        return unit, factor, None
    try:
        unit = canonical(unit_to)[0]
        c_from, f_from = canonical(written)
        c_to, f_to = canonical(unit)
        if c_from != c_to:
            convert(1.0, written, unit)  # raises the UnitError of transforms.units
        return unit, f_from, f_to
    except UnitError as exc:
        raise UnitError(f"计量单位“{written}”无法换算为指标的计量单位“{unit_to}”") from exc


def _value_bounds(target, unit: str | None) -> tuple[float | None, float | None]:
    """The plausible range of a stored value: non-negative, percentages to 100, amounts to 5x target."""
    if target is None or target.kind in ("milestone", "qualitative", "relative"):
        return None, None
    if target.kind == "growth_rate":
        return 0.0, None  # a year-to-date level behind a growth rate
    if _is_percent(unit):
        return 0.0, 100.0
    tv = target.canonical_value
    if target.kind == "ceiling" or not tv or tv <= 0:
        return 0.0, None  # a ceiling's breach must reach the alerts, however large
    return 0.0, RANGE_FACTOR * tv


@lru_cache(maxsize=_CACHE)
def _is_percent(unit: str | None) -> bool:
    return normalize_unit(unit) == "%"


def _add_duplicates(records: list[dict]) -> None:
    """For each row, the other rows of the file with the same (code, period), for the message."""
    seen: dict[tuple, list[dict]] = {}
    for rec in records:
        if rec["code"] and rec["period"]:
            seen.setdefault((rec["code"], rec["period"]), []).append(rec)
    for rec in records:
        group = seen.get((rec["code"], rec["period"]), [])
        others = [o for o in group if o is not rec]
        rec["dup_with"] = "、".join(
            f"第{o['row']}行"
            if o["sheet"] == rec["sheet"]
            else f"工作表“{o['sheet']}”第{o['row']}行"
            for o in others
        )


# Target kinds whose values add up over the year: a period is checked against the one before.
YTD_KINDS = frozenset({"cumulative", "count"})


def add_previous(records: list[dict], previous: dict[str, list[tuple[int, str, float]]]) -> None:
    """The latest earlier year-to-date value of the same target, from this file or the warehouse."""
    keys = ("code", "target_kind", "period_index", "period", "value")
    found = previous_values([tuple(rec[k] for k in keys) for rec in records], previous)
    for rec, (value, period) in zip(records, found, strict=True):
        rec["previous_value"], rec["previous_period"] = value, period


def previous_values(
    rows: list[tuple], previous: dict[str, list[tuple[int, str, float]]]
) -> list[tuple[float | None, str | None]]:
    """(previous_value, previous_period) of each (code, target_kind, period_index, period, value)."""
    # Only the rows of year-to-date kinds look anything up: pool only their targets' values.
    wanted = {code for code, kind, index, _, _ in rows if kind in YTD_KINDS and index is not None}
    pool: dict[str, list[tuple[int, str, float]]] = {
        k: list(v) for k, v in previous.items() if k in wanted
    }
    for code, _, index, period, value in rows:
        if index is not None and value is not None and code and code in wanted:
            pool.setdefault(code, []).append((index, period, value))
    out: list[tuple[float | None, str | None]] = []
    for code, kind, index, _, _ in rows:
        found = None, None
        if kind in YTD_KINDS and index is not None:
            earlier = [e for e in pool.get(code, []) if e[0] < index and e[0] // 12 == index // 12]
            if earlier:
                _, period, value = max(earlier, key=lambda e: e[0])
                found = value, period
        out.append(found)
    return out


def packed(records: list[dict], columns: list[str]) -> tuple[tuple[str, ...], list[tuple]]:
    """frame_records' rows as one tuple each over the keys they hold (None where a row lacks one).

    What the parsing workers send: a tuple unpickles, is read and is freed at a fraction of the
    cost of a dict of some 60 keys (BENCHMARKS.md, seventh pass, part B).
    """
    held = set().union(*records) if records else set()
    keys = tuple(k for k in columns if k in held)
    return keys, [tuple(map(rec.get, keys)) for rec in records]
