"""The readable suites in expectations/*.yaml, built into Great Expectations suites and run.

GX is imported only when a suite runs (the import alone costs about 2.5 s).
"""

from __future__ import annotations

import json
import operator
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from kpi.config import ROOT
from kpi.ingest.frame import packed

SUITE_DIR = ROOT / "expectations"
SEVERITIES = ("critical", "warning")
SCOPES = ("row", "file")
_RID = "_rid"  # the frame's row id, reported back by GX for every failing row


@dataclass(frozen=True)
class Rule:
    """One expectation of a suite with its severity and how to explain a failure."""

    id: str
    severity: str
    scope: str
    expect: str
    kwargs: dict
    column: str | None
    reason: str
    reason_empty: str


@dataclass
class Finding:
    """A failed rule: the frame's row ids that broke it (none for a file-level rule)."""

    rule: Rule
    rids: list[int]
    details: dict


@lru_cache(maxsize=8)
def load_rules(name: str = "submission", folder: Path = SUITE_DIR) -> tuple[Rule, ...]:
    """The rules of expectations/<name>.yaml, checked for the fields every rule needs."""
    doc = yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))
    rules = []
    for e in doc["expectations"]:
        rule = Rule(
            id=e["id"],
            severity=e["severity"],
            scope=e.get("scope", "row"),
            expect=e["expect"],
            kwargs=dict(e.get("kwargs") or {}),
            column=e.get("column"),
            reason=e.get("reason", ""),
            reason_empty=e.get("reason_empty", e.get("reason", "")),
        )
        if rule.severity not in SEVERITIES or rule.scope not in SCOPES:
            raise ValueError(f"{name}.yaml rule {rule.id}: bad severity or scope")
        if not rule.expect.startswith("expect_"):
            raise ValueError(f"{name}.yaml rule {rule.id}: 'expect' names a GX expectation")
        rules.append(rule)
    if len({r.id for r in rules}) != len(rules):
        raise ValueError(f"{name}.yaml: duplicate rule ids")
    return tuple(rules)


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _bind(value: Any, params: dict) -> Any:
    """Replace '$name' strings (also inside lists) by run-time values."""
    if isinstance(value, str) and value.startswith("$"):
        return params[value[1:]]
    if isinstance(value, list):
        return [_bind(v, params) for v in value]
    return value


_lock = threading.Lock()
_gx: dict[str, Any] = {}


def _batch_definition():
    """One ephemeral GX context per process with a pandas data source for submissions."""
    with _lock:
        if "bd" not in _gx:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            _no_fingerprint()
            _one_configuration_per_call()
            ctx = gx.get_context(mode="ephemeral")
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
            asset = ctx.data_sources.add_pandas("submissions").add_dataframe_asset("rows")
            _gx["gx"] = gx
            _gx["bd"] = asset.add_batch_definition_whole_dataframe("file")
        return _gx["gx"], _gx["bd"]


def _no_fingerprint() -> None:
    """Stop GX hashing every value of each frame it is given (a batch label nothing here reads).

    GX fingerprints a pandas batch whose memory is under HASH_THRESHOLD, on every get_batch and
    every validate: ~15 % of a chunk's validation (BENCHMARKS.md, eighth pass). No setting turns
    it off; the threshold is the one switch. A test fails if an upgrade moves or renames it.
    """
    from great_expectations.execution_engine import pandas_execution_engine as engine

    if not hasattr(engine, "HASH_THRESHOLD"):
        raise RuntimeError("great_expectations moved HASH_THRESHOLD: see kpi.ingest.validate")
    engine.HASH_THRESHOLD = 0


# GX's Expectation.configuration rebuilds an ExpectationConfiguration (a pydantic dict(), deep
# copies of every kwarg, a province's value sets included) on every access, and three of its
# readers access it once per key in a dict comprehension: ~8,600 builds a 3-chunk slice, ~20 %
# of validation (BENCHMARKS.md, ninth pass). The replacements below read it once per call and
# return the same values: each call still gets a configuration of its own, never a shared one
# (GX assigns to configurations elsewhere, e.g. rendered_content). Installed only over the exact
# methods they were written against (source hashes); any other GX keeps its own.
_GX_READERS = {
    "_get_success_kwarg": "baef37a1",
    "_get_domain_kwargs": "91ad2a06",
    "_get_success_kwargs": "fe376905",
    "_get_runtime_kwargs": "4196ca2a",
}


