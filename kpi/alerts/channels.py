"""Routing: the apprise configuration (tags per department, `leaders`, `dcj`) or local sinks.

A channel is one destination (a robot, a mailbox): a message whose tags lead to it several
times goes there once. Channels are named `<scheme>://<host>#<fingerprint>`, the fingerprint
taken from the URL as written in the file (placeholders, never secrets), so an id is stable
whatever the key and reveals nothing.

Secrets are written in the YAML as `{{ENV_NAME}}` and filled from the environment at load: a
placeholder that is the whole value is inserted as is (a whole URL, a password token), one
inside a URL is percent-encoded. Each entry is loaded on its own, so a missing variable breaks
that channel only (`Router.broken`). Every value filled in is remembered by the process-wide
masker, which scrubs log records of apprise and of this package, and every error text stored
in the warehouse.

apprise 2.0.1 crashes (KeyError 'password') on a custom scheme's URL with a query string in a
YAML file; the query of a `kpiwecom://` or `kpisink://` URL is therefore moved into YAML tokens.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import apprise
import yaml

from kpi.alerts import plugins  # noqa: F401 - registers kpiwecom:// and kpisink://

log = logging.getLogger("kpi.alerts")

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
OUR_SCHEMES = ("kpiwecom", "kpisink")
EMAIL_SCHEMES = ("mailto", "mailtos")
_KEY_PARAM = re.compile(r"(?i)(key=)[^&\s\"'<>]+")
_USERINFO = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
# A desk token (kpi/desk/tokens.py: kd1.<payload>.<signature>), as a department's link carries it.
_DESK_TOKEN = re.compile(r"kd1\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


class ConfigError(ValueError):
    """The apprise configuration cannot be used; the message names the problem, never a secret."""


class Masker:
    """Replaces every known secret (and any key=..., user:password@ or desk token) with ****."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def add(self, value: str) -> None:
        """Remember a secret, raw and percent-encoded."""
        if value and len(value) >= 4:
            self.secrets.update(
                {value, urllib.parse.quote(value, safe=""), urllib.parse.quote(value)}
            )

    def mask(self, text: object) -> str | None:
        """The text with secrets hidden."""
        if text is None:
            return None
        s = str(text)
        for secret in sorted(self.secrets, key=len, reverse=True):
            s = s.replace(secret, "****")
        s = _KEY_PARAM.sub(r"\1****", s)
        s = _DESK_TOKEN.sub("kd1.****", s)
        return _USERINFO.sub(r"\1****@", s)


MASKER = Masker()


class MaskingFilter(logging.Filter):
    """Scrubs secrets from a log record before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with secrets masked."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return True
        masked = MASKER.mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        return True


_FILTER = MaskingFilter()
for _name in ("apprise", "kpi.alerts"):
    if _FILTER not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_FILTER)


def substitute(value: str, env: Mapping[str, str]) -> str:
    """Fill {{ENV_NAME}} placeholders from `env`; a missing variable is an error naming it."""
    whole = PLACEHOLDER.fullmatch(value.strip()) is not None

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in env or env[name] == "":
            raise ConfigError(f"环境变量 {name} 未设置（apprise 配置中引用）")
        secret = env[name]
        MASKER.add(secret)
        return secret if whole else urllib.parse.quote(secret, safe="")

    return PLACEHOLDER.sub(fill, value)


def _walk(node: object, env: Mapping[str, str]) -> object:
    if isinstance(node, str):
        return substitute(node, env)
    if isinstance(node, list):
        return [_walk(x, env) for x in node]
    if isinstance(node, dict):
        return {_walk(k, env): _walk(v, env) for k, v in node.items()}
    return node


def _lift_query(url: str, tokens: object) -> tuple[str, object]:
    """Move `?a=b` of our own schemes into YAML tokens (apprise 2.0.1 YAML bug)."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in OUR_SCHEMES or "?" not in url:
        return url, tokens
    base, query = url.split("?", 1)
    params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if tokens is None:
        return base, [params]
    if isinstance(tokens, dict):
        return base, [{**params, **tokens}]
    return base, [{**params, **t} for t in tokens]


def prepare_yaml(text: str, env: Mapping[str, str] | None = None) -> str:
    """Apprise YAML with secrets filled in and our schemes' queries lifted into tokens."""
    env = os.environ if env is None else env
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"apprise 配置不是有效的 YAML：{type(exc).__name__}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("urls"), list):
        raise ConfigError("apprise 配置缺少 urls 列表")
    doc = _walk(doc, env)
    urls = []
    for entry in doc["urls"]:
        if isinstance(entry, str):
            url, tokens = _lift_query(entry, None)
            urls.append({url: tokens} if tokens is not None else url)
        elif isinstance(entry, dict):
            lifted = {}
            for url, tokens in entry.items():
                new_url, new_tokens = _lift_query(str(url), tokens)
                lifted[new_url] = new_tokens
            urls.append(lifted)
        else:
            urls.append(entry)
    doc["urls"] = urls
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


