"""The project's apprise plugins: `kpiwecom://` (WeCom group robot) and `kpisink://` (local files).

Stock `wecombot://` sends only text and reports success on HTTP 200 whatever WeCom's `errcode`
says. `kpiwecom://` sends markdown (or text with @mentions), refuses bodies over WeCom's byte
limits instead of letting WeCom drop them, treats `errcode != 0` as a failure, keeps under
WeCom's 20 messages per minute per robot (18 by default, counted across processes), and tells
a certain failure from an *uncertain* one: once the whole request is out, a missing, late or
trickling answer means the robot may have posted the message (`uncertain` in the outcome).

URLs (options as YAML tokens under the URL, see config/apprise.example.yml):
  kpiwecom://KEY                              -> https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY
  kpiwecom://HOST[:PORT]/KEY  (tls: no)       -> http(s)://HOST[:PORT]/cgi-bin/webhook/send?key=KEY
  tokens: mention (WeCom user ids, or @all), mention_mobile, timeout (seconds, default 10: to
  connect, and again for the whole answer once the request is sent)
  kpisink://wecom/<tag>, kpisink://email/<tag> -> files under the configured sinks folder

The delivery loop passes per-call details (message id, part, text or markdown, the rate limiter,
the channel, where to write sinks) through a context variable and reads back the outcome of the
attempt; apprise copies context variables into its worker threads.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import hashlib
import http.client
import json
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from apprise.decorators import notify

from kpi.alerts.render import MARKDOWN_MAX_BYTES, TEXT_MAX_BYTES, nbytes

WECOM_HOST = "qyapi.weixin.qq.com"
WECOM_PATH = "/cgi-bin/webhook/send"
WECOM_PER_MINUTE = 18  # WeCom allows 20 per robot per minute (errcode 45009 above): keep a margin
DEFAULT_TIMEOUT = 10.0
MAX_ANSWER_BYTES = 65536  # WeCom answers with a few dozen bytes; never read an unbounded body
WECOM_ERRORS = {
    40058: "消息内容超长",
    45009: "发送频率超限",
    93000: "机器人 key 无效或已删除",
}
# errcodes that sending the same thing again cannot cure: the channel (key) or the message.
WECOM_PERMANENT = {93000: "channel", 40058: "message"}


def wall_seconds() -> float:
    """Seconds on the machine's clock, comparable between processes (rate limiting only)."""
    return time.time()  # wall clock: a robot's per-minute limit counts real seconds


