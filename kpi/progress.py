"""Progress for an as-of date: read the warehouse, judge every target, write mart.progress.

The maths lives in transforms.progress (pure); this module only reads inputs
(staged.observations, staged.rejections, raw.submissions, mart.status_history), calls it,
and writes mart.progress, mart.status_history and mart.time_profile in one transaction.
Several plans (a province) are computed together: one query per input for all of them and one
transaction, instead of a connection and a dozen statements per plan.
"""

from __future__ import annotations

import math
import tomllib
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from kpi import clock
from kpi.catalogue import REFERENCE_ZH
from kpi.config import Settings
from kpi.contract import reporting_months
from kpi.warehouse import connect, expand_includes, sql_file, sync_catalogues, transaction
from transforms.progress import (
    Obs,
    Thresholds,
    data_note,
    data_status,
    history_change,
    judge,
    spec_of,
    thresholds_from_dict,
    time_share,
)

COLUMNS = (
    "plan_code",
    "as_of",
    "target_code",
    "name_zh",
    "kind",
    "department_code",
    "headline",
    "firmness",
    "unit",
    "target_value",
    "actual",
    "expected",
    "completion_rate",
    "time_progress",
    "gap_pp",
    "projection",
    "status",
    "data_status",
    "outlook",
    "latest_period",
    "computed",
    "days_overdue",
    "detail_zh",
    "computed_at",
)
# Point in time: when the judged figure was received (migration 072). Written with every row and
# printed by `kpi status --json`, but not part of COLUMNS, the contract other areas build rows by.
ALL_COLUMNS = (*COLUMNS, "latest_received_at")
# Worst first: how every summary of statuses is ordered (never by character code).
SEVERITY_ORDER = ("严重滞后", "滞后", "预警", "无数据", "正常", "已完成")