def _kwarg(self, kwargs: dict, key: str, default: Any = None) -> Any:
    """GX's _get_success_kwarg over configuration kwargs already built."""
    if key in kwargs:
        return kwargs[key]
    field = self.__fields__.get(key)
    if field is not None:
        return field.default if not field.required else default
    return _gx["readers"]["_get_success_kwarg"](self, key, default)  # unknown key: GX's warning


def _domain_of(self, kwargs: dict) -> dict:
    return {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}


def _success_of(self, kwargs: dict) -> dict:
    out = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    out.update(_domain_of(self, kwargs))
    return out


def _success_kwarg(self, key: str, default: Any = None) -> Any:
    return _kwarg(self, self.configuration.kwargs, key, default)


def _domain_kwargs(self) -> dict:
    return _domain_of(self, self.configuration.kwargs)


def _success_kwargs(self) -> dict:
    return _success_of(self, self.configuration.kwargs)


def _runtime_kwargs(self, runtime_configuration: dict | None = None) -> dict:
    from great_expectations.expectations.expectation import parse_result_format

    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs
    success = _success_of(self, kwargs)
    out = {
        key: runtime_configuration.get(key, _kwarg(self, kwargs, key)) for key in self.runtime_keys
    }
    out.update(success)
    out["result_format"] = parse_result_format(out["result_format"])
    return out


_REPLACEMENTS = {
    "_get_success_kwarg": _success_kwarg,
    "_get_domain_kwargs": _domain_kwargs,
    "_get_success_kwargs": _success_kwargs,
    "_get_runtime_kwargs": _runtime_kwargs,
}


def _source_hash(fn) -> str:
    import hashlib
    import inspect

    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:8]


def _one_configuration_per_call() -> bool:
    """Install the readers above over GX's, if GX's are the ones they replace; True if done."""
    from great_expectations.expectations.expectation import Expectation

    current = {name: getattr(Expectation, name) for name in _GX_READERS}
    if all(fn is _REPLACEMENTS[name] for name, fn in current.items()):
        return True
    if any(_source_hash(fn) != _GX_READERS[name] for name, fn in current.items()):
        return False  # another GX: its own methods, as they are
    _gx["readers"] = current
    for name, fn in _REPLACEMENTS.items():
        setattr(Expectation, name, fn)
    return True


def warm_up() -> None:
    """Import GX and build its context now (the first validation would otherwise pay it)."""
    _batch_definition()


def build_suite(rules: tuple[Rule, ...], params: dict, name: str = "submission"):
    """A GX ExpectationSuite from the rules, with run-time values bound in (cached)."""
    return _bound_suite([(r, _bound_kwargs(r, params)) for r in rules], name)


def _bound_kwargs(rule: Rule, params: dict) -> dict:
    """The rule's kwargs with its '$name' run-time values bound."""
    return {k: _bind(v, params) for k, v in rule.kwargs.items()}


def _bound_suite(bound_rules: list[tuple[Rule, dict]], name: str = "submission"):
    """A GX suite of rules whose kwargs are bound already (cached)."""
    # Building a suite validates every expectation with pydantic (~0.15 s for this suite); a
    # backfill validates the same rules with the same values chunk after chunk.
    key = json.dumps(
        [name, [(r.id, r.expect, r.severity, kw) for r, kw in bound_rules]],
        sort_keys=True,
        default=str,
    )
    with _lock:
        hit = _suites.get(key)
    if hit is None:
        gx, _ = _batch_definition()
        hit = gx.ExpectationSuite(name=name)
        for rule, kwargs in bound_rules:
            cls = getattr(gx.expectations, _camel(rule.expect))
            hit.add_expectation(cls(**kwargs, meta={"id": rule.id, "severity": rule.severity}))
        with _lock:
            if len(_suites) >= 64:  # a long-lived process: forget old runs' suites
                _suites.clear()
                _parts.clear()
            _suites[key] = hit
    return hit


