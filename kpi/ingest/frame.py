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
from operator import itemgetter

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
_HEADER_FIELDS = len(set(_HEADER_LOOKUP.values()))  # the most a header row can hold


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
    most = MIN_HEADER_FIELDS  # a row with fewer cells holds fewer headers than it must beat
    for i, row in enumerate(sheet.rows[:HEADER_SCAN_ROWS]):
        if len(row) - row.count(None) < most:
            continue  # too few cells to hold a header (a title, a note, a blank row) or a better one
        found: dict[str, tuple[int, str]] = {}
        for j, cell in enumerate(row):
            f = _header_field(str(cell)) if cell is not None else None
            if f and f not in found:  # the first of two columns for one field wins
                found[f] = (j, str(cell).strip())
        if len(found) >= MIN_HEADER_FIELDS and (best is None or len(found) > len(best[1])):
            best = (i, found)
            if len(found) == _HEADER_FIELDS:
                break  # every field found: no later row can hold more
            most = len(found) + 1
    if best is None:
        return None
    i, columns = best
    titles = [cell_text(c) for row in sheet.rows[:i] for c in row if c is not None]
    rows = list(enumerate(sheet.rows[i + 1 :], start=i + 2))
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


# What a department enters; the template pre-fills the rest (unit, department, period, code,
# name). A note alone is not a figure (and a footer often sits in the note column).
ENTERED_FIELDS = (*NUMERIC_FIELDS, "status", "completion_date")


def _template(cells: tuple) -> bool:
    """A row with a code or a period (cells in COLUMNS' order)."""
    # With nothing entered: a template row left blank, counted for the receipt (frame_parts).
    return _filled_cell(cells[_CODE]) or _filled_cell(cells[_PERIOD])


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
    records, columns, _ = frame_parts(tables, catalogue)
    return records, columns


def frame_parts(tables: list[Table], catalogue) -> tuple[list[dict], list[str], int]:
    """frame_records' records and columns, and the file's template rows left blank (_template)."""
    lookups = _Lookups(catalogue)
    taken: list[tuple] = []  # (sheet, row number, cells in COLUMNS' order) of the rows entered
    blank = 0
    for t in tables:
        cells_of, entered = _table_cells(t)
        for (number, _), cells, filled in zip(t.rows, cells_of, entered, strict=True):
            if filled:
                taken.append((t.sheet, number, cells))
            elif _template(cells):
                blank += 1

    # The period of each row, parsed once for each distinct cell of the file (most files: one).
    parsed: list[Period | None] = []
    details: list[str | None] = []
    seen: dict[tuple, tuple] = {}
    for _, _, cells in taken:
        cell = cells[_PERIOD]
        key = (cell.__class__, cell)  # 1, 1.0 and True are equal keys but differ as cells
        hit = seen.get(key)
        if hit is None:
            try:
                hit = (parse_period(cell) if not _blank(cell) else None), None
            except PeriodError as exc:
                hit = None, exc.detail
            seen[key] = hit
        parsed.append(hit[0])
        details.append(hit[1])
    years = [p.year for p in parsed if p and p.year is not None]
    if years and years.count(years[0]) == len(years):
        year = years[0]  # context_year's answer where one year is written (most files)
    else:
        year = context_year(years, [s for t in tables for s in t.titles], catalogue.plan.year)
    # Each distinct period once: the rows of one period share its Period (the parse is cached).
    distinct = {id(p): p for p in parsed}  # `parsed` holds them meanwhile
    fields = {i: _period_fields(p, year) for i, p in distinct.items()}
    records = [
        _record(i, sheet, number, cells, fields[id(p)], detail, lookups)
        for i, ((sheet, number, cells), p, detail) in enumerate(
            zip(taken, parsed, details, strict=True)
        )
    ]
    _add_duplicates(records)

    present = set.intersection(*(set(t.columns) for t in tables)) if tables else set()
    # A column absent from some sheet is absent from the file: the suite checks required ones.
    absent = [_RAW_KEY[c.field] for c in COLUMNS if c.field not in present]
    if absent:
        for rec in records:
            for k in absent:
                del rec[k]
    if not records:
        columns = [k for k in _empty_columns(lookups) if k not in absent]
    else:
        columns = list(records[0])
        # Rows differ only by the keys set for some kinds (kind_fields_zh): a longer row adds.
        width = len(columns)
        for rec in records:
            if len(rec) != width:
                columns += [k for k in rec if k not in columns]
                width = len(columns)
    columns += [k for k in ("previous_value", "previous_period") if k not in columns]
    return records, columns, blank


