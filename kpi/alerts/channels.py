"""Routing: the apprise configuration (tags per department, `leaders`, `dcj`) or local sinks.

Secrets are written in the YAML as `{{ENV_NAME}}` and filled from the environment at load: a
placeholder that is the whole value is inserted as is (a whole URL, a password token), one
inside a URL is percent-encoded. Every value filled in is remembered by the process-wide masker,
which scrubs log records of apprise and of this package, and every error text stored in the
warehouse. A channel is known by tag, scheme and host only, never by its key or password.

apprise 2.0.1 crashes (KeyError 'password') on a custom scheme's URL with a query string in a
YAML file; the query of a `kpiwecom://` or `kpisink://` URL is therefore moved into YAML tokens.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


class ConfigError(ValueError):
    """The apprise configuration cannot be used; the message names the problem, never a secret."""


class Masker:
    """Replaces every known secret (and any key=... or user:password@) with ****."""

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


@dataclass(frozen=True)
class Channel:
    """One apprise service behind one routing tag."""

    tag: str
    kind: str  # wecom | email | other
    scheme: str
    host: str
    ordinal: int
    service: object  # the apprise plugin instance

    @property
    def id(self) -> str:
        """How deliveries name it: tag, scheme and host (never a key or password)."""
        return f"{self.tag}|{self.scheme}://{self.host}#{self.ordinal}"


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


class Router:
    """Services per routing tag: from the apprise file, or local sinks when there is none."""

    def __init__(self, services: list, sinks_dir: Path, configured: bool):
        self.services = services
        self.sinks_dir = sinks_dir
        self.configured = configured
        self._sinks: dict[str, list[Channel]] = {}

    def channels(self, tag: str) -> list[Channel]:
        """The channels a message routed to `tag` goes to (sinks if nothing is configured)."""
        found: list[Channel] = []
        seen: dict[tuple, int] = {}
        for service in self.services:
            if tag not in {str(t) for t in getattr(service, "tags", ())}:
                continue
            kind, scheme, host = _describe(service)
            n = seen[(scheme, host)] = seen.get((scheme, host), 0) + 1
            found.append(Channel(tag, kind, scheme, host, n, service))
        if found:
            return found
        if self.configured:
            log.warning("no apprise service is tagged %s: writing to local sinks instead", tag)
        return self._sink_channels(tag)

    def _sink_channels(self, tag: str) -> list[Channel]:
        if tag not in self._sinks:
            chans = []
            for kind in ("wecom", "email"):
                service = apprise.Apprise.instantiate(f"kpisink://{kind}/{tag}", tag=tag)
                if service is None:
                    raise ConfigError("kpisink:// plugin is not registered")
                chans.append(Channel(tag, kind, "kpisink", kind, 1, service))
            self._sinks[tag] = chans
        return self._sinks[tag]


def load_router(
    config_path: Path | None, sinks_dir: Path, env: Mapping[str, str] | None = None
) -> Router:
    """A router from the apprise YAML file (secrets from the environment), or sinks only."""
    if config_path is None:
        return Router([], sinks_dir, configured=False)
    try:
        text = Path(config_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"无法读取 apprise 配置 {config_path}：{exc.strerror}") from None
    config = apprise.AppriseConfig()
    if not config.add_config(prepare_yaml(text, env), format="yaml"):
        raise ConfigError(f"apprise 配置无法加载：{config_path}")
    services = list(config.services())
    if not services:
        raise ConfigError(f"apprise 配置中没有可用的服务：{config_path}")
    for service in services:
        if _describe(service)[0] in ("email", "wecom"):
            # SMTP relays take bursts, and WeCom has its own limiter: skip apprise's 5.5 s gap.
            service.request_rate_per_sec = 0
    return Router(services, sinks_dir, configured=True)


def tags_of(routes: Iterable[str]) -> list[str]:
    """Distinct routing tags in first-seen order."""
    return list(dict.fromkeys(routes))