_suites: dict[str, Any] = {}
_parts: dict[tuple[int, tuple[str, ...]], tuple[Any, Any]] = {}  # (suite, part of it) by ids


def _part(suite, ids: tuple[str, ...]):
    """The suite's expectations with these rule ids, as a suite of their own (cached)."""
    key = (id(suite), ids)
    with _lock:
        hit = _parts.get(key)
    # The suite itself is kept beside its part: an id is unique only while its object lives.
    if hit is None or hit[0] is not suite:
        gx, _ = _batch_definition()
        part = gx.ExpectationSuite(name=suite.name)
        for e in suite.expectations:
            if e.meta["id"] in ids:
                part.add_expectation(e.copy())
        hit = (suite, part)
        with _lock:
            _parts[key] = hit
    return hit[1]


def run_rules(frame: pd.DataFrame, rules: tuple[Rule, ...], params: dict) -> list[Finding]:
    """Validate the frame with GX; return every failed rule with its failing rows."""
    findings = []
    for rule, rids, result in _failures(frame, build_suite(rules, params), rules, _RID):
        if rule.scope == "row" and not rids:
            # A row rule failing without failing rows means it could not look (e.g. a column
            # missing from the frame): a bug, never a pass and never a silent refusal.
            raise RuntimeError(f"expectation {rule.id} failed without rows: {result}")
        findings.append(Finding(rule, sorted(set(rids)), result))
    return findings


def _failures(frame: pd.DataFrame, suite, rules, index_col: str):
    """Run a suite on a frame; yield (rule, failing index values, result) per failed rule."""
    _, bd = _batch_definition()
    by_id = {r.id: r for r in rules}
    batch = bd.get_batch(batch_parameters={"dataframe": frame})
    # Twice: every rule for its verdict alone, then the failed ones for their failing rows. Most
    # rules pass, and the rows (unexpected values, index lists) cost GX several metrics per
    # rule: ~20 % of a chunk's validation (BENCHMARKS.md). A verdict is the same either way.
    quick = batch.validate(suite, result_format={"result_format": "BOOLEAN_ONLY"})
    failed = tuple(r.expectation_config.meta["id"] for r in _ran(quick, by_id) if not r.success)
    if not failed:
        return
    result = batch.validate(
        _part(suite, failed),
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [index_col]},
    )
    for r in _ran(result, by_id):
        rule = by_id[r.expectation_config.meta["id"]]
        if not r.success:
            ids = [int(i[index_col]) for i in (r.result.get("unexpected_index_list") or [])]
            yield rule, ids, dict(r.result)


def _ran(result, by_id: dict):
    """The results of a validation; a rule that could not run is an error, never a pass."""
    for r in result.results:
        if r.exception_info.get("raised_exception"):
            rule = by_id[r.expectation_config.meta["id"]]
            raise RuntimeError(f"expectation {rule.id} failed to run: {r.exception_info}")
    return result.results


# --- many files in one validation --------------------------------------------------------------
# GX's cost is mostly per call and per expectation (building the metric graph), hardly per row:
# ~0.6 s for this suite whether a frame has 10 rows or 10,000. Batch ingestion therefore runs
# the row rules once over the rows of many files. That is exact only for rules whose verdict on
# a row depends on that row alone (ROW_LOCAL), or that are made per file by adding the file's
# key (FILE_KEYED). Rules about a file's shape are answered once per distinct shape
# (SHAPE_ONLY). Any other rule is run file by file as before: slower, never wrong.
ROW_LOCAL = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_values_to_match_strftime_format",
        "expect_column_values_to_be_dateutil_parseable",
        "expect_column_values_to_be_json_parseable",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_in_set",
        "expect_multicolumn_sum_to_equal",
        "expect_select_column_values_to_be_unique_within_record",
    }
)
FILE_KEYED = frozenset({"expect_compound_columns_to_be_unique"})
SHAPE_ONLY = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_column_count_to_be_between",
        "expect_table_column_count_to_equal",
        "expect_table_row_count_to_be_between",
        "expect_table_row_count_to_equal",
        "expect_column_to_exist",
    }
)
_FILE = "_file"  # which file of the batch a row belongs to
_GID = "_gid"  # the row's position in the batch, reported back by GX
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_LIST_KWARGS = ("column_list",)


