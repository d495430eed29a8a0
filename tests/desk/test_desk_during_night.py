"""Uploads while the nightly run holds the warehouse: receipts at once, every file loaded once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from desk_support import fill_template, inbox_names

from kpi.ingest import ingest_inbox
from kpi.warehouse import connect, pipeline_lock, publish_snapshot
from transforms.units import canonical

pytestmark = pytest.mark.slow

# Another process holding what a nightly run holds: the run lock and a read-write connection to
# the warehouse (which locks the file against every other process, readers included).
HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    from pathlib import Path
    from kpi.config import load_settings
    from kpi.warehouse import pipeline_lock
    cfg = load_settings(env={}).with_home(Path(sys.argv[1]))
    with pipeline_lock(cfg):
        con = duckdb.connect(str(cfg.warehouse))
        print("held", flush=True)
        sys.stdin.read()
        con.close()
    """
)


@pytest.fixture
def nightly_run(seeded):
    """A process holding the run lock and the warehouse until the test lets go."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(seeded.cfg.home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"

    def release():
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=30)

    yield release
    release()


def _templates(client, seeded, tmp_path) -> dict[str, tuple[str, object]]:
    out = {}
    for code, short in (("fgw", "发改委"), ("rsj", "人社局")):
        token = seeded.token(department=code)
        data = client.get(
            "/template", params={"period": "2023-06"}, headers={"Authorization": f"Bearer {token}"}
        ).content
        out[code] = (
            token,
            fill_template(data, seeded.catalogue, tmp_path / f"{short}_2023年6月.xlsx"),
        )
    return out


def test_uploads_during_a_nightly_run_get_receipts_and_are_loaded_once_afterwards(
    client, desk, seeded, tmp_path, nightly_run
):
    files = _templates(client, seeded, tmp_path)
    # Two departments, each sending its file twice at the same moment, while the run holds on.
    jobs = [files["fgw"], files["rsj"], files["fgw"], files["rsj"]]

    def send(job):
        token, path = job
        with httpx.Client(base_url=desk.url, timeout=120) as c, open(path, "rb") as fh:
            return c.post(
                "/api/submissions",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": (path.name, fh)},
            )

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, jobs))

    assert [a.status_code for a in answers] == [202, 202, 202, 202]
    assert {a.json()["status"] for a in answers} == {"accepted"}
    names = inbox_names(seeded.cfg)
    assert names == sorted(
        [
            "发改委_2023年6月.xlsx",
            "发改委_2023年6月（2）.xlsx",
            "人社局_2023年6月.xlsx",
            "人社局_2023年6月（2）.xlsx",
        ]
    )
    # A 13710 click cannot wait for the night: it is refused, in Chinese, with nothing written.
    dcj = seeded.token(role="dcj")
    client.cookies.set("kpi_desk", dcj)
    csrf = client.get("/board").text.split('name="csrf" value="')[1].split('"')[0]
    refused = client.post("/alerts/1/ack", data={"csrf": csrf, "text": "已收到"})
    assert refused.status_code == 503 and "正在运行夜间流程" in refused.text
    assert refused.headers["retry-after"]

    nightly_run()
    receipts = ingest_inbox(seeded.cfg, seeded.catalogue)
    assert sorted(r["status"] for r in receipts) == [
        "accepted",
        "accepted",
        "duplicate",
        "duplicate",
    ]
    assert inbox_names(seeded.cfg) == []
    with connect(seeded.cfg) as con:
        stored = con.execute(
            "select department_code, count(*) from raw.submissions"
            " where file_name like '%2023年6月%.xlsx' group by 1 order by 1"
        ).fetchall()
    assert stored == [("fgw", 1), ("rsj", 1)]
    # Once the run has published its snapshot, the same bytes again are a duplicate: not queued.
    publish_snapshot(seeded.cfg)
    again = send(files["fgw"])
    assert again.status_code == 200 and again.json()["status"] == "duplicate"


def test_a_replacement_before_the_due_day_counts_last(client, desk, seeded, tmp_path):
    token = seeded.token(department="fgw")
    headers = {"Authorization": f"Bearer {token}"}
    data = client.get("/template", params={"period": "2023-06"}, headers=headers).content
    first = fill_template(
        data, seeded.catalogue, tmp_path / "发改委_2023年6月.xlsx", {"investment_total": 100}
    )
    second = fill_template(
        data, seeded.catalogue, tmp_path / "发改委6月更正.xlsx", {"investment_total": 101.5}
    )
    for path in (first, second):
        with open(path, "rb") as fh:
            assert (
                client.post(
                    "/api/submissions", headers=headers, files={"file": (path.name, fh)}
                ).status_code
                == 202
            )
    receipts = ingest_inbox(seeded.cfg, seeded.catalogue)
    assert [r["file"] for r in receipts] == ["发改委_2023年6月.xlsx", "发改委6月更正.xlsx"]
    assert receipts[1]["revisions"] == 1
    with connect(seeded.cfg) as con:
        rows = con.execute(
            "select value, revision_no, is_current from staged.observations"
            " where target_code = 'investment_total' and period = '2023-06' order by revision_no"
        ).fetchall()
    factor = canonical("亿元")[1]
    assert rows == [
        (pytest.approx(100 * factor), 1, False),
        (pytest.approx(101.5 * factor), 2, True),
    ]


def test_the_lock_holder_really_blocks_the_warehouse(seeded, nightly_run):
    from kpi.warehouse import LockedError

    with pytest.raises(LockedError), pipeline_lock(seeded.cfg, wait_seconds=0):
        pass
