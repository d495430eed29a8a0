"""The project's apprise plugins: `kpiwecom://` (WeCom group robot) and `kpisink://` (local files).

Stock `wecombot://` sends only text and reports success on HTTP 200 whatever WeCom's `errcode`
says. `kpiwecom://` sends markdown (or text with @mentions), refuses bodies over WeCom's byte
limits instead of letting WeCom drop them, treats `errcode != 0` as a failure, and keeps to
20 messages per minute per robot.

URLs (options as YAML tokens under the URL, see config/apprise.example.yml):
  kpiwecom://KEY                              -> https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY
  kpiwecom://HOST[:PORT]/KEY  (tls: no)       -> http(s)://HOST[:PORT]/cgi-bin/webhook/send?key=KEY
  tokens: mention (WeCom user ids, or @all), mention_mobile, timeout (seconds, default 10)
  kpisink://wecom/<tag>, kpisink://email/<tag> -> files under the configured sinks folder

The delivery loop passes per-call details (message id, part, text or markdown, the rate limiter,
where to write sinks) through a context variable and reads back the outcome of the attempt;
apprise copies context variables into its worker threads.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from apprise.decorators import notify

from kpi.alerts.render import MARKDOWN_MAX_BYTES, TEXT_MAX_BYTES, nbytes

WECOM_HOST = "qyapi.weixin.qq.com"
WECOM_PATH = "/cgi-bin/webhook/send"
WECOM_PER_MINUTE = 20  # documented limit per robot; above it WeCom answers errcode 45009
DEFAULT_TIMEOUT = 10.0
WECOM_ERRORS = {
    40058: "消息内容超长",
    45009: "发送频率超限",
    93000: "机器人 key 无效或已删除",
}


class RateLimiter:
    """At most `limit` sends per `window` seconds per key; the clock and sleep can be injected."""

    def __init__(
        self,
        limit: int = WECOM_PER_MINUTE,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.limit, self.window, self.clock, self.sleep = limit, window, clock, sleep
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Wait until one more send is allowed for `key`; return the seconds waited."""
        waited = 0.0
        with self._lock:
            sent = self._sent.setdefault(key, deque())
            while True:
                now = self.clock()
                while sent and now - sent[0] >= self.window:
                    sent.popleft()
                if len(sent) < self.limit:
                    sent.append(now)
                    return waited
                pause = self.window - (now - sent[0])
                self.sleep(pause)
                waited += pause


DEFAULT_LIMITER = RateLimiter()


@dataclass
class SendContext:
    """What the delivery loop tells a plugin about one call, and what the plugin reports back."""

    message_id: int | None = None
    part: int = 1
    parts: int = 1
    msgtype: str = "markdown"  # markdown | text (with @mentions)
    sinks_dir: Path | None = None
    limiter: RateLimiter = field(default_factory=lambda: DEFAULT_LIMITER)
    outcome: dict = field(default_factory=dict)


CURRENT: contextvars.ContextVar[SendContext | None] = contextvars.ContextVar(
    "kpi_alerts_send_context", default=None
)


def _truthy(value: object, default: bool = True) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("no", "false", "0", "off", "n")


def _split_list(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list | tuple | set) else str(value).split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def wecom_endpoint(meta: dict) -> tuple[str, str]:
    """(endpoint URL without the key, key) from a parsed kpiwecom:// URL."""
    host, port = meta.get("host") or "", meta.get("port")
    path = (meta.get("fullpath") or "").strip("/")
    if path:
        scheme = "https" if _truthy(meta.get("tls"), True) else "http"
        netloc = f"{host}:{port}" if port else host
        return f"{scheme}://{netloc}{WECOM_PATH}", path
    return f"https://{WECOM_HOST}{WECOM_PATH}", host


def wecom_payload(body: str, msgtype: str, meta: dict) -> dict:
    """The JSON WeCom expects for markdown, or for text with @mentions."""
    if msgtype == "text":
        text: dict = {"content": body}
        users, mobiles = _split_list(meta.get("mention")), _split_list(meta.get("mention_mobile"))
        if users:
            text["mentioned_list"] = users
        if mobiles:
            text["mentioned_mobile_list"] = mobiles
        return {"msgtype": "text", "text": text}
    return {"msgtype": "markdown", "markdown": {"content": body}}