class FileRows:
    """The rows of one file for batch validation: build_frame's rows, its columns, its params.

    Rows are held as the parsing workers send them, one tuple per row over `keys`
    (kpi.ingest.frame.packed); given as dicts (tests, benchmarks), they are packed the same way.
    Dicts are built again only for a file whose rows are reported one by one (`records`).
    """

    __slots__ = ("keys", "rows", "columns", "params", "previous", "_at")

    def __init__(
        self,
        records: list,
        columns: list[str],
        params: dict,
        *,
        keys: tuple[str, ...] | None = None,
    ):
        if keys is None:
            keys, records = packed(records, columns)
        self.keys, self.rows, self.columns, self.params = keys, records, columns, params
        # (previous_value, previous_period) per row once the warehouse's values are known: the
        # frame's two PREVIOUS columns (frame.add_previous).
        self.previous: list[tuple] | None = None
        self._at: dict[str, int] | None = None

    def index(self) -> dict[str, int]:
        """Key -> its position in a row (shared by the files of one shape)."""
        if self._at is None:
            self._at = _index(self.keys)
        return self._at

    def column(self, name: str) -> Sequence:
        """One column's values, row by row (None where the rows do not hold it)."""
        return self.values([name])[0]

    def values(self, names: list[str]) -> list[Sequence]:
        """The columns' values, one sequence per name: what a frame of these rows would hold."""
        n = len(self.rows)
        if not n:
            return [[] for _ in names]
        at = self.index()
        later = self.previous is not None
        held = [c for c in names if c in at and not (later and c in _PREVIOUS)]
        # Only the columns asked for are picked from the rows (a row holds some 60).
        if len(held) == 1:
            i = at[held[0]]
            picked = {held[0]: [row[i] for row in self.rows]}
        elif held:
            get = operator.itemgetter(*(at[c] for c in held))
            picked = dict(zip(held, zip(*map(get, self.rows), strict=True), strict=True))
        else:
            picked = {}
        out: list[Sequence] = []
        for c in names:
            if c in picked:
                out.append(picked[c])
            elif later and c in _PREVIOUS:
                i = _PREVIOUS[c]
                out.append([p[i] for p in self.previous])
            else:
                out.append([None] * n)
        return out

    def tuples(self, names: list[str]) -> list[tuple]:
        """The rows as tuples of these columns: zip(*values(names)), without the columns between."""
        at = self.index()
        later = self.previous is not None and not _PREVIOUS.keys().isdisjoint(names)
        if len(names) > 1 and not later and all(c in at for c in names):
            return list(map(operator.itemgetter(*(at[c] for c in names)), self.rows))
        return list(zip(*self.values(names), strict=True))

    @property
    def records(self) -> list[dict]:
        """One dict per row, the previous-period columns included once known."""
        out = [dict(zip(self.keys, row, strict=True)) for row in self.rows]
        if self.previous is not None:
            for rec, (value, period) in zip(out, self.previous, strict=True):
                rec["previous_value"], rec["previous_period"] = value, period
        return out


_PREVIOUS = {"previous_value": 0, "previous_period": 1}


@lru_cache(maxsize=256)
def _index(keys: tuple[str, ...]) -> dict[str, int]:
    return {k: i for i, k in enumerate(keys)}


def rule_columns(rule: Rule) -> set[str]:
    """The frame columns a rule reads."""
    cols = {rule.kwargs[k] for k in _COLUMN_KWARGS if isinstance(rule.kwargs.get(k), str)}
    for k in _LIST_KWARGS:
        cols |= {c for c in rule.kwargs.get(k) or [] if isinstance(c, str)}
    return cols