_FIELD_AT = {c.field: i for i, c in enumerate(COLUMNS)}  # a field's place in a row's cells
_PERIOD, _CODE = _FIELD_AT["period"], _FIELD_AT["code"]
_ENTERED_AT = tuple(_FIELD_AT[f] for f in ENTERED_FIELDS)
_RAW_KEYS = tuple(_RAW_KEY[c.field] for c in COLUMNS)
_NUMERIC_AT = tuple((_FIELD_AT[f], *keys) for f, *keys in _NUMERIC_KEYS)
_DEPARTMENT, _UNIT, _STATUS = _FIELD_AT["department"], _FIELD_AT["unit"], _FIELD_AT["status"]
_DONE = _FIELD_AT["completion_date"]
_VALUE, _GROWTH, _PRIOR = _FIELD_AT["value"], _FIELD_AT["growth_pct"], _FIELD_AT["prior_value"]
_KIND_AT = {k: tuple(_FIELD_AT[f] for f in v) for k, v in KIND_FIELDS.items()}


def _table_cells(t: Table) -> tuple[list[tuple], list[bool]]:
    """Each row's cells in COLUMNS' order (None where the table lacks the field or the row ends
    short), and whether something was entered in it (ENTERED_FIELDS).

    Footers, blanks and unfilled template rows are not entered: a template row the department
    left blank (code, name and unit pre-filled, nothing entered) is not a submission of that
    target: it is ignored, not rejected.
    """
    # A field the table lacks reads the None appended to every row.
    at = [t.columns[c.field][0] if c.field in t.columns else -1 for c in COLUMNS]
    pad = [None] * (max(at) + 2)
    take = itemgetter(*at)
    cells_of, entered = [], []
    for _, row in t.rows:
        cells = take([*row, *pad])
        cells_of.append(cells)
        for i in _ENTERED_AT:
            if _filled_cell(cells[i]):
                entered.append(True)
                break
        else:
            entered.append(False)
    return cells_of, entered


def _filled_cell(cell: object) -> bool:
    """not _blank(cell)."""
    if cell is None:
        return False
    if cell.__class__ is str:
        return not _blank_text(cell)
    return not is_blank(cell)


_PERIOD_NONE = (None, None, None, None, None)


def _period_fields(p: Period | None, year: int) -> tuple:
    """(key, year, month, start_month, index) of a row's period, its year filled in."""
    if p is None:
        return _PERIOD_NONE
    p = with_year(p, year)
    return p.key, p.year, p.month, p.start_month, p.index


def _empty_columns(lookups: _Lookups) -> list[str]:
    """Every column of a frame, for a file without data rows: each rule still finds its column."""
    rec = _record(0, "", 0, (None,) * len(COLUMNS), _PERIOD_NONE, None, lookups)
    del rec["period_detail"]  # set only where a period was read
    _add_duplicates([rec])
    return list(rec)


class _Lookups:
    """A catalogue's targets and departments by code (made once per catalogue), names resolved."""

    def __init__(self, catalogue):
        self.catalogue = catalogue
        self.targets, self.departments = catalogue.by_code()
        self._named: dict[str, object] = {}
        self._codes: dict[str | None, tuple] = {}

    def resolve(self, text: str):
        """catalogue.resolve_department, remembered for the file."""
        if text not in self._named:
            self._named[text] = self.catalogue.resolve_department(text)
        return self._named[text]

    def target(self, code: str | None) -> tuple:
        """(target, kind, lead department's code, lead department's short name) of a code."""
        hit = self._codes.get(code)
        if hit is None:
            target = self.targets.get(code) if code else None
            lead = self.departments[target.department] if target else None
            hit = self._codes[code] = (
                target,
                target.kind if target else None,
                target.department if target else None,
                lead.short_zh if lead else "",
            )
        return hit

    def bounds(self, target, unit: str | None) -> tuple[float | None, float | None]:
        """_value_bounds, remembered (it folds the target's unit)."""
        # What _value_bounds reads of a target: the same for every file of a plan.
        key = (target.kind, target.value, target.unit, unit)
        hit = _BOUNDS.get(key)
        if hit is None:
            if len(_BOUNDS) >= _CACHE:  # a worker's memory is capped
                _BOUNDS.clear()
            hit = _BOUNDS[key] = _value_bounds(target, unit)
        return hit


