"""Delivery under faults: each case drives real deliveries into a misbehaving server and counts.

A case copies a warehouse whose outbox already holds real alerts (raised by `raise_alerts` on a
small catalogue), points the apprise file at a fake WeCom robot or SMTP server on loopback
(`fakes.py`), and runs `deliver` as the 15-minute schedule would until nothing is left. Then it
counts on the receiving side, per message part:

- sent: the parts the outbox holds for the faulty channel;
- received: copies that reached the group or mailbox;
- lost: parts neither received nor reported to 督查局 as 无法送达 (the promise: 0);
- duplicated: extra copies (allowed only after an uncertain send, and then marked （重发）,
  at most one per part).

`table()` runs every case and returns one row per fault; `cases()` gives them one by one with
their details for tests/faults/test_delivery_faults.py. Timeouts are about a second, so
the whole table runs in seconds.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import yaml

from kpi.alerts import deliver, failed_state, raise_alerts
from kpi.alerts.plugins import RateLimiter
from kpi.alerts.render import LINK_INTRO, RESEND_LINE
from kpi.catalogue import load_catalogue
from kpi.config import ROOT, Settings, load_settings
from kpi.warehouse import connect

from .fakes import FakeMailServer, FakeRobot, bound_socket
from .forkserver import ForkServer, Streamed

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = date(2023, 7, 15)
RAISED_AT = datetime(2023, 7, 16, 8, 30, tzinfo=TZ)
START = datetime(2023, 7, 16, 9, 0, tzinfo=TZ)
STEP = timedelta(minutes=16)  # the deliver deployment runs every 15 minutes
RUNS = 8
ROBOT_TIMEOUT = (
    1.0  # seconds: the kpiwecom:// `timeout` token (a loaded machine answers well within it)
)
SMTP_TIMEOUT = 1.0  # the mailto:// `cto`
SLOW = 2.5  # a hang or a late answer: well past both
TRICKLE = 0.3  # seconds per byte
KEY_VAR, KEY = "KPI_FAULT_ROBOT_KEY", "fault-robot-key-0001"
PASSWORD_VAR, PASSWORD = "KPI_FAULT_SMTP_PASSWORD", "fault-smtp-pass-0001"
ENV = {KEY_VAR: KEY, PASSWORD_VAR: PASSWORD}
TINY_TAGS = "dept-fgw, dept-rsj, leaders, dcj"
LAGGING = {"investment_total": "严重滞后", "finance_hall_open": "滞后", "urban_jobs": "预警"}


def _load_alerts_support():
    """tests/alerts/alerts_support.py: mart.progress rows and the small catalogues."""
    path = ROOT / "tests" / "alerts" / "alerts_support.py"
    spec = importlib.util.spec_from_file_location("kpi_faults_alerts_support", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SUPPORT = _load_alerts_support()


@functools.cache
def _scratch() -> Path:
    root = Path(tempfile.mkdtemp(prefix="kpi-faults-"))
    atexit.register(shutil.rmtree, root, True)
    return root


def _settings(home: Path) -> Settings:
    return load_settings(env={}).with_home(home)


def _put_progress(cfg: Settings, catalogue, as_of: date, statuses: dict) -> None:
    cols = SUPPORT.PROGRESS_COLUMNS
    with connect(cfg) as con:
        for t in catalogue.targets:
            row = SUPPORT.progress_row(t, catalogue.plan.code, as_of, statuses.get(t.code, "正常"))
            con.execute(
                f"insert into mart.progress ({', '.join(cols)}) values "
                f"({', '.join('?' for _ in cols)})",
                [row[c] for c in cols],
            )


def _catalogue(kind: str, plan_code: str = "tiny-2023"):
    targets = SUPPORT.SHARED.TINY_TARGETS if kind == "tiny" else SUPPORT.many_targets(60)
    folder = _scratch() / f"catalogue-{kind}-{plan_code}"
    return load_catalogue(SUPPORT.SHARED.write_catalogue(folder, targets, plan_code))


def raise_into(cfg: Settings, kind: str, plan_code: str = "tiny-2023", as_of: date = AS_OF) -> None:
    """Alerts raised the real way: `tiny` (2 department alerts and a digest) or `big` (60)."""
    catalogue = _catalogue(kind, plan_code)
    statuses = LAGGING if kind == "tiny" else {t.code: "严重滞后" for t in catalogue.targets}
    _put_progress(cfg, catalogue, as_of, statuses)
    raise_alerts(cfg, catalogue, as_of, RAISED_AT)


@functools.cache
def _template(kind: str) -> Path:
    """A warehouse file with `kind`'s alerts in its outbox, made once per process."""
    cfg = _settings(_scratch() / f"template-{kind}")
    raise_into(cfg, kind)
    with connect(cfg) as con:
        con.execute("checkpoint")
    return cfg.warehouse


