"""The nightly progress report: one self-contained HTML file (inline CSS, SVG and script)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from kpi.reports import view
from kpi.reports.charts import STATUS_COLOURS
from kpi.reports.data import ReportData

TEMPLATES = Path(__file__).resolve().parent / "templates"


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


def figures_json(data: ReportData, table: list[dict]) -> Markup:
    """The figures block: JSON safe inside a <script> element (no '<', '>' or '&' left raw)."""
    doc = {
        "plan": data.catalogue.plan.code,
        "as_of": data.as_of.isoformat(),
        "figures": [r["figures"] for r in table],
    }
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def render_html(
    data: ReportData,
    *,
    generated_at: datetime,
    doc_pages: dict[str, str] | None = None,
    docs_index: str | None = None,
) -> str:
    """The report as one HTML document; every submitted or catalogue text is escaped.

    `doc_pages` maps a submission id to the address of its validation page and `docs_index` is
    the pages' index, both relative to where this page is written.
    """
    table = view.rows(data)
    plan = data.catalogue.plan
    overview = view.overview(data, table)
    line_charts = view.line_charts(data, table)
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            plan=plan,
            as_of=data.as_of.isoformat(),
            freshness=view.stamp(data.freshness),
            computed_at=view.stamp(data.computed_at),
            generated_at=view.stamp(generated_at),
            colours=STATUS_COLOURS,
            attention=view.attention(table),
            overview=overview,
            departments=sorted(overview["lines"], key=lambda line: line["cat"]),
            headline=[r for r in table if r["headline"]],
            changes=view.changes(data, table),
            line_charts=line_charts,
            trajectory_counts=view.status_counts(line_charts),
            growth=view.growth(data, table),
            milestones=view.milestones(data, table),
            data=view.data_status(data, table),
            table=table,
            detail_counts=view.status_counts(table),
            doc_pages=doc_pages or {},
            docs_index=docs_index,
            figures_json=figures_json(data, table),
        )
    )