class RateLimiter:
    """At most `limit` sends per `window` seconds per robot; the clock and sleep can be injected.

    With a `state_file` the sends are counted across processes (a deliver run that follows
    another within the minute sees the other's sends): the file holds the recent send times per
    robot and is read and written under an exclusive `flock`.
    """

    def __init__(
        self,
        limit: int = WECOM_PER_MINUTE,
        window: float = 60.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        state_file: Path | None = None,
    ):
        self.limit, self.window, self.sleep = limit, window, sleep
        self.clock = clock or (wall_seconds if state_file else time.monotonic)
        self.state_file = Path(state_file) if state_file else None
        self._memory: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, list[float]]]:
        if self.state_file is None:
            yield self._memory
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.state_file, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                try:
                    state = json.loads(fh.read() or "{}")
                except ValueError:  # a torn or foreign file: start counting afresh
                    state = {}
                if not isinstance(state, dict):
                    state = {}
                yield state
                fh.seek(0)
                fh.truncate()
                fh.write(json.dumps(state))
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def acquire(self, key: str) -> float:
        """Wait until one more send is allowed for `key`; return the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                with self._state() as state:
                    now = self.clock()
                    # A time in the future (the clock was set back) counts as now.
                    sent = [min(float(t), now) for t in state.get(key, [])]
                    sent = [t for t in sent if now - t < self.window]
                    for other in [k for k, v in state.items() if k != key and not v]:
                        del state[other]
                    if len(sent) < self.limit:
                        state[key] = [*sent, now]
                        return waited
                    state[key] = sent
                    pause = self.window - (now - min(sent))
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
    channel: str | None = None  # the channel id: the rate limiter's key
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


class _Watchdog:
    """Shuts a socket down when `seconds` have passed: a trickling answer cannot hold us."""

    def __init__(self, seconds: float, sock: socket.socket | None):
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        if self._sock is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def post_json(url: str, data: bytes, timeout: float) -> dict:
    """POST a JSON body; {"status", "raw"} or a failed outcome (`uncertain` once the body is out)."""
    parts = urllib.parse.urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        try:
            conn.connect()
        except ConnectionRefusedError:
            return {"outcome": "refused", "detail": "连接被拒绝"}
        except TimeoutError:
            return {"outcome": "timeout", "detail": f"{timeout:g} 秒内未能建立连接（未发出）"}
        except OSError as exc:
            return {"outcome": "error", "detail": f"网络错误：{type(exc).__name__}（未发出）"}
        try:
            headers = {"Content-Type": "application/json; charset=utf-8"}
            conn.request("POST", target, body=data, headers=headers)
        except OSError as exc:
            # The body did not get out whole: the robot cannot have posted it.
            return {"outcome": "error", "detail": f"请求未能完整发出：{type(exc).__name__}"}
        # The robot has the whole request from here on: without a full answer it may have
        # posted the message, so the outcome is uncertain (timeout or dropped).
        with _Watchdog(timeout, conn.sock) as dog:
            try:
                resp = conn.getresponse()
                status, raw = resp.status, resp.read(MAX_ANSWER_BYTES)
                complete = resp.length in (None, 0)
            except Exception as exc:  # noqa: BLE001 - every way an answer can fail to arrive
                if dog.fired or _timed_out(exc):
                    return _uncertain_timeout(timeout)
                return {
                    "outcome": "dropped",
                    "uncertain": True,
                    "detail": "请求已发出，应答前连接中断（可能已送达）",
                }
        if dog.fired or not complete:
            return _uncertain_timeout(timeout)
        return {"status": status, "raw": raw}
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def _timed_out(exc: BaseException | None) -> bool:
    """Whether an error is, or was caused by, a socket timeout."""
    for _ in range(5):
        if exc is None:
            return False
        if isinstance(exc, TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _uncertain_timeout(timeout: float) -> dict:
    return {
        "outcome": "timeout",
        "uncertain": True,
        "detail": f"请求已发出，{timeout:g} 秒内未得到完整应答（可能已送达）",
    }


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
        return _fail(
            out,
            "too_long",
            f"{size} 字节，超过 {limit} 字节上限",
            errcode=40058,
            permanent="message",
        )
    endpoint, key = wecom_endpoint(meta)
    if not key:
        return _fail(out, "error", "未配置机器人 key", permanent="channel")
    try:
        timeout = float(meta.get("timeout") or DEFAULT_TIMEOUT)
    except ValueError:
        timeout = DEFAULT_TIMEOUT
    # The limiter's key: the channel id, or (called outside the delivery loop) a digest kept
    # in memory only.
    robot = ctx.channel or hashlib.sha256(f"{endpoint}|{key}".encode()).hexdigest()
    ctx.limiter.acquire(robot)
    data = json.dumps(wecom_payload(content, ctx.msgtype, meta), ensure_ascii=False).encode()
    answer = post_json(f"{endpoint}?key={urllib.parse.quote(key, safe='-_')}", data, timeout)
    if "outcome" in answer:
        out.update(answer)
        return False
    status, raw = answer["status"], answer["raw"]
    if status != 200:
        return _fail(out, "http_error", f"HTTP {status}", http_status=status)
    try:
        parsed = json.loads(raw.decode("utf-8"))
        errcode = int(parsed.get("errcode", -1))
    except (ValueError, AttributeError, UnicodeDecodeError):
        return _fail(out, "error", "应答不是 JSON", http_status=status)
    if errcode != 0:
        meaning = WECOM_ERRORS.get(errcode, str(parsed.get("errmsg", ""))[:80])
        return _fail(
            out,
            "errcode",
            f"errcode {errcode}：{meaning}",
            http_status=status,
            errcode=errcode,
            permanent=WECOM_PERMANENT.get(errcode),
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