@dataclass
class Case:
    """One fault: a name for the table, what it shows, and its details for tests."""

    fault: str
    note: str
    row: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)


class Harness:
    """A state home with a copy of a template warehouse and an apprise file."""

    def __init__(self, name: str, kind: str = "tiny"):
        home = _scratch() / name
        if home.exists():
            shutil.rmtree(home)
        self.cfg = _settings(home)
        self.cfg.warehouse.parent.mkdir(parents=True)
        shutil.copyfile(_template(kind), self.cfg.warehouse)
        self.env = dict(ENV)
        self._con: duckdb.DuckDBPyConnection | None = None

    def route(self, entries: list[tuple[str, dict]]) -> None:
        """Write the apprise file: [(url, tokens)]."""
        path = self.cfg.home / "apprise.yml"
        doc = {"version": 1, "urls": [{url: [tokens]} for url, tokens in entries]}
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
        self.cfg = replace(self.cfg, apprise_config=path)

    def deliver(self, now: datetime, **kwargs) -> dict:
        """One `deliver` run (the inspecting connection let go first)."""
        self.release()
        return deliver(self.cfg, now, env=self.env, **kwargs)

    def settle(self, runs: int = RUNS, **kwargs) -> list[dict]:
        """`deliver` every 16 minutes from 09:00 until every message is done (or `runs`)."""
        results, now = [], START
        for _ in range(runs):
            results.append(self.deliver(now, **kwargs))
            if self.undone() == 0:
                break
            now += STEP
        return results

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows of a query; one connection serves every look until the next run."""
        if self._con is None:
            self._con = duckdb.connect(str(self.cfg.warehouse))
        return self._con.execute(sql, params or []).fetchall()

    def release(self) -> None:
        """Close the inspecting connection (a run, in this process or another, needs the file)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def undone(self) -> int:
        return self.rows("select count(*) from alerts.outbox where done_at is null")[0][0]

    def channel_rows(self, host: str) -> dict[tuple[int, int], tuple]:
        """(message id, part) -> (state, reported_at, last_outcome) for a channel's deliveries."""
        got = self.rows(
            "select message_id, part, state, reported_at, last_outcome from alerts.deliveries"
            " where channel like ?",
            [f"%://{host}#%"],
        )
        return {(m, p): (s, r, o) for m, p, s, r, o in got}

    def attempts(self, host: str) -> list[tuple]:
        return self.rows(
            "select a.outcome, a.http_status, a.errcode, a.smtp_code, a.uncertain, a.marked"
            " from alerts.attempts a join alerts.deliveries d using (delivery_key)"
            " where d.channel like ? order by a.attempted_at, a.delivery_key, a.attempt_no",
            [f"%://{host}#%"],
        )

    def reports_delivered(self) -> list[tuple]:
        """Failure reports to 督查局 and where they were delivered."""
        return self.rows(
            "select o.message_id, d.channel, d.state from alerts.outbox o"
            " join alerts.deliveries d using (message_id)"
            " where o.kind = 'delivery_failure' order by o.message_id, d.channel"
        )

    def expected(self, tags: str, kind: str) -> dict[str, tuple[int, int]]:
        """What the channel with these tags should receive: unit key -> (message id, part)."""
        wanted = {t.strip() for t in tags.split(",")}
        out: dict[str, tuple[int, int]] = {}
        for mid, routes, route, md_parts, msg_kind in self.rows(
            "select message_id, routes, route, md_parts, kind from alerts.outbox"
            " order by message_id"
        ):
            if msg_kind == "delivery_failure" or not wanted & set(routes or [route]):
                continue
            if kind == "wecom":
                for n, part in enumerate(md_parts, start=1):
                    out[unit_key(part)] = (mid, n)
            else:
                out[f"{mid}/1"] = (mid, 1)
        return out


