"""Fixtures for alert tests: progress rows in a real warehouse, a WeCom stand-in, an SMTP server."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, datetime
from functools import partial
from pathlib import Path

import pytest
import yaml
from alerts_support import (
    PROGRESS_COLUMNS,
    SHARED,
    FakeWeCom,
    LoopbackSMTP,
    SmtpSink,
    progress_row,
)

from kpi.alerts import raise_alerts
from kpi.catalogue import Catalogue, load_catalogue
from kpi.config import Settings, load_settings
from kpi.warehouse import connect


def put_rows(
    cfg: Settings, catalogue: Catalogue, as_of: date, statuses: dict | None = None, **per_target
) -> None:
    """Write mart.progress for one as-of date: every target 正常 unless given another status."""
    statuses = statuses or {}
    rows = [
        progress_row(
            t,
            catalogue.plan.code,
            as_of,
            statuses.get(t.code, "正常"),
            **per_target.get(t.code, {}),
        )
        for t in catalogue.targets
    ]
    cols = ", ".join(PROGRESS_COLUMNS)
    marks = ", ".join(["(" + ", ".join("?" for _ in PROGRESS_COLUMNS) + ")"] * len(rows))
    with connect(cfg) as con:
        con.execute(
            "delete from mart.progress where plan_code = ? and as_of = ?",
            [catalogue.plan.code, as_of],
        )
        # One statement for all rows: a statement per row cost most of this fixture's time.
        if rows:
            con.execute(
                f"insert into mart.progress ({cols}) values {marks}",
                [row[c] for row in rows for c in PROGRESS_COLUMNS],
            )


@pytest.fixture
def put_progress(cfg: Settings):
    """`put_rows` on this test's warehouse."""
    return partial(put_rows, cfg)


RAISED_ON = date(2023, 7, 15)
RAISED_STATUSES = {"investment_total": "严重滞后", "urban_jobs": "预警"}


@pytest.fixture(scope="module")
def raised_kept(tmp_path_factory, write_tiny_catalogue) -> tuple[Settings, Path]:
    """The tiny plan's alerts raised on RAISED_ON (two targets behind), made once per module.

    For a module whose tests share one home (`cfg` emptied for each, `raised` restoring this):
    the messages name paths under the home (the report's link), so a copy kept elsewhere and
    put back at the same place is what raising them there again would leave.
    """
    base = tmp_path_factory.mktemp("alerts")
    cfg = load_settings(env={}).with_home(base / "home")
    # beside the home, where `tiny_catalogue` puts it for `cfg`
    tiny = load_catalogue(write_tiny_catalogue(base / "catalogue"))
    put_rows(cfg, tiny, RAISED_ON, RAISED_STATUSES)
    raise_alerts(cfg, tiny, RAISED_ON, datetime(2023, 7, 15, 10, tzinfo=cfg.tz))
    shutil.copytree(cfg.home, base / "kept", symlinks=True)  # copy2: sizes and mtimes kept
    shutil.rmtree(cfg.home)
    return cfg, base / "kept"


@pytest.fixture
def kept_home(raised_kept) -> Settings:
    """`raised_kept`'s home, emptied: the one home of a module whose `cfg` it is."""
    cfg, _ = raised_kept
    shutil.rmtree(cfg.home, ignore_errors=True)
    return cfg


@pytest.fixture
def raised(kept_home: Settings, raised_kept) -> Settings:
    """`raised_kept`'s alerts (RAISED_STATUSES on RAISED_ON) put back in `kept_home`."""
    shutil.copytree(raised_kept[1], kept_home.home, symlinks=True)
    return kept_home


@pytest.fixture
def read_outbox(cfg: Settings):
    """Every outbox row, oldest first."""

    def read() -> list[dict]:
        with connect(cfg) as con:
            cur = con.execute("select * from alerts.outbox order by message_id")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    return read


@pytest.fixture
def make_catalogue(tmp_path: Path):
    """A catalogue from target dicts (the shared tiny report and department register)."""

    def make(targets: list[dict], plan_code: str = "tiny-2023") -> Catalogue:
        return load_catalogue(
            SHARED.write_catalogue(tmp_path / f"cat-{plan_code}", targets, plan_code)
        )

    return make


@pytest.fixture
def wecom():
    """A running WeCom stand-in on loopback."""
    server = FakeWeCom()
    yield server
    server.close()


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server on loopback requiring AUTH (user kpi, password from the environment)."""
    from aiosmtpd.smtp import AuthResult

    password = "smtp-Secret-Pa55:w/@rd"
    monkeypatch.setenv("KPI_SMTP_PASSWORD", password)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"kpi" and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: a refusal is answered 535

    sink = SmtpSink()
    controller = LoopbackSMTP(sink, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    sink.port = controller.port
    sink.password = password
    yield sink
    controller.stop()


@pytest.fixture
def with_apprise(cfg: Settings, tmp_path: Path):
    """Settings routed through an apprise YAML file written from [(url, tokens)]."""

    def write(entries: list[tuple[str, dict]]) -> Settings:
        path = tmp_path / "apprise.yml"
        doc = {"version": 1, "urls": [{url: [tokens]} for url, tokens in entries]}
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
        return replace(cfg, apprise_config=path)

    return write
