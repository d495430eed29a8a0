"""Progress as of a day uses only what had been received by the end of that day (district time)."""

from __future__ import annotations

from datetime import date, datetime

from kpi.progress import compute_progress, progress_records


def _by_code(df) -> dict[str, dict]:
    return {r["code"]: r for r in progress_records(df)}


def test_a_figure_received_the_day_after_does_not_count_yet(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-05", 95e4, received=datetime(2023, 6, 4, 23, 59, 59))
    warehouse.obs("investment_total", "2023-06", 114e4, received=datetime(2023, 7, 6, 0, 0, 1))
    on_the_5th = _by_code(compute_progress(cfg, tiny_catalogue, date(2023, 7, 5)))
    assert on_the_5th["investment_total"]["latest_period"] == "2023-05"
    assert on_the_5th["investment_total"]["actual"] == 95e4
    assert on_the_5th["investment_total"]["latest_received_at"] == "2023-06-04T23:59:59"
    on_the_6th = _by_code(compute_progress(cfg, tiny_catalogue, date(2023, 7, 6)))
    assert on_the_6th["investment_total"]["latest_period"] == "2023-06"
    assert on_the_6th["investment_total"]["latest_received_at"] == "2023-07-06T00:00:01"


def test_a_revision_counts_only_from_the_day_it_was_received(cfg, tiny_catalogue, warehouse):
    warehouse.obs("investment_total", "2023-06", 114e4, received=datetime(2023, 7, 3, 9))
    warehouse.obs("investment_total", "2023-06", 100e4, received=datetime(2023, 7, 12, 9))
    before = _by_code(compute_progress(cfg, tiny_catalogue, date(2023, 7, 11)))
    assert before["investment_total"]["actual"] == 114e4  # the first report was current then
    assert before["investment_total"]["status"] == "正常"
    after = _by_code(compute_progress(cfg, tiny_catalogue, date(2023, 7, 12)))
    assert after["investment_total"]["actual"] == 100e4
    assert after["investment_total"]["status"] == "滞后"


def test_nothing_received_yet_means_no_data_even_if_it_arrived_later(
    cfg, tiny_catalogue, warehouse
):
    warehouse.obs("market_entities", "2023-01", 52000, received=datetime(2023, 2, 3, 10))
    jan = _by_code(compute_progress(cfg, tiny_catalogue, date(2023, 1, 31)))
    assert jan["market_entities"]["latest_period"] is None
    assert jan["market_entities"]["status"] == "无数据"
    assert all(r["latest_received_at"] is None for r in jan.values())


def test_a_rejection_received_after_the_day_is_not_yet_a_data_problem(
    cfg, tiny_catalogue, warehouse
):
    warehouse.reject("urban_jobs", "2023-06")  # its file was received on 2023-01-01 (fixture)
    with warehouse._connect() as con:
        con.execute(
            "update raw.submissions set received_at = ? where status = 'partial'",
            [datetime(2023, 7, 20, 9)],
        )
    before = _by_code(compute_progress(cfg, tiny_catalogue, date(2023, 7, 15)))
    assert before["urban_jobs"]["data_status"] == "缺报"
    after = _by_code(compute_progress(cfg, tiny_catalogue, date(2023, 7, 20)))
    assert after["urban_jobs"]["data_status"] == "数据异常"
