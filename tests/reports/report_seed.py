"""Rows seeded by hand for the report tests: progress, figures by period, hostile submissions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from kpi.catalogue import Catalogue
from kpi.config import Settings
from kpi.warehouse import connect, sync_catalogue, transaction

AS_OF = date(2023, 7, 15)
HERE = Path(__file__).resolve().parent
# Submitted or catalogue text a spreadsheet would run or a browser would execute.
EVIL_NOTE = '=HYPERLINK("http://evil.example/x","点此查看")'
EVIL_NAME = "=1+2 新增国家高新技术企业"
EVIL_FILE = "<script>alert(1)</script>.xlsx"
EVIL_VALUE = "-2+3"
EVIL_SHEET = "@SUM(A1)"
EVIL_DEPT_FILE = "+科技局 2023年6月.xlsx"

# target -> (kind, dept, target canonical, actual, expected, rate, time, gap, status, data, outlook,
#            latest period, days overdue, detail)
PROGRESS = {
    "gdp_growth": ("growth_rate", "tjj", 8.5, 7.9, 8.5, None, None, -0.6, "预警", "正常",
                   "经过努力能够完成", "2023-06", None, "上半年增长 7.9%，低于目标 0.6 个百分点"),
    "investment_total": ("cumulative", "fgw", 2274000.0, 1250000.0, 1137000.0, 54.97, 50.0, 4.97,
                         "正常", "正常", "进展顺利", "2023-06", None, "超序时进度 5.0 个百分点"),
    "urban_jobs": ("count", "rsj", 8500.0, 3000.0, 4250.0, 35.29, 50.0, -14.71, "滞后", "正常",
                   "仍需付出更大努力", "2023-06", None, "滞后序时进度 14.7 个百分点"),
    "unemployment_rate": ("ceiling", "rsj", 4.5, 4.7, 4.5, 104.44, None, -0.2, "严重滞后", "正常",
                          None, "2023-06", None, "失业率 4.7%，超过上限 4.5%"),
    "finance_hall_open": ("milestone", "fgw", None, None, None, None, None, None, "严重滞后",
                          "正常", None, "2023-06", 15, "6月30日到期，尚未投入使用"),
    "market_entities": ("level", "scjgj", 55000.0, 53500.0, None, 97.27, None, None, "无数据",
                        "缺报", None, "2023-05", None, "2023-06 数据未报送"),
    "hightech_firms": ("count", "kjj", 30.0, 12.0, 15.0, 40.0, 50.0, -10.0, "无数据", "数据异常",
                       None, "2023-05", None, "2023-06 报送数据未通过校验"),
}  # fmt: skip

# (target, period, value, growth, received, revision, current, note, milestone status)
OBSERVATIONS = [
    ("investment_total", "2023-02", 150000.0, None, "2023-03-09 10:00", 1, True, None, None),
    ("investment_total", "2023-03", 380000.0, None, "2023-04-10 10:00", 1, True, None, None),
    ("investment_total", "2023-04", 610000.0, None, "2023-05-10 10:00", 1, True, None, None),
    ("investment_total", "2023-05", 1000000.0, None, "2023-06-09 10:00", 1, False, None, None),
    ("investment_total", "2023-05", 1028000.0, None, "2023-07-08 10:00", 2, True, "更正", None),
    ("investment_total", "2023-06", 1250000.0, None, "2023-07-08 10:00", 1, True, None, None),
    ("urban_jobs", "2023-01", 400.0, None, "2023-02-08 09:00", 1, True, None, None),
    ("urban_jobs", "2023-02", 900.0, None, "2023-03-08 09:00", 1, True, None, None),
    ("urban_jobs", "2023-03", 1400.0, None, "2023-04-08 09:00", 1, True, None, None),
    ("urban_jobs", "2023-04", 1900.0, None, "2023-05-08 09:00", 1, True, None, None),
    ("urban_jobs", "2023-05", 2500.0, None, "2023-06-08 09:00", 1, True, None, None),
    ("urban_jobs", "2023-06", 3000.0, None, "2023-07-12 16:30", 1, True, None, None),
    ("unemployment_rate", "2023-03", 4.3, None, "2023-04-08 09:00", 1, True, None, None),
    ("unemployment_rate", "2023-06", 4.7, None, "2023-07-12 16:30", 1, True, None, None),
    ("gdp_growth", "2023-03", None, 7.2, "2023-04-20 09:00", 1, True, None, None),
    ("gdp_growth", "2023-06", None, 7.9, "2023-07-10 09:00", 1, True, None, None),
    ("finance_hall_open", "2023-05", None, None, "2023-06-09 10:00", 1, True, None, "in_progress"),
    ("finance_hall_open", "2023-06", None, None, "2023-07-08 10:00", 1, True, EVIL_NOTE,
     "in_progress"),
    ("market_entities", "2023-03", 52000.0, None, "2023-04-10 10:00", 1, True, None, None),
    ("market_entities", "2023-05", 53500.0, None, "2023-06-10 10:00", 1, True, None, None),
    ("hightech_firms", "2023-03", 5.0, None, "2023-04-10 10:00", 1, True, None, None),
    ("hightech_firms", "2023-05", 12.0, None, "2023-06-10 10:00", 1, True,
     "<img src=x onerror=alert(2)>", None),
]  # fmt: skip

# (submission id, department, file, received, status, reason, rows, accepted, rejected, run)
SUBMISSIONS = [
    ("a" * 64, "fgw", "发改委 2023年6月.xlsx", "2023-07-08 10:00", "accepted", None, 3, 3, 0,
     "run-0708"),
    ("b" * 64, "rsj", "人社局6月.csv", "2023-07-12 16:30", "partial", None, 3, 2, 1, "run-0712"),
    ("c" * 64, "kjj", EVIL_DEPT_FILE, "2023-07-10 11:00", "partial", None, 2, 0, 2, "run-0710"),
    ("d" * 64, None, EVIL_FILE, "2023-07-11 08:00", "rejected", "未找到表头行，无法识别为报送模板",
     0, 0, 0, "run-0711"),
    ("e" * 64, "fgw", "发改委 2023年7月补报.xlsx", "2023-07-20 09:00", "accepted", None, 1, 1, 0,
     "run-0720"),
    # the night of 2023-07-15 (run at 02:00 on the 16th): one file of the day, one after midnight
    ("f" * 64, "tjj", "统计局 2023年6月.xlsx", "2023-07-15 18:00", "accepted", None, 1, 1, 0,
     "run-0715"),
    ("9" * 64, "rsj", "人社局 补报.xlsx", "2023-07-16 00:40", "accepted", None, 1, 1, 0,
     "run-0715"),
]  # fmt: skip
# (run id, as-of date, started) of meta.runs; the night of 07-15 ran twice (the second: no file)
RUNS = [
    ("run-0714", date(2023, 7, 14), "2023-07-15 02:00"),
    ("run-0715", date(2023, 7, 15), "2023-07-16 02:00"),
    ("run-0715b", date(2023, 7, 15), "2023-07-16 03:10"),
]

# (submission, sheet, row, column, value, reason, rule, severity, target, period)
REJECTIONS = [
    ("b" * 64, "Sheet1", 5, "数值", "abc", "文件“人社局6月.csv”工作表“Sheet1”第5行“数值”列“abc”：数值不是数字",
     "value_numeric", "critical", "urban_jobs", "2023-06"),
    ("b" * 64, "Sheet1", 6, "备注", "x" * 300, "备注过长，已截断", "note_length", "warning",
     "urban_jobs", "2023-06"),
    ("c" * 64, EVIL_SHEET, 4, "数值", EVIL_VALUE, "数值应为非负数", "value_in_range", "critical",
     "hightech_firms", "2023-06"),
    ("c" * 64, EVIL_SHEET, 5, "指标代码", "@cmd", "指标代码不在本计划中", "code_known", "critical",
     None, "2023-06"),
    ("d" * 64, None, None, None, None, "未找到表头行，无法识别为报送模板", "file_readable",
     "critical", None, None),
]  # fmt: skip

TINY_CODES = tuple(PROGRESS)

HISTORY = [
    ("urban_jobs", date(2023, 7, 12), "滞后", "正常", "预警", "worsened"),
    ("unemployment_rate", date(2023, 7, 13), "严重滞后", "正常", "正常", "fell_behind"),
    ("investment_total", date(2023, 7, 1), "正常", "正常", None, "first"),
]


@dataclass(frozen=True)
class Seeded:
    """A warehouse ready for `write_reports`."""

    cfg: Settings
    catalogue: Catalogue
    as_of: date


def hostile(catalogue: Catalogue) -> Catalogue:
    """The tiny catalogue with one target named like a formula."""
    targets = [
        t.model_copy(update={"name_zh": EVIL_NAME}) if t.code == "hightech_firms" else t
        for t in catalogue.targets
    ]
    return catalogue.model_copy(update={"targets": targets})


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def seed(cfg: Settings, catalogue: Catalogue, as_of: date = AS_OF) -> None:
    """Write the hand-made rows above into a fresh warehouse."""
    targets = {t.code: t for t in catalogue.targets}
    with connect(cfg) as con:
        sync_catalogue(con, catalogue)
        con.execute((HERE / "sql" / "mart_contract.sql").read_text(encoding="utf-8"))
        plan = catalogue.plan.code
        with transaction(con):
            for run, day, started in RUNS:
                con.execute(
                    "insert into meta.runs (run_id, plan_code, flow, as_of, started_at, status)"
                    " values (?, ?, 'nightly', ?, ?, 'completed')",
                    [run, plan, day, _ts(started)],
                )
            for sid, dept, name, received, status, reason, n, ok, bad, run in SUBMISSIONS:
                con.execute(
                    "insert into raw.submissions (submission_id, plan_code, department_code,"
                    " file_name, archive_path, size_bytes, received_at, ingested_at, run_id, status,"
                    " reason_zh, n_rows, n_accepted, n_rejected) values"
                    " (?, ?, ?, ?, ?, 100, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [sid, plan, dept, name, f"archive/{sid[:2]}/{sid}.xlsx", _ts(received),
                     _ts(received), run, status, reason, n, ok, bad],
                )  # fmt: skip
            for i, (code, period, value, growth, received, rev, current, note, ms) in enumerate(
                OBSERVATIONS
            ):
                year, month = (int(p) for p in period.split("-"))
                end = date(year, month, 28)
                con.execute(
                    "insert into staged.observations (obs_id, plan_code, target_code,"
                    " department_code, period, period_year, period_month, period_start_month,"
                    " period_end, value, unit, growth_pct, milestone_status, note, submission_id,"
                    " file_name, sheet, row_number, received_at, revision_no, is_current)"
                    " values (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, 'f.xlsx', 'Sheet1', ?,"
                    " ?, ?, ?)",
                    [f"obs{i}", plan, code, targets[code].department, period, year, month, end,
                     value, targets[code].canonical_unit, growth, ms, note, "a" * 64, i + 2,
                     _ts(received), rev, current],
                )  # fmt: skip
            for sid, sheet, row, col, value, reason, rule, sev, code, period in REJECTIONS:
                con.execute(
                    "insert into staged.rejections (submission_id, plan_code, file_name, sheet,"
                    " row_number, column_name, value_raw, reason_zh, expectation, severity,"
                    " target_code, period, department_code)"
                    " select ?, ?, file_name, ?, ?, ?, ?, ?, ?, ?, ?, ?, department_code"
                    " from raw.submissions where submission_id = ?",
                    [sid, plan, sheet, row, col, value, reason, rule, sev, code, period, sid],
                )
            for code, row in PROGRESS.items():
                kind, dept, tv, act, exp, rate, tp, gap, st, ds, out, period, late, detail = row
                t = targets[code]
                con.execute(
                    "insert into mart.progress (plan_code, as_of, target_code, name_zh, kind,"
                    " department_code, headline, firmness, unit, target_value, actual, expected,"
                    " completion_rate, time_progress, gap_pp, projection, status, data_status,"
                    " outlook, latest_period, computed, days_overdue, detail_zh, computed_at)"
                    " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false,"
                    " ?, ?, ?)",
                    [plan, as_of, code, t.name_zh, kind, dept, t.headline, t.firmness,
                     t.canonical_unit, tv, act, exp, rate, tp, gap, None, st, ds, out, period,
                     late, detail, datetime(2023, 7, 15, 2, 5)],
                )  # fmt: skip
            for code, day, st, ds, prev, change in HISTORY:
                con.execute(
                    "insert into mart.status_history values (?, ?, ?, ?, ?, ?, ?)",
                    [plan, code, day, st, ds, prev, change],
                )
