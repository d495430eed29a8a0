"""Great Expectations Data Docs of every submission's validation, built into the report folder.

Ingestion validates with an ephemeral GX context, so its results do not outlive the run; what
stays is the warehouse (raw.submissions, staged.rejections). This module keeps a GX file context
per plan under `cfg.reports/gx/<plan>`: for each submission it stores the real GX result when
ingestion handed one over (`store_validation_result`), otherwise one rebuilt from the warehouse
rows, and builds the static site with `context.build_data_docs` into `<out_dir>/data_docs`.
GX does not escape submitted values in its pages, so every text is HTML-escaped before storing.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from kpi import clock
from kpi.config import Settings
from kpi.reports.data import has_table, query
from kpi.warehouse import connect

SUITE = "submission_checks"  # suite name of results rebuilt from the warehouse (ASCII: a folder)
SITE = "kpi_reports"
SAMPLE = 20  # values listed per rule on a page; the warehouse and workbook keep them all


@dataclass(frozen=True)
class DataDocs:
    """The built site: its index page and the page of each submission."""

    index: Path
    pages: dict[str, Path]  # submission_id -> validation page


def gx_project(cfg: Settings, plan_code: str) -> Path:
    """The folder of a plan's GX file context (it holds `gx/`)."""
    return cfg.reports / "gx" / plan_code


def batch_id(submission_id: str) -> str:
    """The GX batch identifier of a submission (a page name: short, stable)."""
    return submission_id[:16]


def _context(cfg: Settings, plan_code: str):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = gx_project(cfg, plan_code)
    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=root)
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def _identifier(suite: str, run_name: str, run_time: datetime, batch: str):
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    return ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
        run_id=RunIdentifier(run_name=run_name, run_time=run_time),
        batch_identifier=batch,
    )


def _batch_meta(file_name: str, run_name: str, run_time: datetime) -> dict:
    """What a Data Docs page shows as the data asset and the run (the file as submitted)."""
    asset = html.escape(file_name)
    return {
        "active_batch_definition": {
            "datasource_name": "submissions",
            "data_asset_name": asset,
            "batch_definition_name": "whole_file",
        },
        "batch_spec": {"data_asset_name": asset},
        "run_id": {"run_name": html.escape(run_name), "run_time": run_time.isoformat()},
    }


def _escaped(value):
    """Every string inside a JSON-like value, HTML-escaped (keys included)."""
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    return value


def store_validation_result(
    cfg: Settings,
    plan_code: str,
    submission_id: str,
    result,
    *,
    file_name: str,
    run_name: str = "ingest",
    run_time: datetime | None = None,
) -> None:
    """Keep one submission's GX validation result (from any context) for the Data Docs."""
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    doc = result.to_json_dict()
    evrs = []
    for r in doc.get("results", []):
        conf = r.get("expectation_config") or {}
        evrs.append(
            ExpectationValidationResult(
                success=r.get("success"),
                result=_escaped(r.get("result") or {}),
                exception_info=r.get("exception_info"),
                meta=_escaped(r.get("meta") or {}),
                expectation_config=ExpectationConfiguration(
                    type=conf["type"],
                    kwargs=_escaped(conf.get("kwargs") or {}),
                    meta=_escaped(conf.get("meta") or {}),
                ),
            )
        )
    run_time = run_time or clock.local_now()
    meta = {**_escaped(doc.get("meta") or {}), **_batch_meta(file_name, run_name, run_time)}
    clean = ExpectationSuiteValidationResult(
        success=bool(doc.get("success")),
        results=evrs,
        suite_name=doc.get("suite_name") or SUITE,
        statistics=doc.get("statistics") or {},
        meta=meta,
    )
    key = _identifier(clean.suite_name, run_name, run_time, batch_id(submission_id))
    _context(cfg, plan_code).validation_results_store.set(key, clean)


def _where(rows: list[dict]) -> str:
    spots = [
        f"{r['sheet'] or ''} 第{r['row_number']}行".strip()
        for r in rows
        if r.get("row_number") is not None
    ]
    if not spots:
        return "（整个文件）"
    more = f" 等 {len(spots)} 处" if len(spots) > SAMPLE else ""
    return "（" + "、".join(spots[:SAMPLE]) + more + "）"


def _unexpected(hits: list[dict], values: list[str], n_rows: int) -> dict:
    rows = {(h.get("sheet"), h.get("row_number")) for h in hits if h.get("row_number") is not None}
    if not rows or not n_rows:
        return {}  # the whole file: GX's row statistics would be meaningless
    return {
        "element_count": n_rows,
        "unexpected_count": len(rows),
        "unexpected_percent": min(100.0, 100.0 * len(rows) / n_rows),
        "partial_unexpected_list": _escaped(values[:SAMPLE]),
    }


