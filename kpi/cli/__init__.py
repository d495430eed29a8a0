"""The `kpi` command: one group; each module of this package registers one verb group.

Every module is a thin shell over functions that the flows (and the web desk) call too.
Errors reach people in Chinese and without a traceback: usage errors (bad options, dates,
paths) and the errors the areas raise for bad input (unknown plan, department, missing file)
are turned into one line each by `KpiGroup`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
import sys

import click

# Each module exposes `register(group)`; the order is the order of `kpi --help`.
COMMAND_MODULES = (
    "kpi.cli.catalogue",  # targets, template
    "kpi.cli.ingest",  # ingest
    "kpi.cli.progress",  # status
    "kpi.cli.sql",  # sql
    "kpi.cli.alerts",  # alerts, ack, feedback, close, deliver
    "kpi.cli.reports",  # report
    "kpi.cli.run",  # run, replay, demo
    "kpi.cli.plan",  # plan export, plan import, plan draft
    "kpi.cli.desk",  # desk (serve), desk token, desk revoke
)


def user_error_zh(exc: BaseException) -> str | None:
    """The Chinese line for an error caused by what the user typed or pointed at; None if a bug."""
    from kpi import clock
    from kpi.catalogue import CatalogueError, UnknownDepartmentError, UnknownPlanError

    if isinstance(exc, UnknownPlanError | UnknownDepartmentError | clock.BadNow):
        return str(exc)
    if isinstance(exc, CatalogueError):
        return f"目标清单有误：{exc}"
    templates = sys.modules.get("kpi.templates")
    if templates is not None and isinstance(exc, templates.TemplateError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        where = exc.filename
        if isinstance(exc, FileNotFoundError):
            return f"找不到文件或目录：{where}"
        if isinstance(exc, NotADirectoryError):
            return f"不是目录：{where}"
        if isinstance(exc, IsADirectoryError):
            return f"这是一个目录，不是文件：{where}"
        if isinstance(exc, PermissionError):
            return f"没有权限读写：{where}"
        return f"无法读写 {where}：{os_reason_zh(exc)}"
    if isinstance(exc, ValueError) and str(exc).startswith("Invalid isoformat string"):
        from kpi.cli.params import DATE_HINT_ZH

        return f"{DATE_HINT_ZH}：{str(exc).split(':', 1)[-1].strip()}"
    return None


_ERRNO_ZH = {
    errno.ENOENT: "目录不存在",
    errno.ENOTDIR: "路径中有一段是文件，不是目录",
    errno.EISDIR: "这是一个目录，不是文件",
    errno.EACCES: "没有权限",
    errno.EPERM: "没有权限",
    errno.EROFS: "只读文件系统",
    errno.ENOSPC: "磁盘空间不足",
    errno.EDQUOT: "超出磁盘配额",
    errno.ENAMETOOLONG: "名称过长",
    errno.EEXIST: "已存在同名文件",
}


def os_reason_zh(exc: OSError) -> str:
    """Why a file operation failed, in Chinese (the system's English text is not shown)."""
    known = _ERRNO_ZH.get(exc.errno or -1)
    if known:
        return known
    return f"系统错误（错误码 {exc.errno}）" if exc.errno else "系统错误"


def usage_error_zh(exc: click.UsageError) -> str:
    """A usage error of click (option, argument, command) in Chinese."""
    param = getattr(exc, "param", None)
    hint = exc.param_hint if isinstance(getattr(exc, "param_hint", None), str) else None
    if param is not None and (hint is None or getattr(param, "param_type_name", "") == "argument"):
        if getattr(param, "param_type_name", "") == "argument":
            hint = param.human_readable_name
        else:
            hint = " / ".join(getattr(param, "opts", None) or [param.name or ""])
    if isinstance(exc, click.NoSuchOption):
        near = f"（是否指 {'、'.join(sorted(exc.possibilities))}）" if exc.possibilities else ""
        return f"没有选项 {exc.option_name}{near}"
    if isinstance(exc, click.MissingParameter):
        kind = "参数" if getattr(param, "param_type_name", "") == "argument" else "选项"
        return f"缺少{kind} {hint or exc.param_type or ''}".rstrip()
    if isinstance(exc, click.BadParameter):
        message = exc.message
        if param is not None and isinstance(param.type, click.DateTime):
            from kpi.cli.params import DATE_HINT_ZH

            given = re.search(r"'(.*?)'", message)
            message = DATE_HINT_ZH + (f"，收到“{given.group(1)}”" if given else "")
        elif param is not None and isinstance(param.type, click.Choice):
            message = "可选值：" + "、".join(str(c) for c in param.type.choices)
        elif param is not None and isinstance(param.type, click.Path):
            message = _path_problem_zh(message)
        return f"{hint} 的值无效：{message}" if hint else message
    unknown = re.match(r"No such command '(.*)'", exc.message)
    if unknown:
        return f"没有命令“{unknown.group(1)}”"
    return exc.message


_PATH_PROBLEMS = (
    ("does not exist", "不存在"),
    ("is a directory", "是目录，应为文件"),
    ("is a file", "是文件，应为目录"),
    ("is not readable", "不可读（没有权限）"),
    ("is not writable", "不可写（没有权限）"),
    ("is not executable", "不可执行"),
)


def _path_problem_zh(message: str) -> str:
    """click.Path's English complaint about a path, in Chinese."""
    given = re.search(r"'(.*)'", message)
    for english, chinese in _PATH_PROBLEMS:
        if english in message:
            return f"“{given.group(1) if given else ''}”{chinese}"
    return message


class KpiGroup(click.Group):
    """The `kpi` group: every error a person causes is one Chinese line, never a traceback."""

    def invoke(self, ctx: click.Context):
        """Run the command; errors from bad input become ClickExceptions in Chinese."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            message = user_error_zh(exc)
            if message is None:
                raise
            raise click.ClickException(message) from exc

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """click's main, with its English error lines ("Error:", "Usage:") in Chinese."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else (prog_name or "kpi")
            click.echo(f"用法错误：{usage_error_zh(exc)}", err=True)
            click.echo(f"运行 {where} --help 查看用法", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"错误：{exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("已中止", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=KpiGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
