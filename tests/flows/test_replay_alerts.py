"""A replay of 2023 on the demo data: alerts appear, escalate and close on the days the data implies.

The oracle is the demo generator's own judgement (`demo/generate.py: judge`) of each target on
each day from the rows that had arrived by then, and the 13710 method's documented days (remind
after 1 day, escalate after 3, again after 7, or 30 for a major issue).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.replay import replay
from flows.report import leadership_report
from kpi.config import ROOT, load_settings
from kpi.pipeline import digest_records, write_digest

pytestmark = pytest.mark.slow

# From the night the first demo file arrives (1 February; none arrives in January) to the demo's
# as-of date (config demo_as_of), night by night. The window holds every step the tests check:
# the named alerts open in February and March, are reminded, escalate after 3 days and again
# after 7 or 30, two major ones close in April, the ordinary 新培养技能人才 closes in July and
# 吸收外资资本金 is still open on the last night. The rest of the year adds nights but no kind of
# event (and took over half of this module's time); January's 31 nights (measured: no file, no
# alert event, only their runs' rows) added a sixth of what is left.
START, END = date(2023, 2, 1), date(2023, 7, 15)
# The window is replayed night by night in four stretches, on one state home: every event of a
# named alert lies in one of them (checked below), and in the three gaps none is due and the
# nights replayed after them show it. 15 February to 1 March and 14 to 31 March: no file arrives
# (the demo's arrivals: 9 February, then 2 March; 8 March, then 1 April), the ordinary alerts
# wait open after their second escalation (12 February, 11 March) and the major ones for their
# thirtieth day (1 and 5 April). 11 April to 30 June: the major alerts have closed, both
# ordinary ones wait open (that gap's files arrive on 1 July). The gaps' 114 nights could show
# only an event on a day the data does not imply, as the nights replayed after each second
# escalation (two in its stretch, then 1-10 April and 1-15 July, both ordinary alerts still
# open) would. A quiet night cost ~0.2 CPU-s: the replay is 51 nights instead of 84.
STRETCHES = (
    (START, date(2023, 2, 14)),
    (date(2023, 3, 2), date(2023, 3, 13)),
    (date(2023, 4, 1), date(2023, 4, 10)),
    (date(2023, 7, 1), END),
)
BEHIND = {"预警", "滞后", "严重滞后"}
ON_PACE = {"正常", "已完成"}
# target: major (headline) or ordinary; each opens and escalates in the window, two also close.
NAMED = {
    "retail_sales_growth": True,
    "public_budget_revenue_growth": True,
    "new_skilled_workers": False,
    "foreign_capital_absorbed": False,
}


@functools.cache  # loaded once per process: several tests ask for the same days
def _generator():
    spec = importlib.util.spec_from_file_location("demo_generate", ROOT / "demo" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_generate"] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def implied_days(code: str) -> tuple[date, date | None]:
    """(first day the data puts the target behind, first later day it is back on pace)."""
    gen = _generator()
    from kpi.catalogue import load_catalogue

    target = load_catalogue(ROOT / "catalogue" / "hongqi-2023.yaml").target(code)
    manifest = json.loads((ROOT / "demo" / "manifest.json").read_text(encoding="utf-8"))
    rows = [
        dict(r, arrival=f["arrival"], path=f["path"])
        for f in manifest["files"]
        for r in f["rows_valid"]
        if r["code"] == code
    ]
    opened = closed = None
    day = START
    while day <= END:
        judged = set(gen.judge(target, rows, 2023, day, manifest["status_thresholds"])["status"])
        if opened is None and judged <= BEHIND:
            opened = day
        elif opened is not None and judged <= ON_PACE:
            closed = day
            break
        day += timedelta(days=1)
    assert opened is not None, f"the demo data never puts {code} behind by {END}"
    return opened, closed


@pytest.fixture(scope="module")
def own_prefect(prefect_api):
    """Settings for this process's temporary Prefect server (`prefect_api`, shared with the
    other tests of its group), its database already migrated.

    Not the session's `served`: with a server of its own, this module (the longest of the
    suite) runs on one xdist worker while the tests that need `served` run on the other.
    """
    url = prefect_api.url()
    return lambda: temporary_settings({PREFECT_API_URL: url})


@pytest.fixture(scope="module")
def replayed(own_prefect, tmp_path_factory):
    """The replay flow over each stretch of the window, on one fresh state home, on this server."""
    home = tmp_path_factory.mktemp("replay") / "home"
    runs = []
    with own_prefect(), get_client(sync_client=True) as c:
        for start, end in STRETCHES:
            state = replay(start=start, end=end, home=str(home), return_state=True)
            flow_run_id = state.state_details.flow_run_id
            artifacts = c.read_artifacts(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            runs.append({"summaries": state.result(), "artifacts": {a.key: a for a in artifacts}})
    cfg = load_settings(env={}).with_home(home)
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    episodes = con.execute(
        "select episode_id, target_code, major, state from alerts.episodes order by episode_id"
    ).fetchall()
    events = con.execute(
        "select episode_id, kind, event_at from alerts.events order by event_at"
    ).fetchall()
    con.close()
    return {"runs": runs, "episodes": episodes, "events": events, "cfg": cfg}


def replayed_night(day: date) -> bool:
    """Whether the fixture replays the night of `day`."""
    return any(start <= day <= end for start, end in STRETCHES)


def as_of(event_at: datetime, cfg) -> date:
    """The as-of date of the nightly run that wrote an event (runs at 02:00 the next day)."""
    return event_at.replace(tzinfo=UTC).astimezone(cfg.tz).date() - timedelta(days=1)


def timeline(replayed, code: str) -> list[tuple[str, date]]:
    """The events of a target's first alert episode, as (kind, as-of date)."""
    first = next(e for e in replayed["episodes"] if e[1] == code)
    return [
        (kind, as_of(at, replayed["cfg"]))
        for episode_id, kind, at in replayed["events"]
        if episode_id == first[0]
        and kind in ("opened", "reminded", "escalated", "escalated_again", "recovered")
    ]


