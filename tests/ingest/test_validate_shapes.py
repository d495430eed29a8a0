"""Shape rules are answered once per class of files, with the verdicts of each file's own run."""

from __future__ import annotations

from kpi.ingest import validate as v


def _rule(rule_id: str, expect: str, kwargs: dict) -> v.Rule:
    return v.Rule(rule_id, "critical", "file", expect, kwargs, None, "", "")


RULES = (
    _rule("cols", "expect_table_columns_to_match_set", {"column_set": ["a"], "exact_match": False}),
    _rule("rows", "expect_table_row_count_to_be_between", {"min_value": 2, "max_value": 5}),
    _rule("three", "expect_table_row_count_to_equal", {"value": 3}),
)


def _file(n: int, columns: list[str]) -> v.FileRows:
    return v.FileRows([{**dict.fromkeys(columns), "_rid": i} for i in range(n)], columns, {})


def test_each_row_count_gets_the_findings_of_its_own_gx_run(monkeypatch):
    runs = []
    run_rules = v.run_rules

    def counted(frame, rules, params):
        runs.append(len(frame))
        return run_rules(frame, rules, params)

    files = [_file(n, cols) for n in range(9) for cols in (["_rid", "a"], ["_rid", "b"])]
    v._shape_result.cache_clear()
    monkeypatch.setattr(v, "run_rules", counted)
    together = v.run_rules_many(files, RULES)
    monkeypatch.setattr(v, "run_rules", run_rules)
    alone = [v.run_rules(v._frame_of(f), RULES, {}) for f in files]

    def seen(findings):
        return [(x.rule.id, x.details.get("observed_value")) for x in findings]

    assert [seen(x) for x in together] == [seen(x) for x in alone]
    assert seen(together[2 * 7]) == [("rows", 7), ("three", 7)]  # 7 rows: above both bounds
    # 0, 1 | 2 | 3 | 4 | 5 | 6, 7, 8 rows: six classes for each of the two column sets.
    assert sorted(runs) == sorted([0, 2, 3, 4, 5, 6] * 2)


def test_gx_validates_our_frames_without_fingerprinting_them(monkeypatch):
    # The fingerprint (a hash of every value, ~15 % of a chunk's validation) is switched off by
    # a module constant of GX; if an upgrade moves it, this fails instead of the cost returning.
    from great_expectations.execution_engine import pandas_execution_engine as engine

    def refuse(df):
        raise AssertionError("GX fingerprinted a frame")

    v._batch_definition()
    monkeypatch.setattr(engine, "hash_pandas_dataframe", refuse)
    rule = v.Rule(
        "a_known",
        "critical",
        "row",
        "expect_column_values_to_not_be_null",
        {"column": "a"},
        None,
        "",
        "",
    )
    files = [v.FileRows([{"_rid": 0, "a": 1}, {"_rid": 1, "a": None}], ["_rid", "a"], {})]
    [[finding]] = v.run_rules_many(files, (rule,))
    assert finding.rule.id == "a_known" and finding.rids == [1]
