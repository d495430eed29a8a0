"""The readable suites in expectations/*.yaml, built into Great Expectations suites and run.

GX is imported only when a suite runs (the import alone costs about 2.5 s).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from kpi.config import ROOT

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

            ctx = gx.get_context(mode="ephemeral")
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
            asset = ctx.data_sources.add_pandas("submissions").add_dataframe_asset("rows")
            _gx["gx"] = gx
            _gx["bd"] = asset.add_batch_definition_whole_dataframe("file")
        return _gx["gx"], _gx["bd"]


def build_suite(rules: tuple[Rule, ...], params: dict, name: str = "submission"):
    """A GX ExpectationSuite from the rules, with run-time values bound in."""
    gx, _ = _batch_definition()
    suite = gx.ExpectationSuite(name=name)
    for rule in rules:
        cls = getattr(gx.expectations, _camel(rule.expect))
        kwargs = {k: _bind(v, params) for k, v in rule.kwargs.items()}
        suite.add_expectation(cls(**kwargs, meta={"id": rule.id, "severity": rule.severity}))
    return suite


def run_rules(frame: pd.DataFrame, rules: tuple[Rule, ...], params: dict) -> list[Finding]:
    """Validate the frame with GX; return every failed rule with its failing rows."""
    _, bd = _batch_definition()
    suite = build_suite(rules, params)
    by_id = {r.id: r for r in rules}
    batch = bd.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [_RID]},
    )
    findings = []
    for r in result.results:
        rule = by_id[r.expectation_config.meta["id"]]
        if r.exception_info.get("raised_exception"):
            # A rule that cannot run is a bug in the suite or the frame, never a pass.
            raise RuntimeError(f"expectation {rule.id} failed to run: {r.exception_info}")
        if r.success:
            continue
        rids = [int(i[_RID]) for i in (r.result.get("unexpected_index_list") or [])]
        if rule.scope == "row" and not rids:
            # A row rule failing without failing rows means it could not look (e.g. a column
            # missing from the frame): a bug, never a pass and never a silent refusal.
            raise RuntimeError(f"expectation {rule.id} failed without rows: {r.result}")
        findings.append(Finding(rule, sorted(set(rids)), dict(r.result)))
    return findings