def tally(h: Harness, host: str, tags: str, kind: str, received: list[tuple[str, bool]]) -> dict:
    """Counts on the receiving side: [(unit key, marked)] of every copy that arrived."""
    expected = h.expected(tags, kind)
    copies = Counter(key for key, _ in received)
    marked = Counter(key for key, is_marked in received if is_marked)
    states = h.channel_rows(host)
    reported = {
        key
        for key, ids in expected.items()
        if (s := states.get(ids)) and s[0] == "failed" and s[1] is not None
    }
    reports = h.reports_delivered()
    report_out = any(state == "delivered" for _, _, state in reports)
    lost = [k for k in expected if copies[k] == 0 and not (k in reported and report_out)]
    dups = {k: copies[k] - 1 for k in expected if copies[k] > 1}
    # A second copy is allowed only marked （重发）, and never a third.
    bad = [k for k, n in dups.items() if n > 1 or marked[k] < 1]
    return {
        "sent": len(expected),
        "received": sum(copies[k] for k in expected),
        "lost": len(lost),
        "duplicated": sum(dups.values()),
        "unmarked_or_third_copies": len(bad),
        "reported": len(reported),
        "failure_report_delivered": report_out,
    }


def unit_key(content: str) -> str:
    """Which message part a post is: its text without the （重发） line and the department's link
    (appended at send time to the last part of a department's message)."""
    content = content.replace(f"\n{RESEND_LINE}", "", 1)
    return content.split(f"\n\n{LINK_INTRO}", 1)[0]


def _robot_copies(robot: FakeRobot) -> list[tuple[str, bool]]:
    return [(unit_key(c), RESEND_LINE in c) for c in robot.contents()]


def _mail_copies(mail: FakeMailServer) -> list[tuple[str, bool]]:
    return [
        (str(m["X-KPI-Delivery"]), str(m["Subject"]).startswith("（重发）")) for m in mail.received
    ]


def robot_entry(port: int, tags: str, key_var: str = KEY_VAR) -> tuple[str, dict]:
    url = f"kpiwecom://127.0.0.1:{port}/{{{{{key_var}}}}}"
    return url, {"tag": tags, "tls": "no", "timeout": ROBOT_TIMEOUT}


def mail_entry(port: int, tags: str) -> tuple[str, dict]:
    url = (
        f"mailto://kpi:{{{{{PASSWORD_VAR}}}}}@127.0.0.1:{port}"
        f"?from=kpi@example.cn&to=fgw@example.cn&cto={SMTP_TIMEOUT}"
    )
    return url, {"tag": tags}


def _finish(case: Case, counts: dict, checks: dict[str, bool], **details) -> Case:
    ok = counts["lost"] == 0 and counts["unmarked_or_third_copies"] == 0 and all(checks.values())
    case.row = {
        "fault": case.fault,
        "sent": counts["sent"],
        "received": counts["received"],
        "lost": counts["lost"],
        "duplicated": counts["duplicated"],
        "expected_ok": ok,
        "note": case.note,
    }
    case.details = {"counts": counts, "checks": checks, **details}
    return case


# --- WeCom robot faults --------------------------------------------------------------------------


def _robot_case(
    fault: str,
    note: str,
    script: list,
    *,
    tags: str = TINY_TAGS,
    dups: int = 0,
    outcome: str | None = None,
    extra: Callable[[Harness, FakeRobot, list[dict]], dict[str, bool]] | None = None,
) -> Case:
    case = Case(fault, note)
    h = Harness(fault.replace(" ", "_"))
    robot = FakeRobot(script)
    try:
        h.route([robot_entry(robot.port, tags)])
        results = h.settle()
    finally:
        robot.close()
    host = f"127.0.0.1:{robot.port}"
    counts = tally(h, host, tags, "wecom", _robot_copies(robot))
    attempts = h.attempts(host)
    checks = {"duplicates as allowed": counts["duplicated"] == dups}
    if outcome:
        checks[f"first failure recorded as {outcome}"] = bool(attempts) and (
            attempts[0][0] == outcome
        )
    if extra:
        checks.update(extra(h, robot, results))
    return _finish(
        case, counts, checks, attempts=attempts, results=results, requests=robot.requests
    )


def case_ok() -> Case:
    return _robot_case("wecom ok", "baseline", ["ok"])


def case_shared_robot() -> Case:
    def once(h, robot, results):
        return {"digest posted once": sum("目标监测日报" in x for x in robot.headings()) == 1}

    return _robot_case(
        "wecom robot tagged dcj+leaders",
        "one copy per robot however many tags lead to it",
        ["ok"],
        extra=once,
    )


def case_45009() -> Case:
    return _robot_case(
        "wecom errcode 45009",
        "rate-limited twice, retried by later runs",
        [("errcode", 45009), ("errcode", 45009), "ok"],
        outcome="errcode",
    )


