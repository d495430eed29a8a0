"""`kpi plan export|import|draft`: the plan as the supervision office's 分解表."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kpi.catalogue import CatalogueError, get_catalogue


@click.group("plan")
def plan_group() -> None:
    """目标任务分解表：导出、导入、从报告起草 / the plan as a 分解表 workbook."""


@plan_group.command("export")
@click.option("--plan", "plan_code", default=None, help="计划代码（默认取 kpi --plan 或配置）")
@click.option(
    "-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="输出的分解表 .xlsx",
)  # fmt: skip
@click.pass_context
def export_cmd(ctx: click.Context, plan_code: str | None, out: Path) -> None:
    """把计划导出为分解表（带下拉选项和填写说明）/ write the plan as a 分解表."""
    from kpi.config import settings
    from kpi.plan import export_plan, monthly_plans

    try:
        cat = get_catalogue(plan_code or ctx.obj["plan"])
    except (CatalogueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    path = export_plan(cat, out, monthly_plans(settings(), cat.plan.code))
    click.echo(f"已导出 {len(cat.targets)} 项目标任务：{path}")


@plan_group.command("import")
@click.argument("workbook", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--plan", "plan_code", required=True, help="导入后的计划代码，如 hongqi-2024")
@click.option(
    "-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="目录清单所在目录（默认：配置项 catalogue_dir）",
)  # fmt: skip
@click.option(
    "--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="报告原文 .txt/.docx（复制为 <计划代码>.report.txt，用于核对“原文”列）",
)  # fmt: skip
def import_cmd(workbook: Path, plan_code: str, out_dir: Path | None, report: Path | None) -> None:
    """校验分解表并写入目标清单（有任何一行不合格则不写入）/ import a 分解表."""
    from kpi.catalogue import load_catalogue
    from kpi.config import settings
    from kpi.plan import ImportError_, import_plan

    try:
        path = import_plan(settings(), workbook, plan_code, out_dir, report)
    except ImportError_ as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    cat = load_catalogue(path)
    click.echo(f"已导入 {len(cat.targets)} 项目标任务：{path}")


@plan_group.command("draft")
@click.argument("report", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="起草的分解表 .xlsx（默认：报告同名 .分解表.xlsx）")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出起草的行")
@click.option("--year", type=int, default=None, help="计划年度（默认从报告识别）")
@click.option(
    "--departments", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="部门名录（默认：目录清单目录下的 departments.yaml）",
)  # fmt: skip
def draft_cmd(
    report: Path, out: Path | None, as_json: bool, year: int | None, departments: Path | None
) -> None:
    """从政府工作报告起草分解表，供人工审核（导入前不跟踪）/ draft a 分解表 from a report."""
    from kpi.config import settings
    from kpi.plan import ReportError
    from kpi.plan.drafting import draft_report

    cfg = settings()
    try:
        if not as_json and out is None:
            out = report.with_name(f"{report.stem}.分解表.xlsx")
        draft, path = draft_report(
            cfg, report, out=None if as_json else out, year=year, register=departments
        )
    except (ReportError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        json.dump([r.record() for r in draft.rows], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    click.echo(f"已起草 {len(draft.rows)} 行（{draft.district_zh}{draft.year}年）：{path}")
    click.echo("请逐行审核后用 kpi plan import 导入。")


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    group.add_command(plan_group)
