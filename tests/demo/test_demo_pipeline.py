"""The pipeline on the demo data does what the generator meant: exact rows, refusals, statuses."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from kpi.config import ROOT
from kpi.ingest import ingest_inbox
from kpi.progress import compute_progress
from kpi.warehouse import connect

AS_OF = date(2023, 7, 15)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, hongqi):
    """Stage every demo file that arrived by the as-of date, ingest the inbox, compute progress."""
    from kpi.config import load_settings

    cfg = load_settings(env={}).with_home(tmp_path_factory.mktemp("demo_home"))
    manifest = json.loads((ROOT / "demo" / "manifest.json").read_text(encoding="utf-8"))
    files = [f for f in manifest["files"] if date.fromisoformat(f["arrival"]) <= AS_OF]
    cfg.inbox.mkdir(parents=True)
    for f in files:
        target = cfg.inbox / Path(f["path"]).name
        shutil.copyfile(ROOT / "demo" / f["path"], target)
        ts = datetime.fromisoformat(f["arrival"]).replace(hour=9).timestamp()
        os.utime(target, (ts, ts))
    receipts = ingest_inbox(cfg, hongqi, as_of=AS_OF)
    progress = compute_progress(cfg, hongqi, AS_OF)
    return cfg, manifest, files, receipts, progress


def test_every_file_that_arrived_gets_one_receipt(demo_run):
    _, _, files, receipts, _ = demo_run
    assert sorted(Path(r["file"]).name for r in receipts) == sorted(
        Path(f["path"]).name for f in files
    )


def test_each_receipt_accepts_exactly_the_rows_meant_valid(demo_run):
    _, _, files, receipts, _ = demo_run
    by_name = {Path(r["file"]).name: r for r in receipts}
    for f in files:
        r = by_name[Path(f["path"]).name]
        assert r["accepted"] == len(f["rows_valid"]), f["path"]


def test_each_defective_file_is_refused_for_the_defect_put_in_it(demo_run):
    _, manifest, files, receipts, _ = demo_run
    by_name = {Path(r["file"]).name: r for r in receipts}
    defective = [f for f in files if f["defect"]]
    assert {f["defect"]["code"] for f in defective} == set(manifest["defect_kinds"])
    for f in defective:
        r = by_name[Path(f["path"]).name]
        d = f["defect"]
        keyword = d["reason_keyword"]
        if d.get("row") is None:
            assert r["status"] == "rejected" and keyword in (r["reason"] or ""), f["path"]
        else:
            reasons = [x["reason"] for x in r["rejected"] if x["row"] == d["row"]]
            assert any(keyword in reason for reason in reasons), (f["path"], reasons)


def test_the_warehouse_holds_exactly_the_current_values_meant(demo_run):
    cfg, _, files, _, _ = demo_run
    expected: dict[tuple[str, str], dict] = {}
    for f in sorted(files, key=lambda f: (f["arrival"], f["path"])):
        for row in f["rows_valid"]:
            expected[(row["code"], row["period"])] = row
    with connect(cfg) as con:
        rows = con.execute(
            "select target_code, period, value, growth_pct, milestone_status"
            " from staged.observations where is_current and plan_code = 'hongqi-2023'"
        ).fetchall()
        revisions = con.execute(
            "select count(*) from staged.observations where revision_no > 1"
        ).fetchone()[0]
    got = {(c, p): (v, g, s) for c, p, v, g, s in rows}
    assert set(got) == set(expected)
    for key, row in expected.items():
        v, g, s = got[key]
        if row["value"] is not None:
            assert v == pytest.approx(row["value"], rel=1e-9), key
        if row["growth_pct"] is not None:
            assert g == pytest.approx(row["growth_pct"], rel=1e-9), key
        assert s == row["status"], key
    assert revisions == 1


def test_every_target_has_the_status_its_trajectory_was_designed_for(demo_run, hongqi):
    _, manifest, _, _, progress = demo_run
    assert len(progress) == len(hongqi.targets)
    wrong = []
    for rec in progress.to_dict("records"):
        want = manifest["targets"][rec["target_code"]]
        if rec["status"] not in want["expected_status"]:
            wrong.append((rec["target_code"], rec["status"], want["expected_status"]))
        if rec["data_status"] not in want["expected_data_status"]:
            wrong.append((rec["target_code"], rec["data_status"], want["expected_data_status"]))
    assert wrong == []


def test_the_designed_stories_show_as_meant(demo_run):
    _, manifest, _, _, progress = demo_run
    status = dict(zip(progress["target_code"], progress["status"], strict=True))
    stories = {code: t["story"] for code, t in manifest["targets"].items()}
    lagging = [c for c, s in stories.items() if s == "lagging_from"]
    assert lagging and all(status[c] in ("预警", "滞后", "严重滞后") for c in lagging)
    breached = [c for c, s in stories.items() if s == "ceiling_breach"]
    assert breached and all(status[c] in ("滞后", "严重滞后") for c in breached)
