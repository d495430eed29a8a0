"""The department's personal link in its messages: minted at delivery time, never stored.

Messages are rendered into alerts.outbox when the nightly run raises them; a token written
there would sit in the warehouse (and its snapshot) in clear. So the outbox holds no link, and
`deliver` asks for one as it sends a department's message (kpi/alerts/delivery.py):

    link = kpi.desk.links.mint_link(cfg, plan_code, department_code, now=now)   # None if no desk
    # first attempt: store link.token_id, link.issued, link.expires with the delivery
    link = kpi.desk.links.same_link(cfg, plan_code, department_code, token_id, issued, expires)
    # every later attempt: the same token again (same id, times and secret: same signature)

A token is `HMAC(secret, claims)`: from its id and times the same token is signed again, so a
delivery keeps only those (never the token) and still sends the very same text when it retries.
Each first attempt mints a fresh token (valid cfg.desk_token_days), so a forwarded message grants
no more than that department's own page, and one message's link can be revoked by its id.
`link_line` (label + URL, at most LINK_LINE_BYTES bytes of UTF-8) is the plain form; a renderer
that packs parts to WeCom's 4096-byte limit reserves LINK_LINE_BYTES for the line it appends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from kpi.config import Settings
from kpi.desk.tokens import mint, scope_of

LINK_LABEL = "在线填报与回执（本单位专用链接，请勿转发）："
# The label (69 bytes), a base URL of up to 200 bytes, "/?token=" and a token (~180 bytes).
MAX_BASE_URL_BYTES = 200
LINK_LINE_BYTES = 512


@dataclass(frozen=True)
class MessageLink:
    """A department's link as a message carries it: the URL and what may be stored of it."""

    url: str  # holds the token: never stored or logged
    token_id: str
    issued: datetime  # aware
    expires: datetime  # aware


# An address a message can carry as a link: no spaces, quotes, brackets or parentheses (they
# would end a markdown link or an HTML attribute early).
_LINKABLE = re.compile(r"https?://[^\s()<>\[\]\"'`]+")


def base_url(cfg: Settings) -> str | None:
    """The desk's address for links (`desk_base_url`), or None when links cannot be made."""
    base = cfg.desk_base_url.strip().rstrip("/")
    if not base or len(base.encode("utf-8")) > MAX_BASE_URL_BYTES:
        return None
    return base if _LINKABLE.fullmatch(base) else None


def mint_link(
    cfg: Settings, plan_code: str, department_code: str, *, now: datetime | None = None
) -> MessageLink | None:
    """A new link for a department (a fresh token id), or None when no desk is set up."""
    base = base_url(cfg)
    if base is None:
        return None
    token, claims = mint(cfg, plan_code, scope_of(department=department_code), now=now)
    return MessageLink(f"{base}/?token={token}", claims.id, claims.issued, claims.expires)


def same_link(
    cfg: Settings,
    plan_code: str,
    department_code: str,
    token_id: str,
    issued: datetime,
    expires: datetime,
) -> MessageLink | None:
    """The link minted earlier with this id and these times, signed again (None: no desk)."""
    base = base_url(cfg)
    if base is None:
        return None
    days = max(1, round((expires - issued) / timedelta(days=1)))
    token, claims = mint(
        cfg,
        plan_code,
        scope_of(department=department_code),
        days=days,
        now=issued,
        token_id=token_id,
    )
    return MessageLink(f"{base}/?token={token}", claims.id, claims.issued, claims.expires)


def department_link(
    cfg: Settings, plan_code: str, department_code: str, *, now: datetime | None = None
) -> tuple[str, str] | None:
    """(`<desk_base_url>/?token=…`, token id) for a department, or None when no desk is set up."""
    link = mint_link(cfg, plan_code, department_code, now=now)
    return (link.url, link.token_id) if link else None


def link_line(
    cfg: Settings, plan_code: str, department_code: str, *, now: datetime | None = None
) -> str:
    """The line a department's message ends with ("" when no desk is set up)."""
    link = department_link(cfg, plan_code, department_code, now=now)
    return f"{LINK_LABEL}{link[0]}" if link else ""
