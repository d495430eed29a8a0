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


ROW_RULES = (
    v.Rule(
        "known",
        "critical",
        "row",
        "expect_column_values_to_not_be_null",
        {"column": "a"},
        None,
        "",
        "",
    ),
    v.Rule(
        "listed",
        "critical",
        "row",
        "expect_column_values_to_be_in_set",
        {"column": "b", "value_set": ["x", "y"]},
        None,
        "",
        "",
    ),
    v.Rule(
        "small",
        "warning",
        "row",
        "expect_column_values_to_be_between",
        {"column": "a", "min_value": 0, "max_value": 5},
        None,
        "",
        "",
    ),
    v.Rule(
        "shaped",
        "critical",
        "row",
        "expect_column_values_to_match_regex",
        {"column": "b", "regex": "^[a-z]$"},
        None,
        "",
        "",
    ),
)
ROWS = [
    {"_rid": 0, "a": 1, "b": "x"},
    {"_rid": 1, "a": None, "b": "y"},
    {"_rid": 2, "a": 9, "b": "z"},
    {"_rid": 3, "a": 2, "b": "Q"},
]


def test_gx_validates_our_frames_without_fingerprinting_them(monkeypatch):
    # The fingerprint (a hash of every value, ~15 % of a chunk's validation) is switched off by
    # a module constant of GX; if an upgrade moves it, this fails instead of the cost returning.
    from great_expectations.execution_engine import pandas_execution_engine as engine

    def refuse(df):
        raise AssertionError("GX fingerprinted a frame")

    v._batch_definition()
    monkeypatch.setattr(engine, "hash_pandas_dataframe", refuse)
    files = [v.FileRows([{"_rid": 0, "a": 1}, {"_rid": 1, "a": None}], ["_rid", "a"], {})]
    [[finding]] = v.run_rules_many(files, ROW_RULES[:1])  # "known": a must not be null
    assert finding.rule.id == "known" and finding.rids == [1]


def test_gx_reads_each_expectations_configuration_once_per_call_with_the_same_results(
    monkeypatch,
):
    # GX rebuilt an expectation's configuration (deep copies of its kwargs) once per key it
    # read; validate's readers build it once per call. Same findings and details as GX's own.
    from great_expectations.expectations.expectation import Expectation

    v._batch_definition()
    assert v._one_configuration_per_call(), "GX's readers changed: see validate._GX_READERS"
    built = []
    configuration = Expectation.configuration

    def counted(self):
        built.append(1)
        return configuration.fget(self)

    monkeypatch.setattr(Expectation, "configuration", property(counted))
    frame = v._frame_of(v.FileRows(ROWS, ["_rid", "a", "b"], {}))

    def run():
        built.clear()
        found = v.run_rules(frame, ROW_RULES, {})
        return [(f.rule.id, f.rids, repr(f.details)) for f in found], len(built)  # NaN != NaN

    ours, ours_built = run()
    for name, fn in v._gx["readers"].items():
        monkeypatch.setattr(Expectation, name, fn)
    theirs, theirs_built = run()
    assert ours == theirs
    assert sorted(x[:2] for x in ours) == [
        ("known", [1]),
        ("listed", [2, 3]),
        ("shaped", [3]),
        ("small", [2]),
    ]
    assert ours_built < theirs_built / 2


def test_another_gx_keeps_its_own_kwargs_readers(monkeypatch):
    # The readers replace GX's only over the methods they were written against: a GX whose
    # methods differ (another version) is left as it is.
    from great_expectations.expectations.expectation import Expectation

    v._batch_definition()
    for name, fn in v._gx["readers"].items():
        monkeypatch.setattr(Expectation, name, fn)
    monkeypatch.setitem(v._GX_READERS, "_get_runtime_kwargs", "00000000")
    assert not v._one_configuration_per_call()
    assert all(getattr(Expectation, n) is fn for n, fn in v._gx["readers"].items())