def _fail(outcome: dict, kind: str, detail: str, **extra: object) -> bool:
    outcome.update(outcome=kind, detail=detail, **extra)
    return False


@notify(on="kpiwecom", name="企业微信群机器人（kpi）")
def send_wecom(body: str, title: str, notify_type: str, meta: dict, *args, **kwargs) -> bool:
    """Post one WeCom robot message; False on any failure, with the reason in the context."""
    ctx = CURRENT.get() or SendContext()
    out = ctx.outcome
    content = f"### {title}\n{body}" if title and ctx.msgtype == "markdown" else body
    limit = MARKDOWN_MAX_BYTES if ctx.msgtype == "markdown" else TEXT_MAX_BYTES
    size = nbytes(content)
    if size > limit:
        # WeCom would answer 40058 and deliver nothing: fail loudly here instead.
        return _fail(out, "too_long", f"{size} 字节，超过 {limit} 字节上限", errcode=40058)
    endpoint, key = wecom_endpoint(meta)
    if not key:
        return _fail(out, "error", "未配置机器人 key")
    try:
        timeout = float(meta.get("timeout") or DEFAULT_TIMEOUT)
    except ValueError:
        timeout = DEFAULT_TIMEOUT
    robot = hashlib.sha256(f"{endpoint}|{key}".encode()).hexdigest()  # in memory only
    ctx.limiter.acquire(robot)
    data = json.dumps(wecom_payload(content, ctx.msgtype, meta), ensure_ascii=False).encode()
    request = urllib.request.Request(
        f"{endpoint}?key={urllib.request.quote(key, safe='-_')}",
        data=data,
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return _fail(out, "http_error", f"HTTP {exc.code}", http_status=exc.code)
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            return _fail(out, "refused", "连接被拒绝")
        if isinstance(reason, TimeoutError):
            return _fail(out, "timeout", f"{timeout:g} 秒内无应答")
        return _fail(out, "error", f"网络错误：{type(reason).__name__}")
    except TimeoutError:
        return _fail(out, "timeout", f"{timeout:g} 秒内无应答")
    except OSError as exc:
        return _fail(out, "error", f"网络错误：{type(exc).__name__}")
    try:
        answer = json.loads(raw.decode("utf-8"))
        errcode = int(answer.get("errcode", -1))
    except (ValueError, AttributeError):
        return _fail(out, "error", "应答不是 JSON", http_status=status)
    if errcode != 0:
        meaning = WECOM_ERRORS.get(errcode, str(answer.get("errmsg", ""))[:80])
        return _fail(
            out, "errcode", f"errcode {errcode}：{meaning}", http_status=status, errcode=errcode
        )
    out.update(outcome="sent", http_status=status, errcode=0, detail=None)
    return True


@notify(on="kpisink", name="本地文件（kpi）")
def send_sink(body: str, title: str, notify_type: str, meta: dict, *args, **kwargs) -> bool:
    """Write one message part to a readable file: sinks/<wecom|email>/<tag>/<message id>.*."""
    ctx = CURRENT.get() or SendContext()
    channel = meta.get("host") or "wecom"
    tag = (meta.get("fullpath") or "").strip("/") or "all"
    base = ctx.sinks_dir or Path(meta.get("dir") or "sinks")
    folder = Path(base) / channel / tag
    folder.mkdir(parents=True, exist_ok=True)
    stem = str(
        ctx.message_id if ctx.message_id is not None else time.time_ns()
    )  # wall clock: a unique name only
    if channel == "email":
        name, content = f"{stem}.html", body
    elif ctx.msgtype == "text":
        name, content = f"{stem}-{ctx.part}-at.txt", body
    else:
        name = f"{stem}.md" if ctx.parts == 1 else f"{stem}-{ctx.part}.md"
        content = f"### {title}\n{body}" if title else body
    path = folder / name
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)
    ctx.outcome.update(outcome="sent", detail=None)
    return True
