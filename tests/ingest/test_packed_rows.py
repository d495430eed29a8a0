"""Rows travel as tuples over a file's keys: every reader sees what the dicts held."""

from __future__ import annotations

from kpi.ingest import frame as fr
from kpi.ingest import validate as v

COLUMNS = ["_rid", "code", "target_kind", "period_index", "period", "value", "kind_fields_zh"]
ROWS = [
    # A row without a kind has no kind_fields_zh at all (frame_records sets it for kinds only).
    {"_rid": 0, "code": "a", "target_kind": "cumulative", "period_index": 24277, "period": "2023-02",
     "value": 5.0, "kind_fields_zh": "“本期数值”"},
    {"_rid": 1, "code": "a", "target_kind": "cumulative", "period_index": 24276, "period": "2023-01",
     "value": 2.0, "kind_fields_zh": "“本期数值”"},
    {"_rid": 2, "code": None, "target_kind": None, "period_index": None, "period": None,
     "value": None},
]  # fmt: skip


def _by_dicts(records: list[dict], columns: list[str]) -> dict[str, list]:
    return {c: [rec.get(c) for rec in records] for c in columns}


def test_packed_rows_give_the_frame_columns_the_dicts_gave():
    rows = v.FileRows([dict(r) for r in ROWS], [*COLUMNS, "previous_value"], {})
    assert len(rows.rows) == 3 and all(type(r) is tuple for r in rows.rows)
    wanted = ["value", "_rid", "kind_fields_zh", "previous_value", "not_a_column"]
    assert v._columns_of([rows, rows], wanted) == _by_dicts(ROWS + ROWS, wanted)
    assert rows.records == [{**r, "kind_fields_zh": r.get("kind_fields_zh")} for r in ROWS]


def test_earlier_periods_found_for_packed_rows_are_those_add_previous_writes_into_dicts():
    stored = {"a": [(24275, "2022-12", 1.0)]}
    records = [dict(r) for r in ROWS]
    fr.add_previous(records, stored)
    rows = v.FileRows([dict(r) for r in ROWS], COLUMNS, {})
    keys = ["code", "target_kind", "period_index", "period", "value"]
    rows.previous = fr.previous_values(list(zip(*rows.values(keys), strict=True)), stored)
    both = ["_rid", "previous_value", "previous_period"]
    assert v._columns_of([rows], both) == _by_dicts(records, both)
    assert [r["previous_period"] for r in records] == ["2023-01", None, None]
    assert rows.records == [{**r, "kind_fields_zh": r.get("kind_fields_zh")} for r in records]


def test_rows_as_tuples_are_the_columns_zipped_back_whatever_the_columns_asked():
    rows = v.FileRows([dict(r) for r in ROWS], COLUMNS, {})
    empty = v.FileRows([], COLUMNS, {})
    asked = [
        ["code", "target_kind", "period_index", "period", "value"],
        ["value", "not_a_column"],
        ["period"],
        ["_rid", "previous_value", "previous_period"],
    ]
    for names in asked:
        assert empty.tuples(names) == []
        assert rows.tuples(names) == list(zip(*rows.values(names), strict=True))
    rows.previous = [(1.0, "2022-12"), (None, None), (None, None)]
    for names in asked:
        assert rows.tuples(names) == list(zip(*rows.values(names), strict=True))
    assert rows.tuples(["_rid", "previous_period"]) == [(0, "2022-12"), (1, None), (2, None)]