# URL options that do not change where a message goes: a robot or mailbox listed twice with
# different ones is still one channel (one copy of each message).
_NOT_DESTINATION = {
    "tag",
    "tags",
    "mention",
    "mention_mobile",
    "timeout",
    "cto",
    "retry",
    "wait",
    "format",
    "overflow",
    "optional",
    "verify",
}
_TAG_SPLIT = re.compile(r"[\s,]+")
_TEMPLATE_HOST = re.compile(r"^[a-z0-9+]+://(?:[^@/?#]*@)?([^:/?#]+)(?::(\d+))?", re.I)


@dataclass(frozen=True)
class Channel:
    """One destination (a robot, a mailbox, a sink folder) and every routing tag that leads to it."""

    id: str  # <scheme>://<host>#<fingerprint>, or kpisink://<kind>/<tag>: never a key or password
    kind: str  # wecom | email | other (a sink is wecom or email: it writes what they would get)
    scheme: str
    host: str
    tags: tuple[str, ...]
    service: object | None  # the apprise plugin instance; None when it could not be built
    error: str | None = None  # why it could not be built (a missing variable), in Chinese
    mention: bool = False  # a WeCom robot with people to @ (mention / mention_mobile tokens)

    @property
    def tag(self) -> str:
        """Its routing tags, comma-separated (as deliveries record them)."""
        return ",".join(self.tags)


def _kind(scheme: str) -> str:
    if scheme == "kpiwecom":
        return "wecom"
    return "email" if scheme in EMAIL_SCHEMES else "other"


def _describe(service: object) -> tuple[str, str, str]:
    """(kind, scheme, host) of a service, without secrets."""
    scheme = str(getattr(service, "schema", "") or getattr(service, "secure_protocol", ""))
    scheme = scheme.lower()
    port = getattr(service, "port", None)
    if scheme == "kpiwecom":
        if (getattr(service, "fullpath", "") or "").strip("/"):
            host = str(service.host) + (f":{port}" if port else "")
        else:
            host = plugins.WECOM_HOST  # the key sits in the host position: never show it
        return "wecom", scheme, host
    if scheme == "kpisink":
        return str(service.host), scheme, str(service.host)
    if scheme in EMAIL_SCHEMES or hasattr(service, "smtp_host"):
        host = str(getattr(service, "smtp_host", None) or service.host)
        return "email", scheme, host + (f":{port}" if port else "")
    return "other", scheme, str(getattr(service, "host", "") or "")


def _template_host(scheme: str, url: str) -> str:
    """The host of a URL as written (placeholders unfilled); the WeCom host for a bare key."""
    match = _TEMPLATE_HOST.match(url)
    host = match.group(1) if match else ""
    if scheme == "kpiwecom" and (not match or "/" not in url.split("://", 1)[1].split("?")[0]):
        return plugins.WECOM_HOST
    if not host or "{" in host:
        return "?"
    return host + (f":{match.group(2)}" if match.group(2) else "")


def fingerprint(url: str, tokens: Mapping | None) -> str:
    """8 hex digits naming a destination: the URL as written (placeholders, not secrets)."""
    base, _, query = url.partition("?")
    params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    params.update({str(k): v for k, v in (tokens or {}).items()})
    kept = sorted(
        (k.lower(), str(v)) for k, v in params.items() if k.lower() not in _NOT_DESTINATION
    )
    text = base.rstrip("/") + "?" + urllib.parse.urlencode(kept)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _tags(tokens: Mapping | None, base: Mapping) -> tuple[str, ...]:
    found: list[str] = []
    for source in (base, tokens or {}):
        for key in ("tag", "tags"):
            value = source.get(key)
            items = value if isinstance(value, list | tuple | set) else [value]
            for item in items:
                if item is not None:
                    found += [t for t in _TAG_SPLIT.split(str(item)) if t]
    return tuple(dict.fromkeys(found))


def _entries(doc: dict) -> Iterator[tuple[str, Mapping | None]]:
    """(URL as written, one token set) for every service the YAML defines."""
    for entry in doc["urls"]:
        if isinstance(entry, str):
            yield entry, None
        elif isinstance(entry, dict):
            for url, tokens in entry.items():
                if tokens is None:
                    yield str(url), None
                elif isinstance(tokens, dict):
                    yield str(url), tokens
                else:
                    for one in tokens:
                        yield str(url), one if isinstance(one, dict) else None


