"""Validation pages ("Data Docs") of every submission: plain HTML that opens offline.

Great Expectations' own Data Docs load Bootstrap, jQuery, Font Awesome and Vega from CDNs and a
logo from S3 (with the context's id in its address); offline their index is blank and a page
waits seconds for those addresses. These pages are written from what the warehouse recorded of
each file (raw.submissions, staged.rejections) and, when ingestion handed one over, the file's
full GX validation result (`store_validation_result`). Each page is one self-contained file with
no external address; the index lists every file. Every submitted text is escaped (Jinja).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kpi import clock
from kpi.config import Settings
from kpi.reports import view
from kpi.reports.data import has_table, query
from kpi.warehouse import connect

TEMPLATES = Path(__file__).resolve().parent / "templates"
SAMPLE = 20  # values listed per rule on a page; the warehouse and the workbook keep them all
VALUE_CHARS = 200  # a submitted value is cut here on a page
MAX_RESULT_BYTES = 5_000_000  # a stored GX result larger than this is not read back
# Folders an older build (GX's SiteBuilder) left in a site: they reference CDNs, so they go.
GX_LEFTOVERS = ("validations", "expectations", "static")
EXPECTATION_ZH = {
    "expect_column_values_to_not_be_null": "不得为空",
    "expect_column_values_to_be_null": "应为空",
    "expect_column_values_to_be_between": "取值在范围内",
    "expect_column_values_to_be_in_set": "取值在允许范围内",
    "expect_column_values_to_not_be_in_set": "取值不在禁止范围内",
    "expect_column_values_to_match_regex": "符合规定格式",
    "expect_column_values_to_not_match_regex": "不含禁止的内容",
    "expect_column_values_to_be_unique": "取值不重复",
    "expect_compound_columns_to_be_unique": "组合取值不重复",
    "expect_column_pair_values_to_be_equal": "两列取值一致",
    "expect_column_values_to_be_of_type": "类型正确",
    "expect_column_to_exist": "列存在",
    "expect_table_columns_to_match_set": "表头包含必填列",
    "expect_table_row_count_to_be_between": "行数在范围内",
}
KWARG_ZH = {
    "column": "列",
    "column_A": "列",
    "column_B": "对照列",
    "min_value": "下限",
    "max_value": "上限",
    "value_set": "允许值",
    "regex": "格式",
    "column_set": "列",
}


@dataclass(frozen=True)
class DataDocs:
    """The built site: its index page and the page of each submission."""

    index: Path
    pages: dict[str, Path]  # submission_id -> validation page


def batch_id(submission_id: str) -> str:
    """A submission's page name: short and stable."""
    return submission_id[:16]


def results_dir(cfg: Settings, plan_code: str) -> Path:
    """Where GX results handed over by ingestion are kept (outside the published reports)."""
    return cfg.home / "validations" / plan_code


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def store_validation_result(
    cfg: Settings,
    plan_code: str,
    submission_id: str,
    result,
    *,
    file_name: str,
    run_name: str = "ingest",
    run_time: datetime | None = None,
) -> Path:
    """Keep one submission's GX validation result (a GX result object or its dict) for its page."""
    doc = result.to_json_dict() if hasattr(result, "to_json_dict") else dict(result)
    record = {
        "file_name": file_name,
        "run_name": run_name,
        "run_time": (run_time or clock.local_now(cfg.tz)).isoformat(),
        "result": _jsonable(doc),
    }
    folder = results_dir(cfg, plan_code)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{batch_id(submission_id)}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path


