"""`kpi desk` as an operator runs it: it answers, tokens work, Ctrl-C stops it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
from desk_support import PLAN, fill_template

from kpi.warehouse import connect

pytestmark = pytest.mark.slow


def _env(seeded) -> dict:
    return {
        **os.environ,
        "KPI_HOME": str(seeded.cfg.home),
        "KPI_CATALOGUE_DIR": str(seeded.cfg.catalogue_dir),
        "KPI_PLAN": PLAN,
    }


def kpi(seeded, *args, forks=None) -> subprocess.CompletedProcess:
    """`python -m kpi.cli ...`: cold, or with `forks` a fork of the warm interpreter."""
    if forks is not None:
        return forks.run(list(args), _env(seeded))
    return subprocess.run(
        [sys.executable, "-m", "kpi.cli", *args], env=_env(seeded), capture_output=True, text=True
    )


def test_kpi_desk_answers_and_a_department_token_gets_its_receipt(seeded, tmp_path, forks):
    made = kpi(seeded, "desk", "token", "--department", "人社局", "--json", forks=forks)
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)
    assert token["scope"] == "dept:rsj" and token["link"].endswith(token["token"])
    # A process of its own, forked warm like the token command: its cold start (imports) is
    # serve.sh's, whose desk `served` starts cold and test_serve_stop stops with a Ctrl-C; here
    # it would add ~3 CPU-s of importing Great Expectations, pandas and DuckDB again.
    proc = forks.popen(["desk", "--port", "0"], _env(seeded))
    try:
        line = proc.stderr.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", line).group(1)
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "kpi desk did not answer"
                time.sleep(0.2)
        auth = {"Authorization": f"Bearer {token['token']}"}
        status = httpx.get(f"{url}/api/status", headers=auth).json()
        assert {r["department_code"] for r in status} == {"rsj"}
        data = httpx.get(f"{url}/template", params={"period": "2023-06"}, headers=auth).content
        path = fill_template(data, seeded.catalogue, tmp_path / "人社局_2023年6月.xlsx")
        with open(path, "rb") as fh:
            got = httpx.post(
                f"{url}/api/submissions", headers=auth, files={"file": (path.name, fh)}, timeout=120
            )
        assert got.status_code == 202 and got.json()["status"] == "accepted"
        assert httpx.get(f"{url}/api/status").status_code == 401
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = proc.stderr.read()
    assert token["token"] not in log and "token=" not in log
    # At exit the desk moved its access records into meta.access.
    with connect(seeded.cfg) as con:
        paths = {r[0] for r in con.execute("select path from meta.access").fetchall()}
    assert {"/healthz", "/api/status", "/template", "/api/submissions"} <= paths


def test_token_and_revoke_refuse_bad_input_in_chinese(seeded, forks):
    assert "未知单位" in kpi(seeded, "desk", "token", "-d", "不存在局", forks=forks).stderr
    both = kpi(seeded, "desk", "token", "-d", "发改委", "--role", "dcj", forks=forks)
    assert both.returncode != 0 and "之一" in both.stderr
    plain = kpi(seeded, "desk", "token", "--role", "leaders", "--days", "7", forks=forks)
    assert plain.returncode == 0 and "区领导" in plain.stdout and "kpi desk revoke" in plain.stdout
    bad = kpi(seeded, "desk", "revoke", "not-a-token", forks=forks)
    assert bad.returncode != 0 and "令牌编号" in bad.stderr


def test_a_fresh_home_answers_before_any_nightly_run(tmp_path, monkeypatch):
    """From a clean clone: no warehouse, no snapshot; the real plan; a department uploads."""
    from kpi.catalogue import load_catalogue
    from kpi.config import ROOT, load_settings
    from kpi.desk.server import Background
    from kpi.desk.tokens import mint

    monkeypatch.delenv("KPI_DESK_SECRET", raising=False)
    cfg = load_settings(env={}).with_home(tmp_path / "home")
    catalogue = load_catalogue(ROOT / "catalogue" / f"{cfg.plan}.yaml")
    desk = Background(cfg, deliver_now=False).start()
    try:
        token = mint(cfg, cfg.plan, "dept:fgw")[0]
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=desk.url, timeout=120) as c:
            assert c.get("/healthz").json() == {"status": "ok", "snapshot": False}
            page = c.get("/", headers=auth)
            assert page.status_code == 200 and "尚无进度数据" in page.text
            assert c.get("/api/status", headers=auth).json() == []
            data = c.get("/template", params={"period": "2023-06"}, headers=auth)
            assert data.status_code == 200
            path = fill_template(data.content, catalogue, tmp_path / "发改委_2023年6月.xlsx")
            with open(path, "rb") as fh:
                got = c.post("/api/submissions", headers=auth, files={"file": (path.name, fh)})
            assert got.status_code == 202, got.text
            assert got.json()["status"] == "accepted" and got.json()["department"] == "fgw"
            other = mint(cfg, cfg.plan, "dept:tjj")[0]
            with open(path, "rb") as fh:
                refused = c.post(
                    "/api/submissions",
                    headers={"Authorization": f"Bearer {other}"},
                    files={"file": (path.name, fh)},
                )
            assert refused.status_code == 403
            assert (
                c.get(
                    "/api/status?department=fgw", headers={"Authorization": f"Bearer {other}"}
                ).status_code
                == 403
            )
            assert c.get("/api/status").status_code == 401
    finally:
        desk.stop()
