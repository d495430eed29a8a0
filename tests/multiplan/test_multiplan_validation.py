"""Plans with different targets are validated together, and judged each by its own targets."""

from __future__ import annotations

import pytest
import yaml
from multiplan_helpers import AS_OF, row, write_csv

from kpi.catalogue import load_catalogue
from kpi.ingest import ingest_files, ingest_plans
from kpi.ingest import validate as v


@pytest.fixture
def north(tiny_catalogue, tmp_path):
    """北区's plan: the tiny catalogue without urban_jobs (its other targets, its register)."""
    folder = tmp_path / "catalogue"
    doc = yaml.safe_load((folder / f"{tiny_catalogue.plan.code}.yaml").read_text(encoding="utf-8"))
    doc["plan"].update(code="north-2023", district_zh="北区", name_zh="北区2023年目标任务")
    doc["targets"] = [t for t in doc["targets"] if t["code"] != "urban_jobs"]
    path = folder / "north-2023.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_catalogue(path)


def _files(tmp_path, name: str) -> list:
    folder = tmp_path / name
    return [
        write_csv(folder / "1.csv", [row("人社局", "2023-06", "urban_jobs", "人", 4000)]),
        write_csv(folder / "2.csv", [row("发改委", "2023-06", "investment_total", "亿元", 100)]),
        write_csv(folder / "3.csv", [row("人社局", "2023-06", "no_such_code", "人", 1)]),
    ]


def test_plans_with_different_targets_get_the_receipts_they_get_alone(
    cfg, tiny_catalogue, north, tmp_path, monkeypatch
):
    runs = []
    failures = v._failures

    def counted(frame, suite, rules, index_col):
        runs.append(index_col)
        return failures(frame, suite, rules, index_col)

    monkeypatch.setattr(v, "_failures", counted)
    mine, theirs = _files(tmp_path, "tiny"), _files(tmp_path, "north")
    together = ingest_plans(cfg, [(tiny_catalogue, mine), (north, theirs)], as_of=AS_OF)
    batched_runs = runs.count(v._GID)

    alone = cfg.with_home(tmp_path / "alone")
    one_by_one = [
        [ingest_files(alone, tiny_catalogue, [p], as_of=AS_OF)[0] for p in mine],
        [ingest_files(alone, north, [p], as_of=AS_OF)[0] for p in theirs],
    ]
    assert together == one_by_one
    # urban_jobs is a target of the tiny plan, not of the north plan: each judged by its own.
    assert [r["status"] for r in together[0]] == ["accepted", "accepted", "rejected"]
    assert [r["status"] for r in together[1]] == ["rejected", "accepted", "rejected"]
    # Both plans' rows went through the row rules in one GX run per pass, not one per plan.
    assert batched_runs <= 2


def _rows(values: list, params: dict, columns: list[str]) -> v.FileRows:
    records = [{**dict.fromkeys(columns), "_rid": n, "code": c} for n, c in enumerate(values)]
    return v.FileRows(records, columns, params)


def test_a_set_rule_on_values_that_are_not_text_is_run_per_plan_and_stays_exact():
    rule = v.Rule(
        "code_known",
        "critical",
        "row",
        "expect_column_values_to_be_in_set",
        {"column": "code", "value_set": "$target_codes"},
        "code",
        "",
        "",
    )
    a, b = {"target_codes": ["1", "x"]}, {"target_codes": ["x"]}
    columns = ["_rid", "code"]
    files = [_rows(["x", 1.0, None], a, columns), _rows(["x", "1", 1.0], b, columns)]
    together = v.run_rules_many(files, (rule,))
    alone = [v.run_rules(v._frame_of(f), (rule,), f.params) for f in files]
    assert [[(x.rule.id, x.rids) for x in fs] for fs in together] == [
        [(x.rule.id, x.rids) for x in fs] for fs in alone
    ]
    assert [[x.rids for x in fs] for fs in together] == [[[1]], [[1, 2]]]
