"""The bundled hongqi-2023 catalogue: complete, faithful to the report, and printed by `kpi targets`."""

from __future__ import annotations

import json
import os

from kpi.catalogue import NUMERIC_KINDS, squash
from kpi.config import ROOT

HEADLINES = {
    "GDP": 8.5,
    "研发经费": 20,
    "规模以上工业增加值": 10,
    "固定资产投资": 15,
    "社会消费品零售总额": 10,
    "一般公共预算收入": 8,
}


def test_every_source_sentence_is_found_in_the_report(hongqi):
    report = squash((ROOT / "catalogue" / "hongqi-2023.report.txt").read_text(encoding="utf-8"))
    missing = [t.code for t in hongqi.targets if squash(t.source) not in report]
    assert missing == []


def test_at_least_75_targets_carry_a_number_or_a_deadline(hongqi):
    end = hongqi.plan.end
    # A milestone always carries its own date (年内 is a date: 31 December).
    dated = [
        t
        for t in hongqi.targets
        if t.value is not None or t.kind == "milestone" or t.deadline < end
    ]
    assert len(dated) >= 75


def test_the_six_headline_growth_rates_have_the_right_comparator_and_value(hongqi):
    rates = [t for t in hongqi.targets if t.headline and t.kind == "growth_rate"]
    assert len(rates) == 6
    for words, value in HEADLINES.items():
        hits = [t for t in rates if words in t.source or words in t.name_zh]
        assert len(hits) == 1, words
        assert hits[0].comparator == ">=" and hits[0].value == value and hits[0].unit == "%"


def test_every_kind_has_its_required_fields(hongqi):
    for t in hongqi.targets:
        if t.kind in NUMERIC_KINDS:
            assert t.value is not None and t.unit and t.comparator != "done", t.code
        else:
            assert t.value is None and t.comparator == "done", t.code
        if t.kind == "relative":
            assert t.reference, t.code
    assert {t.kind for t in hongqi.targets} >= {
        "growth_rate",
        "cumulative",
        "count",
        "level",
        "ceiling",
        "milestone",
        "relative",
        "qualitative",
    }


def test_checkable_commitments_without_a_number_are_flagged_qualitative(hongqi):
    assert sum(t.kind == "qualitative" for t in hongqi.targets) >= 20


def test_every_department_named_is_in_the_register(hongqi):
    codes = {d.code for d in hongqi.departments}
    named = {t.department for t in hongqi.targets} | {
        s for t in hongqi.targets for s in t.supporting
    }
    assert named <= codes
    assert "dcj" in codes  # the supervision office receives escalations


def test_kpi_targets_json_lists_the_required_fields(forks):
    done = forks.run(["targets", "--json"], dict(os.environ))  # a process of its own
    assert done.returncode == 0, done.stderr
    out = done.stdout
    rows = json.loads(out)
    required = {
        "code",
        "name_zh",
        "kind",
        "comparator",
        "value",
        "unit",
        "deadline",
        "department",
        "cadence",
        "source",
    }
    assert rows and all(required <= row.keys() for row in rows)
    assert len({r["code"] for r in rows}) == len(rows)


def test_kpi_targets_prints_a_table(forks):
    done = forks.run(["targets"], {"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "完成投资" in out and "牵头单位" in out
