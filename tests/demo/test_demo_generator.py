"""The demo generator: deterministic, complete, and its manifest says exactly what the files hold."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from datetime import date, datetime
from pathlib import Path

import lxml.html
import openpyxl
import pytest

from kpi.catalogue import load_catalogue
from kpi.config import ROOT
from kpi.contract import COLUMNS, STATUS_VOCAB, reporting_months
from kpi.templates import Period, due_targets
from transforms.units import canonical

DEMO = ROOT / "demo"
BY_HEADER = {h.lower(): c.field for c in COLUMNS for h in (c.header_zh, c.field)}
STATUSES = {"已完成", "正常", "预警", "滞后", "严重滞后", "无数据"}


@pytest.fixture(scope="module")
def cat():
    return load_catalogue(ROOT / "catalogue" / "hongqi-2023.yaml")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of a demo output (manifest and submissions) by relative path."""
    files = [folder / "manifest.json", *sorted((folder / "submissions").rglob("*"))]
    return {str(p.relative_to(folder)): p.read_bytes() for p in files if p.is_file()}


def test_generator_is_deterministic_and_matches_the_committed_output(gen, fresh, tmp_path):
    again = tmp_path / "again"
    gen.generate(again)
    first, second = tree(fresh), tree(again)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    committed = tree(DEMO)
    stale = sorted(k for k in first.keys() | committed.keys() if first.get(k) != committed.get(k))
    assert stale == [], (
        "demo/ differs from a fresh run (catalogue or generator changed): run "
        f".venv/bin/python demo/generate.py and commit demo/. First differences: {stale[:5]}"
    )


