"""`kpi report`: write the progress report, the leadership workbook and the Data Docs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kpi.catalogue import CatalogueError, get_catalogue


@click.command("report")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="截至日期 YYYY-MM-DD（默认：最近一次计算进度的日期）",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="输出目录，不存在则创建（默认：配置项 reports）",
)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出文件路径")
@click.pass_context
def report_cmd(ctx: click.Context, as_of, out_dir: Path | None, as_json: bool) -> None:
    """生成进度报告、领导工作簿与数据校验报告 / write the reports for an as-of date."""
    from kpi.config import settings
    from kpi.reports import NoProgressError, latest_as_of, report_paths, write_reports

    cfg = settings()
    plan = ctx.obj["plan"]
    try:
        cat = get_catalogue(plan)
    except (CatalogueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    day = as_of.date() if as_of else latest_as_of(cfg, cat.plan.code)
    if day is None:
        raise click.ClickException("尚无进度数据：请先运行 kpi run（或计算进度）再生成报告")
    try:
        paths = write_reports(cfg, cat, day, out_dir)
    except NoProgressError as exc:
        raise click.ClickException(
            f"{day} 没有进度数据：请先计算该日进度（kpi run --as-of {day}）。"
        ) from exc
    except OSError as exc:
        from kpi.cli import os_reason_zh

        where = out_dir or cfg.reports
        problem = f"（{exc.filename}）" if exc.filename and str(exc.filename) != str(where) else ""
        raise click.ClickException(
            f"无法写入报告目录 {where}：{os_reason_zh(exc)}{problem}"
        ) from exc
    latest = report_paths(Path(out_dir or cfg.reports), cat.plan.code, day)["latest_html"]
    if latest.is_file():
        paths = {**paths, "latest": latest}
    if as_json:
        doc = {"as_of": day.isoformat(), **{k: str(v) if v else None for k, v in paths.items()}}
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    click.echo(f"截至日期：{day}")
    click.echo(f"进度报告：{paths['html']}")
    click.echo(f"领导工作簿：{paths['workbook']}")
    click.echo(f"数据校验报告：{paths['data_docs'] or '尚无校验结果'}")
    if paths.get("latest"):
        click.echo(f"最新报告（固定地址）：{paths['latest']}")


def register(group: click.Group) -> None:
    """Add `kpi report` to `kpi`."""
    group.add_command(report_cmd)