def _batchable(rule: Rule) -> bool:
    if rule.scope != "row" or rule.kwargs.get("mostly", 1) != 1:
        return False
    if rule.expect in ROW_LOCAL:
        return True
    # Adding the file key changes which rows are ignored unless one missing value suffices.
    return rule.expect in FILE_KEYED and rule.kwargs.get("ignore_row_if") in (
        "any_value_is_missing",
        "never",
    )


def _keyed(rule: Rule) -> Rule:
    if rule.expect not in FILE_KEYED:
        return rule
    kwargs = dict(rule.kwargs, column_list=[_FILE, *rule.kwargs["column_list"]])
    return replace(rule, kwargs=kwargs)


def _params_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def run_rules_many(files: list[FileRows], rules: tuple[Rule, ...]) -> list[list[Finding]]:
    """run_rules for many files at once: the same findings per file, in the suite's order."""
    out: list[list[Finding]] = [[] for _ in files]
    groups: dict[str, list[int]] = {}
    keys: dict[int, str] = {}  # files of a plan share one params dict: serialise it once
    for i, f in enumerate(files):
        key = keys.get(id(f.params))
        if key is None:
            key = keys[id(f.params)] = _params_key(f.params)
        groups.setdefault(key, []).append(i)
    batched = [r for r in rules if _batchable(r)]
    needed = set().union(*(rule_columns(r) for r in batched)) if batched else set()
    shape = tuple(r for r in rules if _shape_rule(r))
    single = [r for r in rules if not _batchable(r) and not _shape_rule(r)]
    together: list[int] = []
    has: dict[tuple[str, ...], bool] = {}  # a chunk's files share a few column lists
    for idxs in groups.values():
        params = files[idxs[0]].params
        # A rule would miss its column: as before. A set: a chunk holds thousands of files, and
        # membership in a list made this quadratic (~8% of a backfill's time, BENCHMARKS.md).
        mine = [i for i in idxs if _has_all(needed, files[i].columns, has)]
        alone = set(idxs).difference(mine)
        together.extend(mine)
        if shape:
            bound = _shape_bound(shape, params)  # once per group: per file it was ~5% of a backfill
            for i in idxs:
                out[i].extend(_shape_findings(shape, bound, files[i]))
        for i in idxs:
            todo = single + (batched if i in alone else [])
            if todo:
                frame = _frame_of(files[i])
                out[i].extend(run_rules(frame, tuple(todo), params))
    if batched and together:
        # The files of every plan together: a province's chunk holds many plans' files.
        for i, finding in _run_together([files[i] for i in together], batched):
            out[together[i]].append(finding)
    order = {r.id: n for n, r in enumerate(rules)}
    for findings in out:
        findings.sort(key=lambda f: order[f.rule.id])
    return out


def _has_all(needed: set[str], columns: list[str], seen: dict) -> bool:
    """needed <= set(columns), remembered per column list (a set per file cost ~3 µs)."""
    key = tuple(columns)
    hit = seen.get(key)
    if hit is None:
        hit = seen[key] = needed <= set(key)
    return hit


def _shape_rule(rule: Rule) -> bool:
    return rule.scope == "file" and rule.expect in SHAPE_ONLY and rule.kwargs.get("mostly", 1) == 1


def _frame_of(f: FileRows) -> pd.DataFrame:
    if not f.rows:
        return pd.DataFrame(columns=f.columns)
    return pd.DataFrame.from_records(f.records, columns=f.columns)


def _shape_bound(rules: tuple[Rule, ...], params: dict) -> tuple[tuple[str, str, str], ...]:
    """(id, expectation, kwargs bound and serialised) of the shape rules, for _shape_result."""
    return tuple((r.id, r.expect, _params_key(_bound_kwargs(r, params))) for r in rules)