def _build(url: str, tokens: Mapping | None, base: dict, env: Mapping[str, str]) -> Channel:
    """One channel from one YAML entry; a missing variable or bad URL breaks this one only."""
    scheme = url.split("://", 1)[0].lower()
    tags = _tags(tokens, base)
    cid = f"{scheme}://{{host}}#{fingerprint(url, tokens)}"

    def broken(reason: str) -> Channel:
        host = _template_host(scheme, url)
        return Channel(cid.format(host=host), _kind(scheme), scheme, host, tags, None, reason)

    try:
        filled = substitute(url, env)
        filled_tokens = _walk(dict(tokens), env) if tokens else None
    except ConfigError as exc:
        return broken(str(exc))
    filled, filled_tokens = _lift_query(filled, filled_tokens)
    one = {**base, "urls": [{filled: filled_tokens} if filled_tokens is not None else filled]}
    config = apprise.AppriseConfig()
    text = yaml.safe_dump(one, allow_unicode=True, sort_keys=False)
    services = list(config.services()) if config.add_config(text, format="yaml") else []
    if len(services) != 1:
        return broken(f"无法识别的发送地址（{scheme}://…）")
    service = services[0]
    service.retry = 0  # retries are ours: counted, backed off, never hidden inside one attempt
    kind, scheme, host = _describe(service)
    if kind in ("email", "wecom"):
        # SMTP relays take bursts, and WeCom has its own limiter: skip apprise's 5.5 s gap.
        service.request_rate_per_sec = 0
    meta = getattr(service, "_default_args", {}) or {}
    mention = kind == "wecom" and bool(meta.get("mention") or meta.get("mention_mobile"))
    return Channel(cid.format(host=host), kind, scheme, host, tags, service, None, mention)


class Router:
    """Channels per routing tag: from the apprise file, or local sinks when there is none."""

    def __init__(self, channels: list[Channel], sinks_dir: Path, configured: bool):
        self.configured = configured
        self.sinks_dir = sinks_dir
        merged: dict[str, Channel] = {}
        for c in channels:  # one destination listed twice is one channel with both its tags
            if c.id in merged:
                first = merged[c.id]
                tags = tuple(dict.fromkeys(first.tags + c.tags))
                merged[c.id] = replace(first, tags=tags, mention=first.mention or c.mention)
            else:
                merged[c.id] = c
        self.all = list(merged.values())
        self._sinks: dict[str, list[Channel]] = {}

    @property
    def broken(self) -> list[Channel]:
        """Channels that could not be built (a missing variable): they fail, the others send."""
        return [c for c in self.all if c.error]

    def channels(self, routes: str | Iterable[str]) -> list[Channel]:
        """Each distinct channel the tags lead to, once (sinks for a tag nothing serves)."""
        tags = [routes] if isinstance(routes, str) else list(routes)
        found: dict[str, Channel] = {}
        for tag in tags:
            matched = [c for c in self.all if tag in c.tags]
            if not matched:
                if self.configured:
                    log.warning(
                        "no apprise service is tagged %s: writing to local sinks instead", tag
                    )
                matched = self.sinks(tag)
            for c in matched:
                found.setdefault(c.id, c)
        return list(found.values())

    def sinks(self, tag: str) -> list[Channel]:
        """The local sink channels of a tag: always there, never failing (the last fallback)."""
        if tag not in self._sinks:
            chans = []
            for kind in ("wecom", "email"):
                service = apprise.Apprise.instantiate(f"kpisink://{kind}/{tag}", tag=tag)
                if service is None:
                    raise ConfigError("kpisink:// plugin is not registered")
                cid = f"kpisink://{kind}/{tag}"
                chans.append(Channel(cid, kind, "kpisink", kind, (tag,), service, None, True))
            self._sinks[tag] = chans
        return self._sinks[tag]


def load_router(
    config_path: Path | None, sinks_dir: Path, env: Mapping[str, str] | None = None
) -> Router:
    """A router from the apprise YAML file (secrets from the environment), or sinks only.

    Each entry is loaded on its own: a missing environment variable or an unusable URL breaks
    that channel only (`Router.broken`); the file as a whole must still be readable YAML.
    """
    if config_path is None:
        return Router([], sinks_dir, configured=False)
    env = os.environ if env is None else env
    try:
        text = Path(config_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"无法读取 apprise 配置 {config_path}：{exc.strerror}") from None
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"apprise 配置不是有效的 YAML：{type(exc).__name__}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("urls"), list):
        raise ConfigError("apprise 配置缺少 urls 列表")
    base = {k: v for k, v in doc.items() if k not in ("urls", "include")}
    channels = [_build(url, tokens, base, env) for url, tokens in _entries(doc)]
    if not channels:
        raise ConfigError(f"apprise 配置中没有可用的服务：{config_path}")
    return Router(channels, sinks_dir, configured=True)


def tags_of(routes: Iterable[str]) -> list[str]:
    """Distinct routing tags in first-seen order."""
    return list(dict.fromkeys(routes))