def case_http_500() -> Case:
    return _robot_case("wecom HTTP 500", "retried by a later run", [("http", 500), "ok"])


def case_refused() -> Case:
    """The robot is down (connections refused), then comes back on the same port."""
    case = Case("wecom connection refused", "robot down, then back: retried, arrives once")
    h = Harness("refused")
    sock = bound_socket()  # bound, not listening: refused until the robot starts on it
    port = sock.getsockname()[1]
    h.route([robot_entry(port, TINY_TAGS)])
    first = h.deliver(START)
    robot = FakeRobot(["ok"], sock=sock)
    try:
        results = [first, *h.settle()]
    finally:
        robot.close()
    host = f"127.0.0.1:{port}"
    counts = tally(h, host, TINY_TAGS, "wecom", _robot_copies(robot))
    attempts = h.attempts(host)
    checks = {
        "recorded as refused": attempts[0][0] == "refused",
        "no duplicates": counts["duplicated"] == 0,
    }
    return _finish(case, counts, checks, attempts=attempts, results=results)


def case_hang() -> Case:
    def uncertain(h, robot, results):
        a = h.attempts(f"127.0.0.1:{robot.port}")
        return {"hang is an uncertain timeout": a[0][0] == "timeout" and a[0][4]}

    return _robot_case(
        "wecom hang",
        "no answer: uncertain, repeated once marked （重发）",
        [("hang", SLOW), "ok"],
        outcome="timeout",
        extra=uncertain,
    )


def case_hang_forever() -> Case:
    def twice(h, robot, results):
        return {
            "each part sent twice, never a third time": robot.requests
            == 2 * len(h.expected(TINY_TAGS, "wecom")),
            "run reported Failed": any(failed_state(r) for r in results),
        }

    return _robot_case(
        "wecom never answers",
        "uncertain twice: 无法送达 (可能已送达), reported; never a third send",
        [("hang", SLOW)],
        outcome="timeout",
        extra=twice,
    )


def case_late() -> Case:
    return _robot_case(
        "wecom late answer",
        "posted, answered after the timeout: one marked repeat",
        [("late", SLOW), "ok"],
        dups=1,
        outcome="timeout",
    )


def case_trickle() -> Case:
    return _robot_case(
        "wecom trickle",
        f"posted, answered 1 byte per {TRICKLE:g} s: one marked repeat",
        [("trickle", TRICKLE), "ok"],
        dups=1,
        outcome="timeout",
    )


def case_93000() -> Case:
    def terminal(h, robot, results):
        dead = h.rows("select state from alerts.channels where channel like '%127.0.0.1%'")
        reports = h.reports_delivered()
        return {
            "bounded requests to the dead key": robot.requests == 2,
            "channel marked dead": dead == [("dead",)],
            "run reported Failed": any(failed_state(r) for r in results),
            "report reached 督查局 another way": any(
                c.startswith("kpisink://") and s == "delivered" for _, c, s in reports
            ),
        }

    return _robot_case(
        "wecom errcode 93000",
        "invalid key: 无法送达 after 2 tries, reported to 督查局's sinks",
        [("errcode", 93000)],
        outcome="errcode",
        extra=terminal,
    )


def case_40058() -> Case:
    def terminal(h, robot, results):
        return {
            "run reported Failed": any(failed_state(r) for r in results),
            "others delivered": len(robot.posted) == 2,
        }

    return _robot_case(
        "wecom errcode 40058",
        "digest refused as too long: 无法送达, reported; the rest delivered",
        [("over", "目标监测日报")],
        extra=terminal,
    )


def case_rate_limit() -> Case:
    """Two deliver runs within one minute share the limiter's state file: never over 18/min."""
    case = Case("wecom 20/min limit", "two runs within a minute: 18/min counted across them")
    h = Harness("rate_limit", kind="big")
    clock = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    robot = FakeRobot(["rate"], clock=lambda: clock[0])
    tags = "dept-fgw, dept-tjj, dept-rsj, dept-kjj, dept-scjgj, leaders, dcj"
    state = h.cfg.home / "wecom-rate.json"
    try:
        h.route([robot_entry(robot.port, tags)])
        first = RateLimiter(
            limit=18, window=60, clock=lambda: clock[0], sleep=sleep, state_file=state
        )
        results = [h.deliver(START, limiter=first)]
        sent_first = len(robot.posted)
        h.release()
        for n, plan_code in enumerate(("second-2023", "third-2023"), start=1):
            # other plans (as of other days: messages of their own), the same robot
            raise_into(h.cfg, "big", plan_code, AS_OF - timedelta(days=n))
        second = RateLimiter(
            limit=18, window=60, clock=lambda: clock[0], sleep=sleep, state_file=state
        )
        results.append(h.deliver(START, limiter=second))
    finally:
        robot.close()
    host = f"127.0.0.1:{robot.port}"
    counts = tally(h, host, tags, "wecom", _robot_copies(robot))
    checks = {
        "more than 20 to send in the minute": counts["sent"] > 20,
        "the second run waited for the first one's sends": bool(waits) and sent_first < 18,
        "no 45009": not any(a[2] == 45009 for a in h.attempts(host)),
        "no duplicates": counts["duplicated"] == 0,
    }
    return _finish(case, counts, checks, waits=waits, results=results)


