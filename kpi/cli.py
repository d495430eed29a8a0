"""The `kpi` command: one group, sub-commands registered by each area of the project."""

from __future__ import annotations

import importlib

import click

# Each module exposes `register(group)`; the order is the order of `kpi --help`.
COMMAND_MODULES = (
    "kpi.cli_catalogue",  # targets, template
    "kpi.ingest.cli",  # ingest
    "kpi.progress_cli",  # status, sql
    "kpi.alerts.cli",  # alerts, ack, feedback, close, deliver
    "kpi.reports_cli",  # report
    "kpi.run_cli",  # run, replay, demo
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--plan", envvar="KPI_PLAN", default=None, help="计划代码（默认取配置）/ plan code")
@click.pass_context
def main(ctx: click.Context, plan: str | None) -> None:
    """红旗区目标任务监测 / KPI pipeline for a district's annual targets."""
    from kpi.config import settings

    ctx.ensure_object(dict)
    ctx.obj["plan"] = plan or settings().plan


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # an area not built yet
        if not _name.startswith(exc.name or "?"):
            raise
        continue
    _module.register(main)

if __name__ == "__main__":
    main()