def _shape_findings(rules: tuple[Rule, ...], bound: tuple, f: FileRows) -> list[Finding]:
    """The shape rules' findings for a file, from one GX run per distinct shape (cached)."""
    n = len(f.rows)
    like = _row_class(bound, n)
    failed = _shape_result(bound, tuple(f.columns), like)
    by_id = {r.id: r for r in rules}
    out = []
    for rule_id, details in failed:
        if like != n and by_id[rule_id].expect in _ROW_COUNT:
            details = dict(details, observed_value=n)  # what GX would say of this file
        out.append(Finding(by_id[rule_id], [], details))
    return out


_ROW_COUNT = frozenset({"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"})
_ROW_COUNT_KWARGS = frozenset({"min_value", "max_value", "strict_min", "strict_max", "value"})


@lru_cache(maxsize=4096)  # per file it was ~0.1 s a chunk (a json.loads per rule and file)
def _row_class(bound: tuple, n: int) -> int:
    """The fewest rows a file can have and get the same verdicts as one of n rows from `bound`.

    The row-count rules compare n with their bounds only, so one GX run stands for every file
    on the same side of each bound (a backfill's files had 17 distinct row counts, each a run).
    """
    marks = set()
    for _, expect, kwargs in bound:
        if expect not in _ROW_COUNT:
            continue
        kw = json.loads(kwargs)
        if not set(kw) <= _ROW_COUNT_KWARGS:
            return n  # an argument this does not understand: the file's own count
        for k in ("min_value", "max_value", "value"):
            t = kw.get(k)
            if t is None:
                continue
            if not isinstance(t, int) or isinstance(t, bool):
                return n
            marks.add(t)
    if not marks:
        return n

    def side(x: int) -> tuple[int, ...]:
        return tuple((x > t) - (x < t) for t in sorted(marks))

    mine = side(n)
    return min(x for x in {0, n, *marks, *(t + 1 for t in marks)} if x >= 0 and side(x) == mine)


@lru_cache(maxsize=4096)
def _shape_result(
    bound: tuple[tuple[str, str, str], ...], columns: tuple[str, ...], n_rows: int
) -> tuple[tuple[str, dict], ...]:
    """(rule id, details) of the shape rules failing on a file of these columns and rows."""
    frame = pd.DataFrame(index=range(n_rows), columns=list(columns))
    rules = tuple(
        Rule(rule_id, "critical", "file", expect, json.loads(kwargs), None, "", "")
        for rule_id, expect, kwargs in bound
    )
    findings = run_rules(frame, rules, {})  # kwargs are bound already
    return tuple((f.rule.id, f.details) for f in findings)


# Set rules whose set differs between plans (each plan's target codes) still run once for all
# plans: the value and the set are both prefixed with the row's plan group, which is exact for
# text (a value is in its own plan's set iff the prefixed value is in the prefixed union).
_KEYABLE = frozenset({"expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"})
_SEP = "\x1f"  # the group number ends at the first one: no value can pass for another group's


def _run_together(files: list[FileRows], rules: list[Rule]) -> list[tuple[int, Finding]]:
    """Row rules over the rows of many files (of any plans) in one GX validation; per file."""
    gids: dict[int, int] = {}  # id(params) -> the params group of the file's plan
    by_key: dict[str, int] = {}  # plans with equal values share a group
    group_params: list[dict] = []
    for f in files:
        if id(f.params) not in gids:
            key = _params_key(f.params)
            if key not in by_key:
                by_key[key] = len(group_params)
                group_params.append(f.params)
            gids[id(f.params)] = by_key[key]
    file_gid = [gids[id(f.params)] for f in files]
    columns = sorted(set().union(*(rule_columns(r) for r in rules)))
    data = _columns_of(files, [*columns, _RID])
    row_file = [i for i, f in enumerate(files) for _ in range(len(f.rows))]
    owner = list(zip(row_file, data.pop(_RID), strict=True))
    row_gid = [file_gid[i] for i in row_file]

    uniform: list[tuple[Rule, dict]] = []  # (rule, kwargs bound), one expectation for all rows
    apart: list[Rule] = []  # bound differently per plan and not keyable: one run per group
    for rule in rules:
        rule = _keyed(rule)
        bound = [_bound_kwargs(rule, p) for p in group_params]
        first = bound[0]
        if all(b == first for b in bound[1:]):
            uniform.append((rule, first))
        elif keyed := _plan_keyed(rule, bound, data, row_gid):
            column, values, kwargs = keyed
            data[column] = values
            uniform.append((rule, kwargs))
        else:
            apart.append(rule)
    frame = pd.DataFrame({_GID: range(len(owner)), _FILE: row_file, **data})

    out = []
    runs = [(frame, uniform)] if uniform else []
    if apart:  # rare: a rule that differs per plan and cannot be keyed runs per group
        rows_of: dict[int, list[int]] = {}
        for n, g in enumerate(row_gid):
            rows_of.setdefault(g, []).append(n)
        for g, rows in rows_of.items():
            bound = [(r, _bound_kwargs(r, group_params[g])) for r in apart]
            runs.append((frame.iloc[rows], bound))
    for part, bound_rules in runs:
        suite = _bound_suite(bound_rules)
        for rule, gids_failed, result in _failures(part, suite, rules, _GID):
            if not gids_failed:
                raise RuntimeError(f"expectation {rule.id} failed without rows: {result}")
            per_file: dict[int, set[int]] = {}
            for g in gids_failed:
                i, rid = owner[g]
                per_file.setdefault(i, set()).add(int(rid))
            for i, rids in per_file.items():
                out.append((i, Finding(rule, sorted(rids), {"unexpected_count": len(rids)})))
    return out