def _record(
    rid: int,
    sheet: str,
    number: int,
    cells: tuple,
    period: tuple,
    period_detail: str | None,
    lookups: _Lookups,
) -> dict:
    """One row parsed: its cells as written, and the lookups and bounds its rules need."""
    # cell_text, its most common case inline (a call per cell cost more)
    (
        department,
        period_,
        code_,
        name,
        unit_,
        value_,
        growth,
        prior_,
        reference,
        status_,
        done_,
        note,
    ) = [c.strip() if c.__class__ is str else cell_text(c) for c in cells]
    # One dict display: building a row's dict key by key cost more than what is in it.
    rec = {
        "_rid": rid,
        "sheet": sheet,
        "row": number,
        "department_raw": department,
        "period_raw": period_,
        "code_raw": code_,
        "name_raw": name,
        "unit_raw": unit_,
        "value_raw": value_,
        "growth_pct_raw": growth,
        "prior_value_raw": prior_,
        "reference_value_raw": reference,
        "status_raw": status_,
        "completion_date_raw": done_,
        "note_raw": note,
        "period_detail": period_detail,
    }
    # _fold_text of each cell, from its text (cell_text) read above
    dept = lookups.resolve(_fold_cell_text(department) or "")
    code = (_fold_cell_text(code_) or "").lower() or None
    target, kind, lead_department, lead_name = lookups.target(code)
    key, year, month, start, index = period
    rec["department_code"] = dept.code if dept else None
    rec["code"] = code
    rec["target_kind"] = kind
    rec["lead_department"] = lead_department
    rec["lead_name"] = lead_name
    rec["period"] = key
    rec["period_year"] = year
    rec["period_month"] = month
    rec["period_start_month"] = start
    rec["period_index"] = index

    present: dict[int, bool] = {}  # column -> filled, of the numeric fields
    nums: list[Number | None] = []
    for j, present_key, detail_key, num_key, numeric_key in _NUMERIC_AT:
        cell = cells[j]
        if cell is None:
            filled, detail, num, numeric, n = _ABSENT
        elif cell.__class__ is str:
            filled, detail, num, numeric, n = _numeric_text(cell)
        else:
            filled, detail, num, numeric, n = _numeric(cell)
        present[j] = rec[present_key] = filled
        rec[detail_key] = detail
        rec[num_key] = num
        rec[numeric_key] = numeric
        nums.append(n)
    n_value, _, n_prior, _ = nums

    # Growth and reference figures are percentages as written; levels convert to a unit.
    unit = unit_detail = value = prior = None
    if target is not None:
        unit_raw = _fold_cell_text(unit_)
        unit_to = None if kind in GROWTH_KINDS else target.unit
        if n_value is not None:
            try:
                value, unit = _to_canonical(n_value.value, n_value.percent, unit_raw, unit_to)
            except UnitError as exc:
                unit_detail = str(exc)
        if n_prior is not None:
            try:
                prior, unit = _to_canonical(n_prior.value, n_prior.percent, unit_raw, unit_to)
            except UnitError as exc:
                unit_detail = str(exc)
        value_min, value_max = lookups.bounds(target, unit)
        # None where no conversion was asked for
        value_converted = (value is not None) if n_value is not None else None
        prior_converted = (prior is not None) if n_prior is not None else None
    else:
        value_min = value_max = value_converted = prior_converted = None

    status = _fold_cell_text(status_)
    milestone_status = STATUS_VOCAB.get(status or "")
    done_cell = cells[_DONE]
    done_present = _filled_cell(done_cell)
    done = parse_date(done_cell) if done_present else None
    if kind is None:
        kind_filled = kind_field = None
    else:
        fields = KIND_FIELDS[kind]
        kind_field = fields[0]
        if kind == "growth_rate":  # growth given, or computed from this year's and last year's
            kind_filled = present[_GROWTH] or (present[_PRIOR] and present[_VALUE])
        else:
            kind_filled = False
            for j in _KIND_AT[kind]:
                filled = present.get(j)
                if filled is None:
                    filled = _filled_cell(cells[j])
                if filled:
                    kind_filled = True
                    break
    rec["growth_pct"] = rec["growth_pct_num"]
    rec["reference_value"] = rec["reference_value_num"]
    rec["unit"] = unit
    rec["unit_detail"] = unit_detail
    rec["value"] = value
    rec["prior_value"] = prior
    rec["value_converted"] = value_converted
    rec["prior_value_converted"] = prior_converted
    rec["value_min"] = value_min
    rec["value_max"] = value_max
    rec["status"] = status
    rec["milestone_status"] = milestone_status
    rec["completion_date_present"] = done_present
    rec["completion_date"] = done.isoformat() if done else None
    rec["completion_date_valid"] = (done is not None) if done_present else None
    # Given at all: a date that does not parse is completion_date_valid's to report.
    rec["done_date_given"] = done_present if milestone_status == "done" else None
    rec["note"] = note or None
    rec["kind_filled"] = kind_filled
    rec["kind_field"] = kind_field
    if kind is not None:
        rec["kind_fields_zh"] = _KIND_FIELDS_ZH[kind]
    return rec


def _numeric(cell: object) -> tuple:
    """(present, detail, num, numeric, the Number or None) of a cell of a numeric field."""
    present = _filled_cell(cell)
    try:
        # parse_number, without checking blankness again
        if not present:
            n = None
        elif cell.__class__ is float and math.isfinite(cell):
            n = Number(cell)  # parse_number's answer for a present float (most .xlsx cells)
        else:
            n = parse_number(cell)
        detail = None
    except NumberError as exc:
        n, detail = None, exc.detail
    return present, detail, n.value if n else None, (n is not None) if present else None, n


# Text is parsed once (NFKC each time otherwise): the same few figures recur in every file.
# A tuple and a Number are immutable: shared safely.
_numeric_text = lru_cache(maxsize=_CACHE)(_numeric)
_ABSENT = (False, None, None, None, None)


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


# (kind, value, unit of a target, unit of a row) -> _value_bounds: a few hundred in a province.
_BOUNDS: dict[tuple, tuple[float | None, float | None]] = {}


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
        group = seen.get((rec["code"], rec["period"]))
        if group is None or len(group) == 1:  # most rows: alone in their file
            rec["dup_with"] = ""
            continue
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
