"""The `kpi` command: one group; each module of this package registers one verb group.

Every module is a thin shell over functions that the flows (and the web desk) call too.
"""

from __future__ import annotations

import importlib
import os

import click

# Each module exposes `register(group)`; the order is the order of `kpi --help`.
COMMAND_MODULES = (
    "kpi.cli.catalogue",  # targets, template
    "kpi.cli.ingest",  # ingest
    "kpi.cli.progress",  # status, sql
    "kpi.cli.alerts",  # alerts, ack, feedback, close, deliver
    "kpi.cli.reports",  # report
    "kpi.cli.run",  # run, replay, demo
    "kpi.cli.desk",  # desk (serve), desk token, desk revoke
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--plan", envvar="KPI_PLAN", default=None, help="计划代码（默认取配置）/ plan code")
@click.option(
    "--now",
    "now",
    default=None,
    metavar="TIME",
    help="把“当前时间”设为该值（如 2023-07-16T08:30；默认系统时钟，或环境变量 KPI_NOW）",
)
@click.pass_context
def main(ctx: click.Context, plan: str | None, now: str | None) -> None:
    """红旗区目标任务监测 / KPI pipeline for a district's annual targets."""
    from kpi import clock
    from kpi.config import settings

    if now:
        try:
            clock.parse(now, settings().tz)
        except clock.BadNow as exc:
            raise click.BadParameter(str(exc), param_hint="--now") from exc
        # The environment, so that flows, tasks and subprocesses all see the same "now".
        os.environ[clock.ENV] = now
    ctx.ensure_object(dict)
    ctx.obj["plan"] = plan or settings().plan


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(main)
