"""Email over SMTP for `mailto://`/`mailtos://` channels, with every outcome told apart.

apprise parses the URL (host, port, TLS mode, user, password, from, to, `cto`); the send is
ours, because apprise reports an SMTP failure as a bare False: it does not say 451 from 550,
a refused password from a timeout, or whether the server hung up before or after it had the
whole message. Here each phase is known:

- before the message is out (connect, TLS, login, MAIL, RCPT, DATA): a failure is *certain*;
  its SMTP code decides (4xx: retried later; 5xx and authentication: permanent);
- after the message is out, the reply to the final "." is the only proof: 250 is sent, a code
  is certain, and no reply (timeout, connection dropped) is *uncertain*: the server may have
  queued it.

One SMTP transaction carries all recipients of a URL, so a retry never mails one of them twice
because another failed.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from apprise import NotifyFormat
from apprise.conversion import convert_between

from kpi import clock

DEFAULT_TIMEOUT = 15.0  # apprise's own default for `cto`
_LINE_ENDS = re.compile(r"\r\n|\r|\n")


def build_message(service, title: str, html: str, delivery: str) -> EmailMessage:
    """The email: subject, a plain-text alternative derived from the HTML, and the HTML."""
    msg = EmailMessage()
    msg["Subject"] = title
    from_name, from_addr = service.from_addr
    msg["From"] = formataddr((from_name or "", from_addr))
    msg["To"] = ", ".join(formataddr((name or "", addr)) for name, addr in service.targets)
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain=str(service.smtp_host or "localhost"))
    msg["X-KPI-Delivery"] = delivery  # message id and part: lets a receiver count deliveries
    plain = convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, html)
    msg.set_content(plain, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    return msg


class _Watchdog:
    """Shuts the connection down after `seconds`: no server can hold a run longer than that."""

    def __init__(self, seconds: float, smtp: smtplib.SMTP):
        self.fired = False
        self._smtp = smtp
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        sock = getattr(self._smtp, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def timed_out(exc: BaseException | None) -> bool:
    """Whether an error is, or was caused by, a socket timeout (smtplib rewraps it)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, TimeoutError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _code_outcome(phase: str, code: int, reply: bytes | str, *, after_data: bool = False) -> dict:
    """A certain failure with its SMTP code: 4xx is retried later, 5xx is permanent."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    outcome = {
        "outcome": "smtp_error",
        "smtp_code": code,
        "detail": f"SMTP {code}（{phase}）：{text[:120]}",
    }
    if 500 <= code < 600:
        # A recipient or sender refused is the channel's fault; content refused is the message's.
        outcome["permanent"] = "message" if after_data else "channel"
    return outcome


def send_email(service, title: str, html: str, delivery: str) -> dict:
    """Send one email through the channel's SMTP server; the outcome of the attempt."""
    timeout = float(getattr(service, "socket_connect_timeout", None) or DEFAULT_TIMEOUT)
    host, port = str(service.smtp_host or service.host), int(service.port or 25)
    mode = str(getattr(service, "secure_mode", "insecure")).lower()
    recipients = [addr for _name, addr in service.targets]
    if not recipients:
        return {"outcome": "error", "detail": "邮件渠道没有收件人", "permanent": "channel"}
    context = ssl.create_default_context()
    if not getattr(service, "verify_certificate", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    data = _LINE_ENDS.sub("\r\n", build_message(service, title, html, delivery).as_string())
    payload = re.sub(r"(?m)^\.", "..", data).encode("utf-8")
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    payload += b".\r\n"

    smtp: smtplib.SMTP | None = None
    phase = "连接"
    try:
        try:
            if mode == "ssl":
                smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
                if mode == "starttls":
                    phase = "STARTTLS"
                    smtp.starttls(context=context)
            phase = "EHLO"
            smtp.ehlo_or_helo_if_needed()
            if service.user and service.password:
                phase = "登录"
                smtp.login(service.user, service.password)
            phase = "发件人"
            code, reply = smtp.mail(service.from_addr[1])
            if code != 250:
                return _code_outcome(phase, code, reply)
            phase = "收件人"
            for addr in recipients:
                code, reply = smtp.rcpt(addr)
                if code not in (250, 251):
                    return _code_outcome(phase, code, reply)
            phase = "DATA"
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                return _code_outcome(phase, code, reply)
            smtp.send(payload)
        except smtplib.SMTPAuthenticationError as exc:
            return {
                "outcome": "auth",
                "smtp_code": exc.smtp_code,
                "detail": f"SMTP {exc.smtp_code}：认证失败（用户名或密码错误）",
                "permanent": "channel",
            }
        except smtplib.SMTPNotSupportedError:
            return {"outcome": "auth", "detail": f"服务器不支持{phase}", "permanent": "channel"}
        except smtplib.SMTPResponseException as exc:
            return _code_outcome(phase, exc.smtp_code, exc.smtp_error)
        except ConnectionRefusedError:
            return {"outcome": "refused", "detail": "连接被拒绝"}
        except TimeoutError:
            return {"outcome": "timeout", "detail": f"{phase}时 {timeout:g} 秒内无应答（未发出）"}
        except (OSError, smtplib.SMTPException) as exc:
            return {"outcome": "error", "detail": f"{phase}失败：{type(exc).__name__}（未发出）"}
        # The whole message is with the server: only its reply to "." proves anything now.
        with _Watchdog(timeout, smtp) as dog:
            try:
                code, reply = smtp.getreply()
            except Exception as exc:  # noqa: BLE001 - every way the reply can fail to come
                if dog.fired or timed_out(exc):
                    return {
                        "outcome": "timeout",
                        "uncertain": True,
                        "detail": f"邮件已发出，{timeout:g} 秒内未得到确认（可能已送达）",
                    }
                return {
                    "outcome": "dropped",
                    "uncertain": True,
                    "detail": "邮件已发出，服务器未确认即断开（可能已送达）",
                }
        if code != 250:
            return _code_outcome("DATA 结束", code, reply, after_data=True)
        return {"outcome": "sent", "smtp_code": 250, "detail": None}
    finally:
        if smtp is not None:
            with contextlib.suppress(Exception):
                smtp.close()
