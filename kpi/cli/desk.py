"""`kpi desk` (serve the web desk), `kpi desk token`, `kpi desk revoke`."""

from __future__ import annotations

import json
import re
import sys

import click

_TOKEN_ID = re.compile(r"^[0-9a-f]{12}$")


def _settings():
    from kpi.config import settings

    return settings()


def _catalogue(plan: str):
    from kpi.catalogue import CatalogueError, get_catalogue

    try:
        return get_catalogue(plan)
    except (CatalogueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("desk", invoke_without_command=True)
@click.option("--host", default=None, help="监听地址（默认取配置 desk_host，127.0.0.1）")
@click.option("--port", type=int, default=None, help="端口（默认取配置 desk_port，8700）")
@click.pass_context
def desk_group(ctx: click.Context, host: str | None, port: int | None) -> None:
    """填报网页：部门报送与回执、督办台、进展报告 / serve the submission desk."""
    if ctx.invoked_subcommand is not None:
        return
    from kpi.desk.server import serve
    from kpi.desk.tokens import SecretError, secret

    cfg = _settings()
    _catalogue(ctx.obj["plan"])
    try:
        secret(cfg)  # made once, before the first request
    except SecretError as exc:
        raise click.ClickException(str(exc)) from exc
    host = host or cfg.desk_host
    port = cfg.desk_port if port is None else port
    serve(cfg, ctx.obj["plan"], host=host, port=port, announce=lambda s: click.echo(s, err=True))


@desk_group.command("token")
@click.option("--department", "-d", default=None, help="单位代码或名称，如 fgw、发改委")
@click.option(
    "--role",
    type=click.Choice(["dcj", "leaders"]),
    default=None,
    help="dcj 督查局 / leaders 区领导",
)
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=None,
    help="有效天数（默认取配置 desk_token_days）",
)
@click.option("--json", "as_json", is_flag=True, help="JSON 输出")
@click.pass_context
def token_cmd(
    ctx: click.Context, department: str | None, role: str | None, days: int | None, as_json: bool
) -> None:
    """签发专属链接令牌 / print a signed token for a department or a role."""
    from kpi.desk.tokens import ROLE_ZH, SecretError, mint, scope_of

    if (department is None) == (role is None):
        raise click.UsageError("请指定 --department 或 --role 之一")
    cfg = _settings()
    cat = _catalogue(ctx.obj["plan"])
    if department is not None:
        dept = cat.resolve_department(department)
        if dept is None:
            known = "、".join(d.short_zh for d in cat.departments)
            raise click.ClickException(f"未知单位：{department}（已登记：{known}）")
        scope, label = scope_of(department=dept.code), dept.short_zh
    else:
        scope, label = scope_of(role=role), ROLE_ZH[role]
    try:
        token, claims = mint(cfg, cat.plan.code, scope, days=days)
    except SecretError as exc:
        raise click.ClickException(str(exc)) from exc
    link = f"{cfg.desk_base_url.rstrip('/')}/?token={token}"
    if as_json:
        data = {
            "id": claims.id,
            "scope": claims.scope,
            "plan": claims.plan,
            "expires": claims.expires.isoformat(),
            "token": token,
            "link": link,
        }
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    click.echo(f"令牌编号：{claims.id}（{label}，有效至 {claims.expires:%Y-%m-%d %H:%M}）")
    click.echo(f"专属链接：{link}")
    click.echo(f"API 令牌：{token}")
    click.echo(f"只发给{label}本身；吊销：kpi desk revoke {claims.id}")


@desk_group.command("revoke")
@click.argument("what", required=False)
@click.option("--department", "-d", default=None, help="吊销该单位此前签发的全部令牌")
@click.option(
    "--role",
    type=click.Choice(["dcj", "leaders"]),
    default=None,
    help="吊销该身份此前签发的全部令牌",
)
@click.option("--note", default=None, help="吊销说明")
@click.pass_context
def revoke_cmd(
    ctx: click.Context, what: str | None, department: str | None, role: str | None, note: str | None
) -> None:
    """吊销令牌（按编号或令牌本身，或按单位/身份）/ revoke a token, or every token of a scope."""
    from kpi.desk.actions import Busy, revoke
    from kpi.desk.tokens import TokenError, parse, scope_of

    if sum(x is not None for x in (what, department, role)) != 1:
        raise click.UsageError("请给出令牌编号（或令牌），或 --department、--role 之一")
    cfg = _settings()
    token_id = scope = None
    if what is not None:
        if _TOKEN_ID.match(what):
            token_id = what
        else:
            try:
                token_id = parse(cfg, what).id
            except TokenError as exc:
                raise click.ClickException(f"{exc}（请给出 12 位令牌编号或完整令牌）") from None
        label = f"令牌 {token_id}"
    elif department is not None:
        cat = _catalogue(ctx.obj["plan"])
        dept = cat.resolve_department(department)
        if dept is None:
            raise click.ClickException(f"未知单位：{department}")
        scope, label = scope_of(department=dept.code), f"{dept.short_zh}此前签发的全部令牌"
    else:
        scope, label = scope_of(role=role), f"{role} 此前签发的全部令牌"
    try:
        done = revoke(cfg, token_id=token_id, scope=scope, note=note)
    except Busy as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已吊销{label}（{done['revoked_at']:%Y-%m-%d %H:%M}），网页立即生效")


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    group.add_command(desk_group)