def _columns_of(files: list[FileRows], columns: list[str]) -> dict[str, list]:
    """The files' rows as one list per column (None where a row lacks the column)."""
    if len(columns) < 2 or any(f.previous is not None for f in files):
        # The pass over earlier periods' values (a few columns): each file's appended.
        out: dict[str, list] = {c: [] for c in columns}
        lists = [out[c] for c in columns]
        for f in files:
            for values, into in zip(f.values(columns), lists, strict=True):
                into.extend(values)
        return out
    # The first pass (some 20 columns): the columns picked from each row as a tuple, then all
    # rows transposed at once (zip). No dict per row, and a list per column built in one pass.
    picked: list[tuple] = []
    getters: dict[tuple[str, ...], Any] = {}  # per row layout: a chunk's files share one or two
    for f in files:
        if not f.rows:
            continue
        get = getters.get(f.keys)
        if get is None:
            at = f.index()
            full = all(c in at for c in columns)
            get = getters[f.keys] = operator.itemgetter(*(at[c] for c in columns)) if full else 0
        if get:
            picked.extend(map(get, f.rows))
        else:
            picked.extend(zip(*f.values(columns), strict=True))
    if not picked:
        return {c: [] for c in columns}
    return dict(zip(columns, map(list, zip(*picked, strict=True)), strict=True))


def _plan_keyed(rule: Rule, bound: list[dict], data: dict, row_gid: list[int]):
    """(column, its values prefixed by plan group, kwargs) for a set rule keyed by plan; or None."""
    if rule.expect not in _KEYABLE or rule.kwargs.get("mostly", 1) != 1:
        return None
    column = rule.kwargs.get("column")
    others = [{k: v for k, v in b.items() if k != "value_set"} for b in bound]
    if not isinstance(column, str) or column not in data or any(o != others[0] for o in others):
        return None
    sets = [b.get("value_set") for b in bound]
    if not all(isinstance(vs, list) and all(isinstance(v, str) for v in vs) for vs in sets):
        return None
    values = data[column]
    if not all(v is None or type(v) is str for v in values):
        return None  # exact only for text: 1 and 1.0 match in a set, but not as prefixed text
    keyed = [None if v is None else f"{g}{_SEP}{v}" for v, g in zip(values, row_gid, strict=True)]
    # Only the keys some row holds: the verdict of every row is the same, and GX copies the
    # set each time it reads the expectation's configuration (a province's whole union of
    # codes made that cost seconds a run).
    present = set(keyed)
    union = sorted(k for g, vs in enumerate(sets) for v in vs if (k := f"{g}{_SEP}{v}") in present)
    name = f"{column}{_SEP}plan"
    return name, keyed, dict(others[0], column=name, value_set=union)
