"""How a sheet becomes rows: the header row chosen, and the keys of a row in their order."""

from __future__ import annotations

from datetime import date

from kpi.contract import COLUMNS
from kpi.ingest import frame as fr
from kpi.ingest.read import Sheet

HEADER = [c.header_zh for c in COLUMNS]
PARTIAL = HEADER[:4]  # a row naming some fields only (a note that quotes the headers)


def test_the_header_is_the_first_row_with_the_most_fields_wherever_it_stands():
    sheet = Sheet("s", [["标题"] * 12, PARTIAL, HEADER, ["x"] * 12, HEADER])
    table = fr.find_table(sheet)
    assert table.header_row == 3 and len(table.columns) == len(COLUMNS)
    assert [n for n, _ in table.rows] == [4, 5]
    assert table.titles == ["标题"] * 12 + PARTIAL
    # Fewer fields than the best row so far never take its place, even in more cells.
    sheet = Sheet("s", [PARTIAL, [*PARTIAL[:3], "a", "b", "c"], PARTIAL[::-1]])
    assert fr.find_table(sheet).header_row == 1


def test_a_records_raw_keys_follow_the_contracts_columns(tiny_catalogue):
    rows = [HEADER, ["发改委", "2023-06", "investment_total", "", "亿元", "1"]]
    table = fr.find_table(Sheet("s", rows))
    records, columns = fr.frame_records([table], tiny_catalogue.plain(), as_of=date(2023, 12, 31))
    assert list(records[0])[3:15] == [f"{c.field}_raw" for c in COLUMNS]
    assert columns[:15] == list(records[0])[:15]


def test_template_rows_left_blank_are_counted_not_taken(tiny_catalogue):
    rows = [
        HEADER,
        ["发改委", "2023-06", "investment_total", "", "亿元", "1"],
        ["发改委", "2023-06", "investment_total", "", "亿元"],  # code and period, nothing entered
        ["", "", "", "备注：本表由发改委填报"],  # a footer: neither taken nor counted
    ]
    table = fr.find_table(Sheet("s", rows))
    records, _, blank = fr.frame_parts([table], tiny_catalogue.plain())
    assert [r["row"] for r in records] == [2] and blank == 1