def derived_result(submission: dict, rows: list[dict]):
    """A GX suite result for one submission, rebuilt from what the warehouse recorded of it."""
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    import kpi.reports.gx_rules  # noqa: F401 - registers the rule type before rendering

    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["expectation"] or "rule", r["column_name"] or "", r["severity"])].append(r)
    if submission["status"] == "rejected" and not groups:
        groups[("file_readable", "", "critical")] = [
            {"reason_zh": submission["reason_zh"] or "文件无法读取", "row_number": None}
        ]
    n_rows = submission["n_rows"] or 0
    results = []
    for (rule, column, severity), hits in sorted(groups.items()):
        reasons = list(dict.fromkeys(h["reason_zh"] for h in hits if h.get("reason_zh")))
        values = [h.get("value_raw") for h in hits if h.get("value_raw") is not None]
        kwargs = {
            "rule": rule,
            "reason": "；".join(reasons),
            "column_name": column,
            "severity": severity,
            "where": _where(hits),
        }
        results.append(
            ExpectationValidationResult(
                success=False,
                expectation_config=ExpectationConfiguration(
                    type="expect_submission_to_pass_rule",
                    kwargs=_escaped(kwargs),
                    meta={"severity": severity},
                ),
                result=_unexpected(hits, values, n_rows),
            )
        )
    if not results:
        results.append(
            ExpectationValidationResult(
                success=True,
                expectation_config=ExpectationConfiguration(
                    type="expect_submission_to_pass_rule",
                    kwargs={
                        "rule": "all_rules",
                        "reason": f"全部校验规则通过，共 {n_rows} 行",
                        "severity": "info",
                    },
                ),
                result={"element_count": n_rows, "unexpected_count": 0},
            )
        )
    ok = sum(r.success for r in results)
    return ExpectationSuiteValidationResult(
        success=ok == len(results),
        results=results,
        suite_name=SUITE,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": ok,
            "unsuccessful_expectations": len(results) - ok,
            "success_percent": 100.0 * ok / len(results),
        },
        meta={
            **_batch_meta(
                submission["file_name"],
                submission["run_id"] or "ingest",
                submission["ingested_at"],
            ),
            "submission_id": submission["submission_id"],
            "source": "warehouse: raw.submissions, staged.rejections",
        },
    )


def _site_config(site_dir: Path) -> dict:
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(site_dir.resolve()),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def _path_of(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def build_data_docs(cfg: Settings, plan_code: str, as_of: date, site_dir: Path) -> DataDocs | None:
    """Build the Data Docs site of a plan's submissions into `site_dir` (None if there are none)."""
    params = {"plan": plan_code, "as_of": as_of}
    with connect(cfg) as con:
        if not has_table(con, "raw", "submissions"):
            return None
        submissions = query(con, "submissions", params)
        rejections = query(con, "rejections", params)
    stored_dir = gx_project(cfg, plan_code) / "gx" / "uncommitted" / "validations"
    if not submissions and not stored_dir.exists():
        return None
    import kpi.reports.gx_rules  # noqa: F401 - registers the rule type before rendering

    ctx = _context(cfg, plan_code)
    store = ctx.validation_results_store
    stored: dict[str, object] = {}
    for key in store.list_keys():
        # a real GX result handed over by ingestion wins over one rebuilt from the warehouse
        if key.batch_identifier not in stored or key.expectation_suite_identifier.name != SUITE:
            stored[key.batch_identifier] = key
    by_submission: dict[str, list[dict]] = defaultdict(list)
    for r in rejections:
        by_submission[r["submission_id"]].append(r)
    keys = {}
    for s in submissions:
        key = stored.get(batch_id(s["submission_id"]))
        if key is None:
            key = _identifier(
                SUITE, s["run_id"] or "ingest", s["ingested_at"], batch_id(s["submission_id"])
            )
            store.set(key, derived_result(s, by_submission[s["submission_id"]]))
        keys[s["submission_id"]] = key
    if SITE in ctx.list_data_docs_sites():
        ctx.update_data_docs_site(SITE, _site_config(site_dir))
    else:
        ctx.add_data_docs_site(SITE, _site_config(site_dir))
    built = ctx.build_data_docs(site_names=[SITE])
    pages = {}
    for sid, key in keys.items():
        urls = ctx.get_docs_sites_urls(resource_identifier=key, site_name=SITE)
        if urls and urls[0].get("site_url"):
            pages[sid] = _path_of(urls[0]["site_url"])
    return DataDocs(index=_path_of(built[SITE]), pages=pages)