def by_severity(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(status, count) pairs worst first; an unknown status goes last."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def load_thresholds(path: Path) -> Thresholds:
    """The status thresholds of config/status.toml."""
    with open(path, "rb") as fh:
        return thresholds_from_dict(tomllib.load(fh))


INPUTS = ("judged", "quarantined", "submissions")
MONTHS = range(1, 13)


def _input_params(catalogues, as_of: date) -> dict[str, dict]:
    plans = {"plan_codes": [c.plan.code for c in catalogues], "as_of": as_of}
    years = {**plans, "years": [c.plan.year for c in catalogues]}
    # The kinds come from the catalogues judged, not from ref.targets: a snapshot's ref tables
    # may hold an older catalogue than the one in memory.
    targets = [(c.plan.code, t.code, t.kind) for c in catalogues for t in c.targets]
    judged = {
        **years,
        "target_plans": [p for p, _, _ in targets],
        "target_codes": [t for _, t, _ in targets],
        "target_kinds": [k for _, _, k in targets],
    }
    return {"judged": judged, "quarantined": years, "submissions": plans}


def _input_sql(name: str) -> str:
    return expand_includes(sql_file(f"progress_{name}"))


def read_inputs(con: duckdb.DuckDBPyConnection, catalogue, as_of: date) -> dict[str, pd.DataFrame]:
    """The rows progress is computed from (works on a read-only snapshot too)."""
    params = _input_params([catalogue], as_of)
    return {k: con.execute(_input_sql(k), params[k]).df() for k in INPUTS}


def read_inputs_many(
    con: duckdb.DuckDBPyConnection, catalogues, as_of: date
) -> dict[str, dict[str, list[dict]]]:
    """plan code -> the rows progress is computed from, as dicts: one query per input."""
    out: dict[str, dict[str, list[dict]]] = {
        c.plan.code: {k: [] for k in INPUTS} for c in catalogues
    }
    params = _input_params(catalogues, as_of)
    for k in INPUTS:
        for row in _fetch(con, _input_sql(k), params[k]):
            out[row["plan_code"]][k].append(row)
    return out


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _records(rows) -> list[dict]:
    """A frame's rows as dicts; rows already given as dicts pass through."""
    return rows.to_dict("records") if isinstance(rows, pd.DataFrame) else rows


def _clean(x):
    """A cell as a plain Python value (NaN, NaT and pandas NA become None)."""
    if x is None or x is pd.NaT:
        return None
    kind = type(x)
    if kind is float:  # the common cases first: this runs for every figure of every row
        return None if x != x else x
    if kind is str or kind is int or kind is bool:
        return x
    if isinstance(x, float) and math.isnan(x):
        return None
    if pd.api.types.is_scalar(x) and pd.isna(x):
        return None
    if isinstance(x, pd.Timestamp):
        return x.to_pydatetime()
    return x


def _obs(row: dict) -> Obs:
    return Obs(
        month=int(row["period_month"]),
        value=_clean(row.get("value")),
        growth_pct=_clean(row.get("growth_pct")),
        prior_value=_clean(row.get("prior_value")),
        reference_value=_clean(row.get("reference_value")),
        milestone_status=_clean(row.get("milestone_status")),
        completion_date=_maybe_date(_clean(row.get("completion_date"))),
    )


def build_progress(
    catalogue,
    as_of: date,
    th: Thresholds,
    inputs: dict,
    computed_at: datetime,
) -> pd.DataFrame:
    """The mart.progress rows of every target of the catalogue (no I/O)."""
    return progress_frame(progress_rows(catalogue, as_of, th, inputs, computed_at))


def progress_frame(rows: list[dict]) -> pd.DataFrame:
    """progress_rows' rows (of one plan or of several) as a frame of mart.progress's types."""
    df = pd.DataFrame(rows, columns=list(ALL_COLUMNS))
    df["days_overdue"] = df["days_overdue"].astype("Int64")
    df["latest_received_at"] = pd.to_datetime(df["latest_received_at"])
    numbers = ("target_value", "actual", "expected", "completion_rate", "time_progress")
    for col in (*numbers, "gap_pp", "projection"):
        df[col] = df[col].astype("float64")
    return df


def progress_rows(
    catalogue,
    as_of: date,
    th: Thresholds,
    inputs: dict,
    computed_at: datetime,
) -> list[dict]:
    """The mart.progress rows of every target of the catalogue, as dicts (no I/O).

    `inputs` holds frames (read_inputs) or lists of row dicts (read_inputs_many).
    """
    plan = catalogue.plan
    # One row per target: the figure judged (its latest usable period) and the months reported.
    obs_by_target = {row["target_code"]: row for row in _records(inputs["judged"])}
    quarantined: dict[str, set[int]] = {}
    for row in _records(inputs["quarantined"]):
        quarantined.setdefault(row["target_code"], set()).add(int(row["period_month"]))
    last_sub = {r["department_code"]: r for r in _records(inputs["submissions"])}
    plans = th.monthly_plans.get(plan.code, {})

    rows = []
    for t in catalogue.targets:
        spec = spec_of(t, plan.year, plans.get(t.code))
        latest = obs_by_target.get(t.code)
        obs = _obs(latest) if latest is not None else None
        j = judge(spec, obs, as_of, th, REFERENCE_ZH.get(t.reference or "", "参照值"))
        ds, due = data_status(
            year=plan.year,
            months=reporting_months(t.kind, t.cadence),
            due_day=t.due_day,
            as_of=as_of,
            reported=(_months(latest["reported_months"]) if latest is not None else set()),
            quarantined=quarantined.get(t.code, set()),
            done=j.status == "已完成" and t.kind in ("milestone", "qualitative"),
        )
        notes = [j.detail_zh, data_note(ds, due, plan.year, t.due_day)]
        if ds == "缺报":
            notes.append(_last_submission_zh(last_sub.get(t.department)))
        rows.append(
            {
                "plan_code": plan.code,
                "as_of": as_of,
                "target_code": t.code,
                "name_zh": t.name_zh,
                "kind": t.kind,
                "department_code": t.department,
                "headline": t.headline,
                "firmness": t.firmness,
                "unit": t.canonical_unit,
                "target_value": t.canonical_value,
                "actual": j.actual,
                "expected": j.expected,
                "completion_rate": j.completion_rate,
                "time_progress": j.time_progress,
                "gap_pp": j.gap_pp,
                "projection": j.projection,
                "status": j.status,
                "data_status": ds,
                "outlook": j.outlook,
                "latest_period": latest["period"] if latest is not None else None,
                "computed": j.computed,
                "days_overdue": j.days_overdue,
                "detail_zh": "；".join(n for n in notes if n),
                "computed_at": computed_at,
                "latest_received_at": (
                    _clean(latest.get("received_at")) if latest is not None else None
                ),
            }
        )
    return rows


def _months(bits) -> set[int]:
    """The months of a bit set (1 << month), as progress_judged.sql gives them."""
    bits = int(bits)
    return {m for m in range(bits.bit_length()) if bits >> m & 1}


def _last_submission_zh(sub: dict | None) -> str:
    if sub is None:
        return "本单位尚无报送记录"
    when = _clean(sub["last_received_at"])
    text = f"本单位最近一次报送：{when:%Y-%m-%d}（{sub['last_file_name']}）"
    if sub["last_status"] == "rejected":
        text += f"，该文件被整体退回：{sub['last_reason_zh'] or '无法读取'}"
    return text


def time_profile_frame(catalogues, th: Thresholds) -> pd.DataFrame:
    """The expected share of the year by month for the plans' cumulative and count targets."""
    # Built as columns: a dict per target and month was ~0.1 s of a province's 150 plans.
    cols: dict[str, list] = {"plan_code": [], "target_code": [], "share": [], "basis": []}
    for c in catalogues:
        plans = th.monthly_plans.get(c.plan.code, {})
        for t in c.targets:
            if t.kind not in ("cumulative", "count"):
                continue
            spec = spec_of(t, c.plan.year, plans.get(t.code))
            cols["plan_code"] += [c.plan.code] * 12
            cols["target_code"] += [t.code] * 12
            cols["share"] += [time_share(m, spec.profile) for m in MONTHS]
            cols["basis"] += [spec.profile_basis] * 12
    n = len(cols["share"]) // 12
    return pd.DataFrame(
        {
            "plan_code": cols["plan_code"],
            "target_code": cols["target_code"],
            "month": list(MONTHS) * n,
            "share": pd.Series(cols["share"], dtype="float64"),
            "basis": cols["basis"],
        }
    )


def history_frame(
    df: pd.DataFrame, previous: pd.DataFrame | list[dict], plan_code: str, as_of: date
) -> pd.DataFrame:
    """The status_history rows for targets whose status or data status changed."""
    prev = {r["target_code"]: r for r in _records(previous)}
    rows = []
    # Three columns, not the frame's rows as dicts: to_dict("records") boxes every cell of 25
    # columns and was most of a province's progress step (BENCHMARKS.md, issue 15).
    names = ("target_code", "status", "data_status")
    for values in zip(*(df[c].tolist() for c in names), strict=True):
        r = dict(zip(names, values, strict=True))
        p = prev.get(r["target_code"])
        change = history_change(
            p["status"] if p else None,
            p["data_status"] if p else None,
            r["status"],
            r["data_status"],
            bool(p["ever_behind"]) if p else False,
        )
        if change is None:
            continue
        rows.append(
            {
                "plan_code": plan_code,
                "target_code": r["target_code"],
                "as_of": as_of,
                "status": r["status"],
                "data_status": r["data_status"],
                "previous_status": p["status"] if p else None,
                "change": change,
            }
        )
    cols = ["plan_code", "target_code", "as_of", "status", "data_status", "previous_status"]
    return pd.DataFrame(rows, columns=[*cols, "change"])


def compute_progress(
    cfg: Settings, catalogue, as_of: date, *, now: datetime | None = None
) -> pd.DataFrame:
    """Compute every target's progress for `as_of`; replace mart.progress rows, log changes."""
    return compute_progress_many(cfg, [catalogue], as_of, now=now)[catalogue.plan.code]


# The rows of the computed plans for the day, replaced (table: a constant of this module).
_DELETE = (
    "delete from {table} where plan_code in (select unnest($plan_codes::varchar[]))"
    " and as_of = $as_of"
)


def unsynced(con: duckdb.DuckDBPyConnection, catalogues) -> list:
    """The catalogues whose mirror in ref.* is missing or from other catalogue content.

    A new process would otherwise rewrite every plan's ref.* rows (sync_catalogues remembers
    only what this process wrote): the stored content hash and target count tell.
    """
    codes = [c.plan.code for c in catalogues]
    rows = con.execute(sql_file("catalogue_mirrored"), {"plan_codes": codes}).fetchall()
    stored = {code: (sha, n) for code, sha, n in rows}
    return [c for c in catalogues if stored.get(c.plan.code) != (c.sha256, len(c.targets))]


def compute_progress_many(
    cfg: Settings, catalogues, as_of: date, *, now: datetime | None = None
) -> dict[str, pd.DataFrame]:
    """compute_progress for several plans at once (one connection, one transaction); by plan."""
    as_of = _as_date(as_of)
    th = load_thresholds(cfg.status_config)
    computed_at = now or clock.local_now(cfg.tz)
    cats = list({c.plan.code: c for c in catalogues}.values())
    if not cats:
        return {}
    codes = [c.plan.code for c in cats]
    with connect(cfg) as con:
        synced = sync_catalogues(con, unsynced(con, cats))  # views join ref.* for names
        inputs = read_inputs_many(con, cats, as_of)
        # One frame for every plan, then a slice per plan: a frame per plan cost ~5 ms of
        # pandas each (0.8 s of a province's 150 plans, BENCHMARKS.md).
        rows = [progress_rows(c, as_of, th, inputs[c.plan.code], computed_at) for c in cats]
        progress = progress_frame([r for plan_rows in rows for r in plan_rows])
        frames, start = {}, 0
        for c, plan_rows in zip(cats, rows, strict=True):
            end = start + len(plan_rows)
            frames[c.plan.code] = progress.iloc[start:end].reset_index(drop=True)
            start = end
        profile = time_profile_frame(cats, th)
        key = {"plan_codes": codes, "as_of": as_of}
        con.register("progress_rows", progress)
        con.register("profile_rows", profile)
        if not synced and con.execute(sql_file("progress_unchanged"), key).fetchall()[0][0]:
            # Nothing to write (a night with no new data for these plans, judged again on the
            # same date): the stored rows keep their computed_at, and the run can tell that
            # nothing changed (`unchanged`), so the report and the snapshot need no rewrite.
            for name in ("progress_rows", "profile_rows"):
                con.unregister(name)
            stored = dict(con.execute(sql_file("progress_computed_at"), key).fetchall())
            for code, frame in frames.items():
                frame["computed_at"] = stored.get(code, computed_at)
                frame.attrs["unchanged"] = True
            return frames
        with transaction(con):
            con.execute(_DELETE.format(table="mart.progress"), key)
            con.execute("insert into mart.progress by name select * from progress_rows")
            con.execute(_DELETE.format(table="mart.status_history"), key)
            previous: dict[str, list[dict]] = {code: [] for code in codes}
            for row in _fetch(con, sql_file("status_history_previous"), key):
                previous[row["plan_code"]].append(row)
            history = pd.concat(
                [history_frame(frames[p], previous[p], p, as_of) for p in codes],
                ignore_index=True,
            )
            con.register("history_rows", history)
            con.execute("insert into mart.status_history by name select * from history_rows")
            con.execute(
                "delete from mart.time_profile"
                " where plan_code in (select unnest($plan_codes::varchar[]))",
                {"plan_codes": codes},
            )
            con.execute("insert into mart.time_profile by name select * from profile_rows")
        for name in ("progress_rows", "history_rows", "profile_rows"):
            con.unregister(name)
    return frames


def progress_from_snapshot(
    con: duckdb.DuckDBPyConnection, cfg: Settings, catalogue, as_of: date | None
) -> tuple[pd.DataFrame, date | None, bool]:
    """Stored rows for `as_of` (default: the latest), else computed in memory; and whether stored."""
    plan_code = catalogue.plan.code
    if as_of is None:
        as_of = con.execute(
            "select max(as_of) from mart.progress where plan_code = ?", [plan_code]
        ).fetchone()[0]
        if as_of is None:
            return pd.DataFrame(columns=list(ALL_COLUMNS)), None, True
    as_of = _as_date(as_of)
    stored = con.execute(
        "select * from mart.progress where plan_code = ? and as_of = ? order by target_code",
        [plan_code, as_of],
    ).df()
    if len(stored):
        return stored, as_of, True
    th = load_thresholds(cfg.status_config)
    df = build_progress(
        catalogue,
        as_of,
        th,
        read_inputs(con, catalogue, as_of),
        clock.local_now(cfg.tz),
    )
    return df, as_of, False


def progress_records(df: pd.DataFrame) -> list[dict]:
    """mart.progress rows as JSON-ready dicts (`code` = target_code; dates as ISO text)."""
    out = []
    for row in df.to_dict("records"):
        rec = {"code": row["target_code"]}
        for k in ALL_COLUMNS:
            v = _clean(row.get(k))
            if k == "as_of" and v is not None:
                v = _as_date(v).isoformat()
            elif isinstance(v, datetime):
                v = v.isoformat(timespec="seconds")
            elif isinstance(v, date):
                v = v.isoformat()
            elif hasattr(v, "item"):  # numpy scalars
                v = v.item()
            rec[k] = v
        out.append(rec)
    return out


def _maybe_date(value) -> date | None:
    return None if value is None else _as_date(value)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    return date.fromisoformat(str(value))
