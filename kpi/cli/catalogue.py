"""`kpi targets` and `kpi template`."""

from __future__ import annotations

import json
import sys

import click

from kpi.catalogue import KIND_ZH, CatalogueError, UnknownDepartmentError, get_catalogue


def target_record(t) -> dict:
    """One target as the JSON that `kpi targets --json` prints."""
    return {**t.record(), "deadline": t.deadline.isoformat()}


@click.command("targets")
@click.option("--json", "as_json", is_flag=True, help="JSON 列表输出")
@click.option(
    "--department", "-d", default=None, help="只列出该牵头单位的目标（代码、简称、全称或常用简称）"
)
@click.pass_context
def targets_cmd(ctx: click.Context, as_json: bool, department: str | None) -> None:
    """列出目标任务清单 / print the plan's target catalogue."""
    try:
        cat = get_catalogue(ctx.obj["plan"])
        rows = (
            cat.targets_of(cat.require_department(department).code) if department else cat.targets
        )
    except CatalogueError as exc:
        raise click.ClickException(f"目标清单有误：{exc}") from exc
    except (FileNotFoundError, UnknownDepartmentError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        json.dump([target_record(t) for t in rows], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{cat.plan.name_zh}（{len(rows)} 项）", show_lines=False)
    for col in ("代码", "指标", "类型", "目标", "期限", "牵头单位", "报送"):
        table.add_column(col)
    short = {d.code: d.short_zh for d in cat.departments}
    for t in rows:
        goal = "" if t.value is None else f"{t.comparator} {t.value:g} {t.unit or ''}"
        table.add_row(
            t.code,
            f"{t.firmness_zh}{t.name_zh}",
            KIND_ZH[t.kind],
            goal or "完成",
            t.deadline.isoformat(),
            short.get(t.department, t.department),
            t.cadence,
        )
    Console().print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    from kpi.templates import template_cmd

    group.add_command(targets_cmd)
    group.add_command(template_cmd)