def case_missing_secret() -> Case:
    case = Case("missing secret", "one robot's key unset: the other robot delivers meanwhile")
    h = Harness("missing_secret")
    robot = FakeRobot(["ok"])
    other = FakeRobot(["ok"])
    missing = "KPI_FAULT_UNSET_KEY"
    try:
        h.route(
            [robot_entry(robot.port, "dept-fgw", missing), robot_entry(other.port, "leaders, dcj")]
        )
        first = h.deliver(START)
        other_first = len(other.posted)
        h.env[missing] = "fault-robot-key-0002"
        results = [first, *h.settle()]
    finally:
        robot.close()
        other.close()
    host = f"127.0.0.1:{robot.port}"
    counts = tally(h, host, "dept-fgw", "wecom", _robot_copies(robot))
    checks = {
        "the other robot delivered while the key was unset": other_first == 1,
        "the unset variable is named": missing in " ".join(first["channel_errors"].values()),
        "that run reported Failed": failed_state(first) is not None,
    }
    return _finish(case, counts, checks, results=results)


# --- SMTP faults ---------------------------------------------------------------------------------


def _mail_case(
    fault: str,
    note: str,
    script: list,
    *,
    password: str = PASSWORD,
    dups: int = 0,
    extra: Callable[[Harness, list[tuple], list[dict]], dict[str, bool]] | None = None,
) -> Case:
    case = Case(fault, note)
    h = Harness(fault.replace(" ", "_"))
    mail = FakeMailServer(script, password=password)
    tags = "dept-fgw, leaders, dcj"
    try:
        h.route([mail_entry(mail.port, tags)])
        results = h.settle()
    finally:
        mail.close()
    host = f"127.0.0.1:{mail.port}"
    counts = tally(h, host, tags, "email", _mail_copies(mail))
    attempts = h.attempts(host)
    checks = {"duplicates as allowed": counts["duplicated"] == dups}
    if extra:
        checks.update(extra(h, attempts, results))
    return _finish(case, counts, checks, attempts=attempts, results=results)


def case_smtp_ok() -> Case:
    return _mail_case("smtp ok", "baseline", ["ok"])


def case_smtp_451() -> Case:
    return _mail_case(
        "smtp 451",
        "temporary refusal: code recorded, retried",
        [("code", 451), "ok"],
        extra=lambda h, a, r: {"451 recorded": a[0][3] == 451 and not a[0][4]},
    )


def case_smtp_550() -> Case:
    return _mail_case(
        "smtp 550",
        "recipient refused: code recorded, 无法送达, reported",
        ["reject_rcpt"],
        extra=lambda h, a, r: {
            "550 recorded": a[0][3] == 550,
            "run reported Failed": any(failed_state(x) for x in r),
        },
    )


def case_smtp_drop() -> Case:
    return _mail_case(
        "smtp drop after accepting",
        "accepted then hung up: uncertain, one marked repeat",
        ["drop", "ok"],
        dups=1,
        extra=lambda h, a, r: {"recorded as dropped, uncertain": a[0][0] == "dropped" and a[0][4]},
    )


def case_smtp_hang() -> Case:
    return _mail_case(
        "smtp hang",
        "no answer to the message: a timeout, repeated once marked",
        [("hang", SLOW), "ok"],
        extra=lambda h, a, r: {"recorded as a timeout": a[0][0] == "timeout"},
    )


def case_smtp_auth() -> Case:
    return _mail_case(
        "smtp auth failure",
        "password refused: 无法送达 after 2 tries, reported",
        ["ok"],
        password="the-server-wants-another",
        extra=lambda h, a, r: {
            "recorded as auth": a[0][0] == "auth" and a[0][3] == 535,
            "run reported Failed": any(failed_state(x) for x in r),
        },
    )


