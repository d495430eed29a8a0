"""Personal links: signed tokens carrying a scope, an id and an expiry; the key; revocation.

A token is `kd1.<payload>.<signature>`: the payload is base64url JSON
`{"p": plan, "s": scope, "i": id, "t": issued, "e": expires}` (epoch seconds) and the signature
is HMAC-SHA256 over `kd1.<payload>` with a key derived from the desk secret. Scopes are
`dept:<code>` (one department), `dcj` (督查局) and `leaders` (区领导). Nothing stores a token:
`kpi desk token` prints it, a message carries it; the warehouse holds only ids (meta.access,
meta.desk_revocations). Tokens are a link-based stand-in for WeCom identity (docs/operations.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from kpi import clock
from kpi.config import Settings

PREFIX = "kd1"
SECRET_ENV = "KPI_DESK_SECRET"
MIN_SECRET_CHARS = 32
MAX_TOKEN_CHARS = 600  # a real token is ~170 characters; anything longer is not parsed
ROLES = ("dcj", "leaders")
ROLE_ZH = {"dcj": "督查局", "leaders": "区领导"}


class TokenError(ValueError):
    """A token that is malformed, forged, expired, revoked or for another plan (Chinese text)."""


class SecretError(RuntimeError):
    """The desk secret is unusable (Chinese text)."""


@dataclass(frozen=True)
class Token:
    """A verified token's claims."""

    plan: str
    scope: str
    id: str
    issued: datetime  # aware
    expires: datetime  # aware

    @property
    def department(self) -> str | None:
        """The department code of a department token, else None."""
        return self.scope.removeprefix("dept:") if self.scope.startswith("dept:") else None

    @property
    def role(self) -> str | None:
        """dcj or leaders for a role token, else None."""
        return self.scope if self.scope in ROLES else None


def desk_dir(cfg: Settings) -> Path:
    """The desk's own state folder under home (secret key, access buffer, upload records)."""
    return cfg.home / "desk"


def secret(cfg: Settings) -> bytes:
    """The desk secret: env KPI_DESK_SECRET, else <home>/desk/secret.key (made once, mode 600)."""
    raw = os.environ.get(SECRET_ENV, "").strip()
    if raw:
        if len(raw) < MIN_SECRET_CHARS:
            raise SecretError(f"环境变量 {SECRET_ENV} 太短：至少 {MIN_SECRET_CHARS} 个字符")
        return raw.encode("utf-8")
    path = desk_dir(cfg) / "secret.key"
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return _read_key(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    if len(text) < MIN_SECRET_CHARS:
        raise SecretError(f"密钥文件 {path} 内容无效：删除后重新启动将生成新密钥（旧链接全部失效）")
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # never readable by others, whoever made it
    return text.encode("ascii")


def subkey(cfg: Settings, purpose: str) -> bytes:
    """A key for one purpose (tokens, csrf), derived from the secret."""
    return hmac.new(secret(cfg), f"kpi-desk:{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def scope_of(*, department: str | None = None, role: str | None = None) -> str:
    """The scope string of a department code or a role."""
    if (department is None) == (role is None):
        raise ValueError("exactly one of department and role")
    if role is not None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        return role
    return f"dept:{department}"


def mint(
    cfg: Settings,
    plan: str,
    scope: str,
    *,
    days: int | None = None,
    now: datetime | None = None,
    token_id: str | None = None,
) -> tuple[str, Token]:
    """A new signed token for a scope of a plan, valid for `days` (default cfg.desk_token_days)."""
    now = (now or clock.now(cfg.tz)).replace(microsecond=0)
    days = cfg.desk_token_days if days is None else days
    if days < 1:
        raise ValueError("days must be at least 1")
    claims = Token(plan, scope, token_id or secrets.token_hex(6), now, now + timedelta(days=days))
    payload = {
        "p": claims.plan,
        "s": claims.scope,
        "i": claims.id,
        "t": int(claims.issued.timestamp()),
        "e": int(claims.expires.timestamp()),
    }
    body = f"{PREFIX}.{_b64(json.dumps(payload, separators=(',', ':')).encode())}"
    sig = hmac.new(subkey(cfg, "token"), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(sig)}", claims


def parse(cfg: Settings, token: str) -> Token:
    """The claims of a token whose signature is good (expiry and revocation not checked)."""
    token = (token or "").strip()
    parts = token.split(".")
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or parts[0] != PREFIX:
        raise TokenError("链接无效：令牌格式不正确")
    body = f"{parts[0]}.{parts[1]}"
    want = hmac.new(subkey(cfg, "token"), body.encode("ascii", "replace"), hashlib.sha256).digest()
    try:
        got = _unb64(parts[2])
        payload = json.loads(_unb64(parts[1]))
        tz = cfg.tz
        claims = Token(
            str(payload["p"]),
            str(payload["s"]),
            str(payload["i"]),
            datetime.fromtimestamp(int(payload["t"]), tz),
            datetime.fromtimestamp(int(payload["e"]), tz),
        )
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError):
        raise TokenError("链接无效：令牌格式不正确") from None
    if not hmac.compare_digest(want, got):
        raise TokenError("链接无效：签名不符（可能被改动，或密钥已更换）")
    return claims


def verify(
    cfg: Settings,
    token: str,
    plan: str,
    revocations: Revocations,
    now: datetime | None = None,
) -> Token:
    """The claims of a token that is genuine, unexpired, unrevoked and for this plan."""
    claims = parse(cfg, token)
    now = now or clock.now(cfg.tz)
    if claims.plan != plan:
        raise TokenError("链接不属于本系统当前的计划年度，请向督查局索取新链接")
    if now >= claims.expires:
        raise TokenError(f"链接已于 {claims.expires:%Y-%m-%d %H:%M} 过期，请向督查局索取新链接")
    if revocations.revoked(claims):
        raise TokenError("链接已被吊销，请向督查局索取新链接")
    return claims


@dataclass(frozen=True)
class Revocations:
    """Revoked token ids, and scopes revoked as of a moment (tokens issued before it)."""

    ids: frozenset[str] = frozenset()
    scopes: tuple[tuple[str, datetime], ...] = ()  # (scope, revoked_at aware)

    def revoked(self, claims: Token) -> bool:
        """Whether these revocations cover a token."""
        if claims.id in self.ids:
            return True
        return any(s == claims.scope and claims.issued <= at for s, at in self.scopes)


def csrf_token(cfg: Settings, claims: Token) -> str:
    """The form token bound to a session (its token id): a page's forms carry it back."""
    mac = hmac.new(subkey(cfg, "csrf"), claims.id.encode(), hashlib.sha256).digest()
    return _b64(mac)[:32]


def csrf_ok(cfg: Settings, claims: Token, sent: str | None) -> bool:
    """Whether a posted form token matches the session's."""
    return bool(sent) and hmac.compare_digest(csrf_token(cfg, claims), str(sent))
