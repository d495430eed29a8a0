"""The department's personal link in its messages: minted at delivery time, never stored.

Messages are rendered into alerts.outbox when the nightly run raises them; a token written
there would sit in the warehouse (and its snapshot) in clear. So the outbox holds no link, and
`deliver` asks for one as it sends a department's message:

    line = kpi.desk.links.link_line(cfg, plan_code, department_code, now=now)   # "" if none
    # append `line` to the last markdown part / the email footer of a dept-* message

Each call mints a fresh signed token for the department (valid cfg.desk_token_days), so a
forwarded message grants no more than that department's own page. Only the token's id may be
recorded (e.g. with the delivery attempt), never the link. A line is at most LINK_LINE_BYTES
bytes of UTF-8: a renderer that packs parts to WeCom's 4096-byte limit reserves that much.
"""

from __future__ import annotations

from datetime import datetime

from kpi.config import Settings
from kpi.desk.tokens import mint, scope_of

LINK_LABEL = "在线填报与回执（本单位专用链接，请勿转发）："
# The label (69 bytes), a base URL of up to 200 bytes, "/?token=" and a token (~180 bytes).
MAX_BASE_URL_BYTES = 200
LINK_LINE_BYTES = 512


def department_link(
    cfg: Settings, plan_code: str, department_code: str, *, now: datetime | None = None
) -> tuple[str, str] | None:
    """(`<desk_base_url>/?token=…`, token id) for a department, or None when no desk is set up."""
    base = cfg.desk_base_url.strip().rstrip("/")
    if not base or len(base.encode("utf-8")) > MAX_BASE_URL_BYTES:
        return None
    token, claims = mint(cfg, plan_code, scope_of(department=department_code), now=now)
    return f"{base}/?token={token}", claims.id


def link_line(
    cfg: Settings, plan_code: str, department_code: str, *, now: datetime | None = None
) -> str:
    """The line a department's message ends with ("" when no desk is set up)."""
    link = department_link(cfg, plan_code, department_code, now=now)
    return f"{LINK_LABEL}{link[0]}" if link else ""
