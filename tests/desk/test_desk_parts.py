"""The desk's parts without a server: tokens, the secret, served paths, file names, links."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from kpi import clock
from kpi.desk import files, links, tokens, uploads
from kpi.desk.tokens import Revocations, TokenError


@pytest.fixture
def key_cfg(cfg, monkeypatch):
    monkeypatch.delenv(tokens.SECRET_ENV, raising=False)
    return cfg


def test_a_token_round_trips_and_carries_scope_id_and_expiry(key_cfg):
    token, claims = tokens.mint(key_cfg, "hongqi-2023", "dept:fgw", days=30)
    got = tokens.verify(key_cfg, token, "hongqi-2023", Revocations())
    assert got == claims
    assert got.department == "fgw" and got.role is None
    assert got.expires - got.issued == timedelta(days=30)
    assert len(token) < 260  # fits a WeCom line with the desk's address


@pytest.mark.parametrize("bad", ["", "kd1", "kd1.a.b", "x" * 700, "kd2.e30.AAAA", "kd1.!!!.???"])
def test_malformed_tokens_are_refused_in_chinese(key_cfg, bad):
    with pytest.raises(TokenError, match="链接无效"):
        tokens.parse(key_cfg, bad)


def test_a_changed_scope_breaks_the_signature(key_cfg):
    import base64
    import json

    token, _ = tokens.mint(key_cfg, "hongqi-2023", "dept:fgw")
    prefix, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["s"] = "dcj"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError, match="签名不符"):
        tokens.parse(key_cfg, f"{prefix}.{forged}.{sig}")


def test_expired_other_plan_and_revoked_tokens_are_refused(key_cfg):
    token, claims = tokens.mint(key_cfg, "hongqi-2023", "dept:fgw", days=1)
    later = clock.now(key_cfg.tz) + timedelta(days=1, seconds=1)
    with pytest.raises(TokenError, match="过期"):
        tokens.verify(key_cfg, token, "hongqi-2023", Revocations(), now=later)
    with pytest.raises(TokenError, match="计划年度"):
        tokens.verify(key_cfg, token, "hongqi-2024", Revocations())
    with pytest.raises(TokenError, match="吊销"):
        tokens.verify(key_cfg, token, "hongqi-2023", Revocations(frozenset({claims.id})))
    by_scope = Revocations(scopes=(("dept:fgw", claims.issued),))
    with pytest.raises(TokenError, match="吊销"):
        tokens.verify(key_cfg, token, "hongqi-2023", by_scope)
    fresh, _ = tokens.mint(
        key_cfg, "hongqi-2023", "dept:fgw", now=claims.issued + timedelta(seconds=1)
    )
    assert tokens.verify(key_cfg, fresh, "hongqi-2023", by_scope).scope == "dept:fgw"
    other = Revocations(scopes=(("dept:tjj", claims.issued),))
    assert tokens.verify(key_cfg, token, "hongqi-2023", other)


def test_the_secret_is_made_once_private_and_never_in_the_repository(key_cfg):
    first = tokens.secret(key_cfg)
    path = tokens.desk_dir(key_cfg) / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tokens.secret(key_cfg) == first
    assert path.is_relative_to(key_cfg.home)  # state, never the repository
    token, _ = tokens.mint(key_cfg, "p", "dcj")
    path.write_text("b" * 64)  # a new key: every earlier link stops working
    with pytest.raises(TokenError, match="签名不符"):
        tokens.parse(key_cfg, token)


def test_a_secret_from_the_environment_wins_and_must_be_long(key_cfg, monkeypatch):
    monkeypatch.setenv(tokens.SECRET_ENV, "short")
    with pytest.raises(tokens.SecretError, match="太短"):
        tokens.secret(key_cfg)
    monkeypatch.setenv(tokens.SECRET_ENV, "s" * 40)
    assert tokens.secret(key_cfg) == b"s" * 40
    assert not (tokens.desk_dir(key_cfg) / "secret.key").exists()


def test_csrf_tokens_are_bound_to_the_session(key_cfg):
    _, a = tokens.mint(key_cfg, "p", "dept:fgw")
    _, b = tokens.mint(key_cfg, "p", "dept:fgw")
    assert tokens.csrf_ok(key_cfg, a, tokens.csrf_token(key_cfg, a))
    assert not tokens.csrf_ok(key_cfg, b, tokens.csrf_token(key_cfg, a))
    assert not tokens.csrf_ok(key_cfg, a, None)


def test_a_message_link_is_minted_per_call_within_its_byte_budget(key_cfg):
    line = links.link_line(key_cfg, "hongqi-2023", "fgw")
    url, token_id = links.department_link(key_cfg, "hongqi-2023", "fgw")
    assert line.startswith(links.LINK_LABEL) and "/?token=kd1." in line
    assert len(line.encode()) <= links.LINK_LINE_BYTES
    assert token_id not in line  # the id travels apart from the link: only it may be stored
    token = url.split("token=")[1]
    assert tokens.parse(key_cfg, token).scope == "dept:fgw"
    assert links.link_line(replace(key_cfg, desk_base_url=""), "hongqi-2023", "fgw") == ""
    long_base = replace(key_cfg, desk_base_url="https://" + "x" * 300)
    assert links.department_link(long_base, "hongqi-2023", "fgw") is None
    for odd in ("desk.example.cn", "https://desk.example.cn/a b", "https://x.cn/(y)", "ftp://x"):
        assert links.mint_link(replace(key_cfg, desk_base_url=odd), "hongqi-2023", "fgw") is None
    https = replace(key_cfg, desk_base_url="https://mubiao.hongqi.gov.cn/desk/")
    assert links.mint_link(https, "hongqi-2023", "fgw").url.startswith(
        "https://mubiao.hongqi.gov.cn/desk/?token=kd1."
    )


def test_a_message_link_is_signed_again_identically_from_its_id_and_times(key_cfg):
    now = datetime(2023, 7, 16, 9, 0, 7, 123456, tzinfo=key_cfg.tz)
    first = links.mint_link(key_cfg, "hongqi-2023", "fgw", now=now)
    again = links.same_link(
        key_cfg, "hongqi-2023", "fgw", first.token_id, first.issued, first.expires
    )
    assert again == first and first.issued == now.replace(microsecond=0)
    other = links.mint_link(key_cfg, "hongqi-2023", "fgw", now=now)
    assert other.token_id != first.token_id and other.url != first.url  # each mint is fresh
    # a day more of validity, or another department, is another signature
    longer = links.same_link(
        key_cfg, "hongqi-2023", "fgw", first.token_id, first.issued,
        first.expires + timedelta(days=1),
    )  # fmt: skip
    assert longer.url != first.url
    assert links.same_link(
        replace(key_cfg, desk_base_url=""), "hongqi-2023", "fgw", "x", now, now
    ) is None  # fmt: skip


def test_a_13710_step_while_the_night_runs_waits_only_the_desks_short_lock_wait(cfg):
    import time

    from kpi.desk import actions
    from kpi.warehouse import pipeline_lock

    cfg = replace(cfg, desk_lock_wait_seconds=1, lock_wait_seconds=900)
    started = time.monotonic()
    with pipeline_lock(cfg), pytest.raises(actions.Busy, match="正在运行夜间流程"):
        actions.episode_step(cfg, "ack", 1, "已收到", actor="desk:dcj:test")
    assert time.monotonic() - started < 60  # not the night's 900 s


@pytest.fixture
def reports(cfg):
    root = cfg.reports
    (root / "data_docs" / "p" / "static").mkdir(parents=True)
    (root / "gx").mkdir()
    (root / "p-2023_2023-07-15_progress.html").write_text("<p>r</p>")
    (root / "p-2023_2023-07-15_workbook.xlsx").write_bytes(b"PK")
    (root / "data_docs" / "p" / "index.html").write_text("<p>d</p>")
    (root / "data_docs" / "p" / "static" / "a.css").write_text("p{}")
    (root / "gx" / "great_expectations.yml").write_text("x")
    (root / ".p-2023_2023-07-16_progress.html.tmp").write_text("half")
    secret = cfg.home / "secret.txt"
    secret.write_text("s")
    (root / "data_docs" / "p" / "leak.html").symlink_to(secret)
    (root / "p-2023_2023-07-14_progress.html").symlink_to(secret)
    return cfg


@pytest.mark.parametrize(
    "rel",
    [
        "p-2023_2023-07-15_progress.html",
        "p-2023_2023-07-15_workbook.xlsx",
        "data_docs/p/index.html",
        "data_docs/p/static/a.css",
    ],
)
def test_the_report_outputs_are_served(reports, rel):
    assert files.resolve(reports, rel) == (reports.reports / rel).resolve()


@pytest.mark.parametrize(
    "rel",
    [
        "",
        "../secret.txt",
        "data_docs/../../secret.txt",
        "data_docs/p/../../../secret.txt",
        "/etc/passwd",
        "data_docs//p/index.html",
        "gx/great_expectations.yml",
        ".p-2023_2023-07-16_progress.html.tmp",
        "data_docs/p/leak.html",  # a symlink out of the folder
        "p-2023_2023-07-14_progress.html",
        "data_docs\\..\\..\\secret.txt",
        "p-2023_2023-07-15_progress.html\x00.png",
        "data_docs/p/static",
        "data_docs/p/nothing.html",
    ],
)
def test_nothing_outside_the_report_outputs_is_served(reports, rel):
    assert files.resolve(reports, rel) is None


def test_reports_are_listed_newest_first(reports):
    (reports.reports / "p-2023_2023-07-16_progress.html").write_text("x")
    (reports.reports / "other-2023_2023-07-17_progress.html").write_text("x")
    found = files.reports_of(reports, "p-2023")
    assert [str(r.day) for r in found][:2] == ["2023-07-16", "2023-07-15"]
    assert found[1].workbook == "p-2023_2023-07-15_workbook.xlsx"
    assert files.data_docs_index(reports, "p") == "data_docs/p/index.html"


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("发改委_2023年6月.xlsx", "发改委_2023年6月.xlsx"),
        ("C:\\Users\\clerk\\桌面\\发改委.XLSX", "发改委.xlsx"),
        ("../../etc/passwd", "passwd"),
        (".hidden.csv", "hidden.csv"),
        ("a\x00b<>|.csv", "a_b___.csv"),
        ("", "上传文件"),
        (None, "上传文件"),
        ("x" * 300 + ".xlsx", "x" * 75 + ".xlsx"),
    ],
)
def test_upload_names_are_made_harmless(given, safe):
    assert uploads.safe_name(given) == safe


def test_a_queued_file_never_replaces_one_already_waiting(cfg):
    folder = uploads.inbox_folder(cfg, "p")
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("first")
    staged = uploads.stage(cfg, "p", "a.csv", [b"second"])
    dest = uploads.queue(cfg, "p", staged)
    assert dest.name == "a（2）.csv" and dest.read_text() == "second"
    assert (folder / "a.csv").read_text() == "first"
    assert dest.stat().st_mtime > (folder / "a.csv").stat().st_mtime
    assert not staged.path.exists()


def test_the_received_time_of_an_upload_is_the_projects_clock(cfg):
    staged = uploads.stage(cfg, "p", "a.csv", [b"x"])
    at = datetime.fromtimestamp(staged.path.stat().st_mtime, cfg.tz)
    assert at == clock.now(cfg.tz)
    os.unlink(staged.path)