# --- kill -9 of a deliver process ----------------------------------------------------------------


def _cli(h: Harness, now: datetime, forks: ForkServer | None) -> subprocess.Popen | Streamed:
    """`kpi deliver --json` in a process of its own: cold, or forked from the warm `forks`."""
    if forks is not None:
        # apprise and its plugins (~0.3 CPU-s of each fork's imports), imported once in the server
        forks.warm("kpi deliver", "import kpi.alerts.delivery")
    env = {**os.environ, **h.env}
    env.update(
        KPI_HOME=str(h.cfg.home),
        KPI_APPRISE_CONFIG=str(h.cfg.apprise_config),
        KPI_NOW=now.isoformat(),
        KPI_LOCK_WAIT_SECONDS="5",
    )
    if forks is not None:
        return forks.popen(["deliver", "--json"], env)
    return subprocess.Popen(
        [sys.executable, "-m", "kpi.cli", "deliver", "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _final_state(h: Harness) -> list[tuple]:
    return h.rows(
        "select message_id, part, state from alerts.deliveries"
        " where channel like 'kpiwecom://%' order by message_id, part"
    )


def _kill_case(
    fault: str,
    note: str,
    script: list,
    *,
    kind: str,
    tags: str,
    dups: int,
    forks: ForkServer | None,
) -> Case:
    case = Case(fault, note)
    h = Harness(fault.replace(" ", "_").replace("-", ""), kind=kind)
    robot = FakeRobot(script)
    try:
        h.route([robot_entry(robot.port, tags)])
        h.release()
        killed = _cli(h, START, forks)
        robot.client_pid = killed.pid
        killed.communicate(timeout=60)
        rerun = _cli(h, START + STEP, forks)
        out, err = rerun.communicate(timeout=60)
    finally:
        robot.close()
    host = f"127.0.0.1:{robot.port}"
    counts = tally(h, host, tags, "wecom", _robot_copies(robot))
    # An uninterrupted run ends with every part delivered and every message done (case "ok").
    complete = sorted((mid, part, "delivered") for mid, part in h.expected(tags, "wecom").values())
    checks = {
        "the first process was killed": killed.returncode == -9,
        "the rerun succeeded": rerun.returncode == 0,
        "ends as an uninterrupted run does": _final_state(h) == complete and h.undone() == 0,
        "duplicates as allowed": counts["duplicated"] == dups,
    }
    result = json.loads(out) if rerun.returncode == 0 else {"stderr": err[-2000:]}
    return _finish(case, counts, checks, rerun=result, attempts=h.attempts(host))


def case_kill_before_send(forks: ForkServer | None = None) -> Case:
    return _kill_case(
        "kill -9 before send",
        "died with the request: the rerun sends it once, marked",
        [("kill", "before"), "ok"],
        kind="tiny",
        tags=TINY_TAGS,
        dups=0,
        forks=forks,
    )


def case_kill_after_send(forks: ForkServer | None = None) -> Case:
    return _kill_case(
        "kill -9 after send",
        "posted, died before recording: one marked repeat",
        [("kill", "after"), "ok"],
        kind="tiny",
        tags=TINY_TAGS,
        dups=1,
        forks=forks,
    )


def case_kill_mid_split(forks: ForkServer | None = None) -> Case:
    return _kill_case(
        "kill -9 mid split message",
        "killed on part 2 of a digest in parts: part 2 repeated marked, the rest once",
        ["ok", ("kill", "after"), "ok"],
        kind="big",
        tags="leaders, dcj",
        dups=1,
        forks=forks,
    )


CASES: list[Callable[[], Case]] = [
    case_ok,
    case_shared_robot,
    case_45009,
    case_http_500,
    case_refused,
    case_hang,
    case_hang_forever,
    case_late,
    case_trickle,
    case_93000,
    case_40058,
    case_rate_limit,
    case_missing_secret,
    case_smtp_ok,
    case_smtp_451,
    case_smtp_550,
    case_smtp_drop,
    case_smtp_hang,
    case_smtp_auth,
    case_kill_before_send,
    case_kill_after_send,
    case_kill_mid_split,
]


# The cases that start `kpi deliver` processes: the test suite has them forked (`forks=`).
KILL_CASES = (case_kill_before_send, case_kill_after_send, case_kill_mid_split)


def table() -> list[dict]:
    """One row per delivery fault: fault, sent, received, lost, duplicated, expected_ok, note."""
    return [case().row for case in CASES]