def test_the_replay_runs_every_night_of_the_window_and_shows_its_progress(replayed):
    for (start, end), run in zip(STRETCHES, replayed["runs"], strict=True):
        assert [s["as_of"] for s in run["summaries"]][0] == start.isoformat()
        assert len(run["summaries"]) == (end - start).days + 1
        assert {"hongqi-2023-replay", "hongqi-2023-replay-summary"} <= set(run["artifacts"])
    assert sum(s["staged"] for run in replayed["runs"] for s in run["summaries"]) > 50


@pytest.mark.parametrize("code", sorted(NAMED))
def test_a_named_alert_opens_escalates_and_closes_on_the_days_the_data_implies(replayed, code):
    opened, closed = implied_days(code)
    major = NAMED[code]
    expected = [
        ("opened", opened),
        ("reminded", opened + timedelta(days=1)),
        ("escalated", opened + timedelta(days=3)),
        ("escalated_again", opened + timedelta(days=30 if major else 7)),
    ]
    expected = [e for e in expected if e[1] <= END and (closed is None or e[1] < closed)]
    if closed is not None:
        expected.append(("recovered", closed))
    assert all(replayed_night(day) for _, day in expected), f"an event of {code} falls between"
    assert timeline(replayed, code) == expected


def test_an_alert_is_closed_at_the_end_exactly_when_the_data_brought_its_target_back(replayed):
    states = {}
    for _, code, _, state in replayed["episodes"]:
        states.setdefault(code, state)  # the first episode of each target
    implied = {code: implied_days(code)[1] is not None for code in NAMED}
    assert {code: states[code] == "closed" for code in NAMED} == implied
    assert set(implied.values()) == {True, False}  # the window shows both


def test_the_weekly_leadership_report_covers_the_last_replayed_night(own_prefect, replayed):
    home = str(replayed["cfg"].home)
    with own_prefect():
        result = leadership_report(home=home)
    assert result["as_of"] == END.isoformat()
    assert Path(result["report"]["html"]).is_file() and Path(result["report"]["workbook"]).is_file()


def test_the_status_digest_reads_the_snapshot_worst_first(replayed, hongqi):
    cfg = replayed["cfg"]
    records = digest_records(cfg, "hongqi-2023", END)
    assert len(records) == len(hongqi.targets) and {r["as_of"] for r in records} == {END}
    order = ["严重滞后", "滞后", "预警", "无数据", "正常", "已完成"]
    ranks = [order.index(r["status"]) for r in records]
    assert ranks == sorted(ranks)
    assert digest_records(cfg, "hongqi-2023", START - timedelta(days=1)) == []
    path = write_digest(cfg, "hongqi-2023", END)
    assert path.name == f"hongqi-2023-digest-{END}.md"
    text = path.read_text(encoding="utf-8")
    behind = text.split("## 需关注的目标")[1]
    assert "吸收外资资本金" in behind  # lagging from spring, still behind on the last night
    assert "新培养技能人才" not in behind  # behind in spring, recovered by June
