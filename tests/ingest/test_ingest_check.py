"""check_file: the receipt a file would get, with nothing written and no lock taken."""

from __future__ import annotations

import os

from ingest_helpers import AS_OF, good_rows, r, write_csv, write_xlsx

from kpi.ingest import check_file, ingest_files
from kpi.warehouse import pipeline_lock, publish_snapshot


def _state(cfg) -> list[str]:
    """Every path under the state folder (the warehouse, archive, rejected/, ...)."""
    if not cfg.home.exists():
        return []
    return sorted(
        os.path.relpath(os.path.join(d, f), cfg.home) for d, _, fs in os.walk(cfg.home) for f in fs
    )


def test_a_check_gives_the_receipt_ingest_would_give_and_writes_nothing(
    cfg, tiny_catalogue, tmp_path
):
    rows = [*good_rows(), r("发改委", "2023-06", "no_such_code", "亿元", 1)]
    path = write_xlsx(tmp_path / "发改委_2023年6月.xlsx", rows)
    checked = check_file(cfg, tiny_catalogue, path, as_of=AS_OF)
    assert _state(cfg) == []  # no warehouse, no archive copy, no lock file
    assert path.exists()
    [ingested] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert checked["status"] == "partial"
    assert checked == ingested


def test_a_refused_file_is_checked_with_the_same_reason_and_left_where_it_is(
    cfg, tiny_catalogue, tmp_path
):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04garbage")
    checked = check_file(cfg, tiny_catalogue, path, as_of=AS_OF)
    assert checked["status"] == "rejected" and "无法读取" in checked["reason"]
    assert path.exists() and _state(cfg) == []


def test_a_check_reads_earlier_values_and_sent_files_from_the_snapshot(
    cfg, tiny_catalogue, tmp_path
):
    first = write_csv(
        tmp_path / "june.csv", [r("发改委", "2023-06", "investment_total", "亿元", 120)]
    )
    ingest_files(cfg, tiny_catalogue, [first], as_of=AS_OF)
    publish_snapshot(cfg)
    lower = write_csv(
        tmp_path / "july.csv", [r("发改委", "2023-07", "investment_total", "亿元", 100)]
    )
    revised = write_csv(
        tmp_path / "june2.csv", [r("发改委", "2023-06", "investment_total", "亿元", 121)]
    )
    before = _state(cfg)

    falling = check_file(cfg, tiny_catalogue, lower, as_of=AS_OF.replace(month=8))
    assert falling["status"] == "accepted"
    assert [w["rule"] for w in falling["warnings"]] == ["ytd_not_decreasing"]
    assert check_file(cfg, tiny_catalogue, revised, as_of=AS_OF)["revisions"] == 1
    again = check_file(cfg, tiny_catalogue, first, as_of=AS_OF)
    assert again["status"] == "duplicate" and "内容完全相同" in again["reason"]
    assert _state(cfg) == before


def test_a_check_never_waits_for_the_run_lock(cfg, tiny_catalogue, tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", good_rows())
    with pipeline_lock(cfg):  # a nightly run holds the warehouse
        checked = check_file(cfg, tiny_catalogue, path, as_of=AS_OF)
    assert checked["status"] == "accepted" and checked["accepted"] == len(good_rows())
