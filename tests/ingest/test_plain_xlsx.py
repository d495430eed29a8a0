"""The plain .xlsx reader returns exactly what calamine returns, or leaves the file to calamine."""

from __future__ import annotations

from datetime import datetime

import pytest
from xlsx_corpus import corpus, formatted_book, one_cell_book

from kpi.ingest import read
from kpi.ingest.read import Caps, FileRefused, read_sheets
from kpi.templates import build_workbook, parse_period, workbook_bytes


def _outcome(call) -> tuple:
    """Sheets with every cell's type and exact value, or the refusal's code and reason."""
    try:
        sheets = call()
    except FileRefused as exc:
        return ("refused", exc.code, str(exc))
    return tuple(
        (s.name, tuple(tuple((type(c).__name__, repr(c)) for c in row) for row in s.rows))
        for s in sheets
    )


def _both(data: bytes, caps: Caps | None = None) -> tuple[tuple, tuple, bool]:
    """(read_sheets' outcome, calamine's outcome, whether read_sheets took the plain path)."""
    caps = caps or Caps()
    taken = []
    plain = read._read_plain

    def spy(book, c):
        out = plain(book, c)
        taken.append(out is not None)
        return out

    read._read_plain = spy
    try:
        got = _outcome(lambda: read_sheets(data, "t.xlsx", caps))
    finally:
        read._read_plain = plain

    def calamine():
        book = read._scan_xlsx(data, read._Budget(caps))
        return read._read_calamine(data, caps, book.largest)

    return got, _outcome(calamine), bool(taken and taken[0])


CORPUS = corpus()


@pytest.mark.parametrize(("label", "data", "must_take"), CORPUS, ids=[c[0] for c in CORPUS])
def test_plain_reader_reads_each_generated_workbook_as_calamine_does(label, data, must_take):
    got, expected, taken = _both(data)
    assert got == expected
    if must_take:
        assert taken, f"{label}: plain features, yet left to calamine"


def test_plain_reader_takes_most_of_the_generated_corpus_and_leaves_some():
    taken = [_both(data)[2] for _, data, _ in CORPUS]
    assert sum(taken) >= len(taken) // 4
    assert not all(taken)


def test_plain_reader_applies_calamine_paths_caps_and_refusals_in_the_same_order():
    for _, data, _ in CORPUS[:80]:
        for caps in (Caps(max_rows=5), Caps(max_columns=3), Caps(max_cells=20)):
            got, expected, _ = _both(data, caps)
            assert got == expected


def test_templates_own_workbooks_take_the_plain_path(tiny_catalogue):
    period = parse_period("2023-06")
    for dept in tiny_catalogue.departments:
        data = workbook_bytes(build_workbook(tiny_catalogue, dept, period), datetime(2023, 6, 1))
        got, expected, taken = _both(data)
        assert taken, dept.code
        assert got == expected


FORMATS = [(n, None) for n in sorted(read._NUMBER_FORMATS | read._DATE_FORMATS)] + [
    (164 + i, code) for i, code in enumerate(sorted(read._NUMBER_CODES | read._DATE_CODES))
]


@pytest.mark.parametrize(("num_fmt_id", "code"), FORMATS)
def test_each_number_format_the_plain_reader_knows_reads_as_calamine_reads_it(num_fmt_id, code):
    got, expected, taken = _both(formatted_book(num_fmt_id, code))
    assert taken
    assert got == expected


def test_a_text_remembered_with_its_spaces_kept_is_trimmed_where_the_xml_does_not_keep_them():
    kept = '<c r="{r}" t="inlineStr"><is><t xml:space="preserve"> same text </t></is></c>'
    loose = '<c r="{r}" t="inlineStr"><is><t> same text </t></is></c>'
    for form in (kept, loose, kept):
        got, expected, _ = _both(one_cell_book(form))
        assert got == expected
    assert _both(one_cell_book(loose))[1][0][1][0][0] == ("str", "'same text'")