def test_every_file_in_the_manifest_exists_with_its_hash_and_no_other(fresh, manifest):
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(fresh)) for p in (fresh / "submissions").rglob("*") if p.is_file()}
    assert listed == on_disk
    for f in manifest["files"]:
        data = (fresh / f["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        assert f["path"] == f"submissions/{f['arrival']}/{f['name']}"
    names = [f["name"] for f in manifest["files"]]
    assert len(names) == len(set(names)), "one inbox holds them all: names must not clash"


def test_demo_is_small(manifest):
    assert sum(f["size_bytes"] for f in manifest["files"]) < 3_000_000


def test_manifest_is_pretty_printed_with_sorted_keys(fresh, manifest):
    text = (fresh / "manifest.json").read_text(encoding="utf-8")
    assert text == json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# ----------------------------------------------------------------------------- reading files back


def _number(cell):
    if cell is None or isinstance(cell, int | float):
        return cell
    text = unicodedata.normalize("NFKC", str(cell)).replace(",", "").strip()
    return float(text) if text else None


def _period(cell) -> str:
    m = re.fullmatch(r"(\d{4})(?:-|年1-)(\d{1,2})月?", str(cell).strip())
    return f"{m.group(1)}-{int(m.group(2)):02d}"


def read_rows(path: Path, fmt: str) -> dict[int, dict]:
    """Data rows of a demo file by spreadsheet row number, cells by contract field."""
    if fmt == "xlsx":
        ws = openpyxl.load_workbook(path)["填报表"]
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
    elif fmt == "html":
        doc = lxml.html.document_fromstring(path.read_bytes().decode("utf-8"))
        grid = [[c.text_content() or None for c in tr] for tr in doc.iter("tr")]
    else:
        data = path.read_bytes()
        text = (
            data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else data.decode("gb18030")
        )
        grid = [[c or None for c in r] for r in csv.reader(io.StringIO(text))]
    header_at = next(i for i, r in enumerate(grid) if r and str(r[0]).lower() in BY_HEADER)
    fields = [BY_HEADER[str(h).lower()] for h in grid[header_at]]
    return {
        header_at + 2 + i: dict(zip(fields, r, strict=True))
        for i, r in enumerate(grid[header_at + 1 :])
        if any(r)
    }


def test_valid_rows_of_the_manifest_are_what_the_files_hold(fresh, manifest, cat):
    checked = 0
    for f in manifest["files"]:
        if f["defect"] and f["defect"]["row"] is None:
            continue  # whole file unreadable by design
        rows = read_rows(fresh / f["path"], f["format"])
        assert len(rows) == f["n_rows"], f["name"]
        refused = {r["row"] for r in f["rows_refused"]}
        assert {r["row"] for r in f["rows_valid"]} | refused == set(rows), f["name"]
        for meant in f["rows_valid"]:
            cells = rows[meant["row"]]
            t = cat.target(cells["code"])
            assert cells["code"] == meant["code"]
            assert _period(cells["period"]) == meant["period"]
            assert cat.resolve_department(cells["department"]).code == f["department"]
            assert t.department == f["department"]
            value = _number(cells["value"])
            if value is None:
                assert meant["value"] is None
            else:
                unit, factor = canonical(cells["unit"])
                assert unit == t.canonical_unit == meant["unit"]
                assert value * factor == pytest.approx(meant["value"], rel=1e-9)
            for field in ("growth_pct", "reference_value"):
                assert _number(cells[field]) == meant[field]
            status = cells["status"]
            assert (STATUS_VOCAB[status] if status else None) == meant["status"]
            done = cells["completion_date"]
            if isinstance(done, datetime | date):
                done = done.strftime("%Y-%m-%d")
            assert done == meant["completion_date"]
            checked += 1
    assert checked > 900


def test_each_department_sends_one_file_per_reporting_month_with_the_rows_due(manifest, cat):
    stop_dept = manifest["stopped_department"]["department"]
    stop = manifest["stopped_department"]["from_period"]
    regular = {
        (f["department"], f["period"]): f
        for f in manifest["files"]
        if f["variant"] not in ("correction", "corrupt_file", "empty_file")
    }
    expected = set()
    for d in cat.departments:
        for m in range(1, 13):
            p = Period(2023, m)
            if due_targets(cat, d.code, p) and not (d.code == stop_dept and p.code >= stop):
                expected.add((d.code, p.code))
    assert set(regular) == expected
    for (dept, period), f in regular.items():
        due = [t.code for t in due_targets(cat, dept, Period(2023, int(period[5:])))]
        meant = [r["code"] for r in f["rows_valid"]] + [r["code"] for r in f["rows_refused"]]
        if not f["defect"]:
            assert meant == due, f["name"]
        else:
            assert set(due) - {r["code"] for r in f["rows_refused"]} <= set(meant), f["name"]


def test_january_and_february_are_reported_together_for_growth_and_cumulative(manifest, cat):
    by_period: dict[str, set[str]] = {}
    for f in manifest["files"]:
        for r in f["rows_valid"]:
            by_period.setdefault(r["period"], set()).add(r["code"])
    together = {t.code for t in cat.targets if t.kind in ("growth_rate", "cumulative")}
    monthly = {c for c in together if cat.target(c).cadence == "monthly"}
    assert monthly and not monthly & by_period["2023-01"]
    assert monthly <= by_period["2023-02"]
    assert {
        t.code for t in cat.targets if t.kind == "count" and t.cadence == "monthly"
    } & by_period["2023-01"]


def test_stopped_department_sends_nothing_from_its_stop_month_and_shows_missing(manifest, cat):
    stop = manifest["stopped_department"]
    mine = [f for f in manifest["files"] if f["department"] == stop["department"]]
    assert mine and all(f["period"] < stop["from_period"] for f in mine)
    assert max(f["period"] for f in mine) == f"2023-{int(stop['from_period'][5:]) - 1:02d}"
    for t in cat.targets_of(stop["department"]):
        story = manifest["targets"][t.code]
        assert story["story"] == "stopped_department"
        assert story["expected_data_status"] == ["缺报"]


def test_arrivals_are_on_or_a_few_days_before_the_due_day_and_a_few_late(manifest):
    first = [f for f in manifest["files"] if f["variant"] not in ("resend", "correction")]
    assert 3 <= sum(f["late"] for f in first) <= 8
    for f in manifest["files"]:
        gap = (date.fromisoformat(f["due"]) - date.fromisoformat(f["arrival"])).days
        assert f["late"] == (gap < 0), f["name"]
        if f in first:
            assert (-3 <= gap < 0) if f["late"] else (0 <= gap <= 4), f["name"]


# ----------------------------------------------------------------------------- defects and variants


def test_every_defect_kind_is_present_and_really_in_its_file(gen, fresh, manifest, cat):
    defects = {f["defect"]["code"]: f for f in manifest["files"] if f["defect"]}
    assert sorted(defects) == sorted(gen.DEFECTS) == manifest["defect_kinds"]
    for code, f in defects.items():
        path, d = fresh / f["path"], f["defect"]
        assert d["reason_keyword"] and re.search(r"[\u4e00-\u9fff]", d["reason_keyword"])
        if code == "empty_file":
            assert path.stat().st_size == 0
            continue
        if code == "corrupt_file":
            with pytest.raises(zipfile.BadZipFile):
                zipfile.ZipFile(path)
            continue
        rows = read_rows(path, f["format"])
        cell = rows[d["row"]]
        assert d["column"] == next(c.header_zh for c in COLUMNS if c.field == d["field"])
        if code == "bad_number":
            assert cell["value"] == "1,2x3"
        elif code == "unit_mismatch":
            assert cell["unit"] == "吨" and cat.target(cell["code"]).unit == "亿元"
        elif code == "unknown_code":
            assert cell["code"] not in {t.code for t in cat.targets}
        elif code == "future_period":
            assert cell["period"] > manifest["as_of"][:7] and cell["period"] > f["period"]
        elif code == "wrong_department":
            assert cat.target(cell["code"]).department != f["department"]
            assert cat.resolve_department(cell["department"]).code == f["department"]
        elif code == "duplicate_row":
            a, b = (rows[r] for r in d["rows"])
            assert (a["code"], a["period"]) == (b["code"], b["period"])
            assert a["value"] != b["value"]
        assert d["row"] in {r["row"] for r in f["rows_refused"]}


def test_unreadable_files_are_followed_by_a_good_copy(manifest):
    for f in manifest["files"]:
        if f["defect"] and f["defect"]["row"] is None:
            copies = [
                g
                for g in manifest["files"]
                if g["variant"] == "resend"
                and (g["department"], g["period"]) == (f["department"], f["period"])
            ]
            assert len(copies) == 1 and copies[0]["arrival"] > f["arrival"]
            assert copies[0]["rows_valid"]


def test_the_variants_people_send_are_all_there(fresh, manifest):
    by_variant = {f["variant"]: f for f in manifest["files"]}
    gb = fresh / by_variant["csv_gb18030_english"]["path"]
    text = gb.read_bytes().decode("gb18030")
    assert not gb.read_bytes().startswith(b"\xef\xbb\xbf") and text.startswith(
        "department,period,code"
    )
    with pytest.raises(UnicodeDecodeError):
        gb.read_bytes().decode("utf-8")
    bom = (fresh / by_variant["csv_utf8_bom_formatted"]["path"]).read_bytes()
    assert bom.startswith(b"\xef\xbb\xbf")
    assert re.search(r'"\d{1,3}(,\d{3})+(\.\d+)?"', bom.decode("utf-8-sig"))
    assert re.search("[０-９]", bom.decode("utf-8-sig"))
    assert "2023年1-6月" in str(read_rows(fresh / by_variant["period_range_zh"]["path"], "xlsx"))
    wan = read_rows(fresh / by_variant["unit_wan_yuan"]["path"], "xlsx")
    assert any(r["unit"] == "万元" for r in wan.values())
    html = by_variant["html_xls"]
    assert html["name"].endswith(".xls") and (fresh / html["path"]).read_bytes().startswith(
        b"<html"
    )


def test_a_corrected_resubmission_changes_exactly_one_value(manifest):
    (fix,) = [f for f in manifest["files"] if f["variant"] == "correction"]
    (orig,) = [
        f for f in manifest["files"] if f["name"] == fix["revises"] and f["period"] == fix["period"]
    ]
    assert orig["department"] == fix["department"] and orig["arrival"] < fix["arrival"]
    pairs = list(zip(orig["rows_valid"], fix["rows_valid"], strict=True))
    changed = [(a, b) for a, b in pairs if a != b]
    assert len(changed) == 1
    (a, b), (rev,) = changed[0], manifest["revisions"]
    assert (rev["code"], rev["period"]) == (a["code"], a["period"])
    assert (rev["first_value"], rev["revised_value"]) == (a["value"], b["value"])
    assert b["value"] < a["value"]


# ----------------------------------------------------------------------------- stories


def test_designed_stories_are_told_and_every_target_has_an_expected_status(gen, manifest, cat):
    targets = manifest["targets"]
    assert set(targets) == {t.code for t in cat.targets}
    for code, story in gen.DESIGNED_STORIES.items():
        assert targets[code]["story"] == story.name
    for t in targets.values():
        assert t["expected_status"] and set(t["expected_status"]) <= STATUSES
    lagging = [t for t in targets.values() if t["story"] == "lagging_from"]
    assert len(lagging) >= 3
    for t in lagging:
        assert t["designed_status"] in t["expected_status"]
        assert set(t["expected_status"]) <= {"预警", "滞后", "严重滞后"}
    (rec,) = [t for t in targets.values() if t["story"] == "recovers"]
    assert rec["expected_status"] == ["正常"]
    assert set(*rec["behind_before"].values()) <= {"滞后", "严重滞后"}
    on_pace = [t for t in targets.values() if t["story"] == "on_pace"]
    assert len(on_pace) > len(targets) / 3
    assert all("正常" in t["expected_status"] for t in on_pace)


def _rows_of(manifest, code):
    return [r for f in manifest["files"] for r in f["rows_valid"] if r["code"] == code]


def test_ceiling_breach_and_late_milestone_are_in_the_data(gen, manifest, cat):
    for code, story in gen.DESIGNED_STORIES.items():
        t = cat.target(code)
        rows = _rows_of(manifest, code)
        if story.name == "ceiling_breach":
            over = {r["period"] for r in rows if r["value"] > t.canonical_value}
            assert over == {f"2023-{story.month:02d}"}
        if story.name in ("milestone_late", "milestone_on_time"):
            done = {r["completion_date"] for r in rows if r["status"] == "done"}
            assert len(done) == 1
            late = done.pop() > t.deadline.isoformat()
            assert late == (story.name == "milestone_late")
            assert manifest["targets"][code]["done_on"] == story.done_on.isoformat()


def test_growth_rates_are_volatile_early_and_near_target_by_mid_year(manifest, cat):
    early_miss, june = 0, []
    for t in cat.targets:
        if t.kind != "growth_rate" or manifest["targets"][t.code]["story"] != "on_pace":
            continue
        rows = {r["period"]: r["growth_pct"] for r in _rows_of(manifest, t.code)}
        early = [rows[p] for p in ("2023-02", "2023-03") if p in rows]
        early_miss += sum(g < t.value for g in early)
        june.append(rows["2023-06"] - t.value)
    assert early_miss >= 1, "some on-pace growth rate dips below target early in the year"
    assert all(0 < gap <= 2 for gap in june)


def test_milestone_and_cumulative_values_never_go_backwards(manifest, cat):
    for t in cat.targets:
        if t.kind not in ("cumulative", "count"):
            continue
        current: dict[str, float] = {}
        for f in manifest["files"]:
            for r in f["rows_valid"]:
                if r["code"] == t.code:
                    current[r["period"]] = r["value"]
        values = [current[p] for p in sorted(current)]
        assert values == sorted(values), t.code
        months = {int(p[5:]) for p in current}
        assert months <= set(reporting_months(t.kind, t.cadence))
