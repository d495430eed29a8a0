"""Mirroring many plans' catalogues into ref.* at once writes what one plan at a time writes."""

from __future__ import annotations

import shutil

import duckdb

from kpi.warehouse import connect, sync_catalogue, sync_catalogues

TABLES = ("ref.plans", "ref.targets", "ref.departments")


def _dump(cfg) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in TABLES}
    finally:
        con.close()


def test_syncing_many_plans_writes_the_rows_that_syncing_each_plan_writes(
    cfg, east, west, tmp_path
):
    with connect(cfg) as con:
        for cat in (east, west):
            sync_catalogue(con, cat)
    one_by_one = _dump(cfg)
    other = cfg.with_home(tmp_path / "other")
    with connect(other) as con:
        assert sync_catalogues(con, [east, west]) == 2
    assert _dump(other) == one_by_one
    assert {r[0] for r in one_by_one["ref.plans"]} == {"east-2023", "west-2023"}


def test_an_unchanged_catalogue_is_not_written_twice_but_a_changed_one_is(cfg, east):
    with connect(cfg) as con:
        assert sync_catalogues(con, [east]) == 1
        assert sync_catalogues(con, [east]) == 0
        renamed = east.model_copy(deep=True)
        renamed.targets[0].name_zh = "地区生产总值增速"
        assert sync_catalogues(con, [renamed]) == 1
        name = con.execute(
            "select name_zh from ref.targets where plan_code = ? and code = ?",
            [east.plan.code, renamed.targets[0].code],
        ).fetchone()[0]
    assert name == "地区生产总值增速"


def test_a_warehouse_recreated_at_the_same_path_gets_the_catalogue_again(cfg, east):
    with connect(cfg) as con:
        sync_catalogues(con, [east])
    shutil.rmtree(cfg.warehouse.parent)
    with connect(cfg) as con:
        assert sync_catalogues(con, [east]) == 1
    assert len(_dump(cfg)["ref.targets"]) == len(east.targets)
