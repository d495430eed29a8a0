"""A report for a past date charts what was held that day: no later revision, no later file."""

from __future__ import annotations

from datetime import date, datetime

from report_seed import AS_OF

from kpi.reports.data import load_report_data, query
from kpi.warehouse import connect, transaction


def _arrive_later(cfg, plan: str) -> None:
    """After the as-of date: June's investment is revised, and kjj's June file comes in."""
    with connect(cfg) as con, transaction(con):
        con.execute(
            "update staged.observations set is_current = false"
            " where target_code = 'investment_total' and period = '2023-06'"
        )
        rows = [
            ("late-rev", "investment_total", "fgw", 6, 1400000.0, "万元", 2, "2023-07-20 09:00"),
            ("late-file", "hightech_firms", "kjj", 6, 16.0, "家", 1, "2023-07-18 10:00"),
        ]
        for obs_id, code, dept, month, value, unit, rev, received in rows:
            con.execute(
                "insert into staged.observations (obs_id, plan_code, target_code,"
                " department_code, period, period_year, period_month, period_start_month,"
                " period_end, value, unit, submission_id, file_name, sheet, row_number,"
                " received_at, revision_no, is_current)"
                " values (?, ?, ?, ?, ?, 2023, ?, 1, ?, ?, ?, ?, 'later.xlsx', 'Sheet1', 3, ?, ?,"
                " true)",
                [obs_id, plan, code, dept, f"2023-{month:02d}", month, date(2023, month, 28),
                 value, unit, "e" * 64, datetime.fromisoformat(received), rev],
            )  # fmt: skip


def test_a_revision_and_a_file_received_after_the_as_of_date_stay_out_of_its_charts(seeded):
    cfg, cat = seeded.cfg, seeded.catalogue
    _arrive_later(cfg, cat.plan.code)

    series = load_report_data(cfg, cat, AS_OF).series

    june = [p for p in series["investment_total"] if p["period"] == "2023-06"]
    assert [(p["value"], p["revision_no"]) for p in june] == [(1250000.0, 1)]
    may = [p for p in series["investment_total"] if p["period"] == "2023-05"]
    assert [(p["value"], p["revision_no"]) for p in may] == [(1028000.0, 2)]  # revised by then
    assert [p["period"] for p in series["hightech_firms"]] == ["2023-03", "2023-05"]
    # the chart's last point is the figure the mart judged on that day
    actual = next(r["actual"] for r in load_report_data(cfg, cat, AS_OF).progress
                  if r["target_code"] == "investment_total")  # fmt: skip
    assert series["investment_total"][-1]["value"] == actual


def test_a_later_as_of_date_charts_the_revision_and_the_late_file(seeded):
    cfg, cat = seeded.cfg, seeded.catalogue
    _arrive_later(cfg, cat.plan.code)
    held = {"plan_codes": [cat.plan.code], "years": [2023], "as_of": date(2023, 7, 20)}

    with connect(cfg) as con:
        rows = query(con, "series", held)

    got = {(r["target_code"], r["period"]): (r["value"], r["revision_no"]) for r in rows}
    assert got[("investment_total", "2023-06")] == (1400000.0, 2)
    assert got[("hightech_firms", "2023-06")] == (16.0, 1)