def _cut(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _kwargs_zh(kwargs: dict) -> str:
    parts = []
    for key, label in KWARG_ZH.items():
        if key in kwargs and kwargs[key] not in (None, "", []):
            v = kwargs[key]
            shown = "、".join(_cut(x) for x in v[:SAMPLE]) if isinstance(v, list) else _cut(v)
            parts.append(f"{label}：{shown}")
    return "；".join(parts)


def gx_checks(record: dict | None) -> list[dict]:
    """The expectations of a stored GX result, as rows a person reads."""
    if not record:
        return []
    out = []
    for r in (record.get("result") or {}).get("results") or []:
        conf = r.get("expectation_config") or {}
        kind = str(conf.get("type") or conf.get("expectation_type") or "")
        res = r.get("result") or {}
        values = res.get("partial_unexpected_list") or []
        out.append(
            {
                "rule": EXPECTATION_ZH.get(kind, kind or "（未知规则）"),
                "code": kind,
                "args": _kwargs_zh(conf.get("kwargs") or {}),
                "success": bool(r.get("success")),
                "unexpected": res.get("unexpected_count"),
                "checked": res.get("element_count"),
                "values": [_cut(v) for v in values[:SAMPLE]],
            }
        )
    return out


def _read_record(path: Path) -> dict | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_RESULT_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def rule_groups(rows: list[dict]) -> list[dict]:
    """A file's recorded rejections grouped by rule and column: the reason and where."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[
            (r["severity"] != "critical", r["column_name"] or "", r["expectation"] or "")
        ].append(r)
    out = []
    for (_, column, rule), hits in sorted(groups.items()):
        total = max(len(hits), max(int(h.get("group_count") or 0) for h in hits))
        where = [
            f"{(h['sheet'] or '')} 第{h['row_number']}行".strip()
            for h in hits
            if h.get("row_number") is not None
        ]
        out.append(
            {
                "severity_zh": view.SEVERITY_ZH.get(hits[0]["severity"], hits[0]["severity"]),
                "critical": hits[0]["severity"] == "critical",
                "column": column,
                "rule": rule,
                "count": total,
                "where": ("、".join(where[:SAMPLE]) + (f" 等 {total} 处" if total > SAMPLE else ""))
                if where
                else "整个文件",
                "rows": [
                    {
                        **h,
                        "value": _cut(h.get("value_raw")),
                        "reason": view.strip_file_prefix(
                            h["reason_zh"], h["file_name"], h.get("sheet")
                        ),
                    }
                    for h in hits[:SAMPLE]
                ],
            }
        )
    return out


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["stamp"] = view.stamp
    return env


def _write(path: Path, text: str) -> None:
    """Write a page only when it changed (a night rewrites hundreds of unchanged pages)."""
    data = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _clear_leftovers(site_dir: Path) -> None:
    import shutil

    for name in GX_LEFTOVERS:
        shutil.rmtree(site_dir / name, ignore_errors=True)


def build_data_docs(
    cfg: Settings, plan_code: str, site_dir: Path, *, plan_name: str = ""
) -> DataDocs | None:
    """Write a page per submission of the plan and an index listing them (None if none yet)."""
    with connect(cfg) as con:
        if not has_table(con, "raw", "submissions"):
            return None
        submissions = query(con, "all_submissions", {"plan": plan_code})
        rejections = query(con, "all_rejections", {"plan": plan_code, "sample": SAMPLE})
    if not submissions:
        return None
    by_sub: dict[str, list[dict]] = defaultdict(list)
    for r in rejections:
        by_sub[r["submission_id"]].append(r)
    stored = results_dir(cfg, plan_code)
    env = _env()
    page_tpl, index_tpl = (
        env.get_template("datadoc.html.j2"),
        env.get_template("datadocs_index.html.j2"),
    )
    site_dir.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(site_dir)
    pages: dict[str, Path] = {}
    listed = []
    for s in submissions:
        rows = by_sub.get(s["submission_id"], [])
        record = _read_record(stored / f"{batch_id(s['submission_id'])}.json")
        info = {
            **s,
            "department_zh": s.get("department_zh") or "未识别单位",
            "status_zh": view.SUBMISSION_STATUS_ZH.get(s["status"], s["status"]),
            "reason": view.file_reason(s, rows),
            "page": f"files/{batch_id(s['submission_id'])}.html",
        }
        path = site_dir / info["page"]
        _write(
            path,
            page_tpl.render(
                plan_code=plan_code,
                plan_name=plan_name,
                s=info,
                groups=rule_groups(rows),
                gx=gx_checks(record),
                gx_run=(record or {}).get("run_time"),
            ),
        )
        pages[s["submission_id"]] = path
        listed.append(info)
    index = site_dir / "index.html"
    _write(
        index,
        index_tpl.render(plan_code=plan_code, plan_name=plan_name, files=listed),
    )
    return DataDocs(index=index, pages=pages)
