"""Real servers on loopback that misbehave on cue: a WeCom group robot and an SMTP server.

Both count what *reaches the people* (a robot's post to the group, a mail accepted for
delivery), not what was asked of them, so a test can say how many copies of each message
arrived whatever the sender believes. Each takes a script: one mode per request (the last
mode repeats), and binds port 0 on 127.0.0.1 or a socket the test already bound.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

RATE_LIMIT = 20  # WeCom: messages per robot per minute
RATE_WINDOW = 60.0


def bound_socket() -> socket.socket:
    """A socket bound to a port of 127.0.0.1 but not listening: connections are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class FakeRobot:
    """WeCom's webhook: `posted` holds every message shown in the group, in order.

    Modes: "ok"; ("errcode", n) answered without posting; ("http", status); ("hang", s): no
    answer, nothing posted, the connection closed after s seconds; ("late", s): posted, answered
    after s seconds; ("trickle", s): posted, the answer sent one byte every s seconds;
    ("over", text): errcode 40058 for a body containing text, else posted; "rate": posted unless 20
    were posted in the last minute of `clock` (then errcode 45009); ("kill", "before" | "after"):
    SIGKILL to `client_pid` before posting (the request is lost with its sender) or after.
    """

    def __init__(
        self,
        script: list | None = None,
        *,
        sock: socket.socket | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.script: deque = deque(script or ["ok"])
        self.posted: list[dict] = []
        self.requests = 0
        self.keys: list[str] = []
        self.client_pid: int | None = None
        self.clock = clock
        self._times: list[float] = []
        self._lock = threading.Lock()
        robot = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length).decode("utf-8"))
                robot.keys.append(parse_qs(urlparse(self.path).query).get("key", [""])[0])
                robot.serve(self, body)

        if sock is None:
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        else:  # a socket the test bound earlier: refused until now, no port ever guessed
            self.server = ThreadingHTTPServer(sock.getsockname(), Handler, bind_and_activate=False)
            self.server.socket.close()
            self.server.socket = sock
            self.server.server_activate()
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def _next(self):
        with self._lock:
            self.requests += 1
            return self.script.popleft() if len(self.script) > 1 else self.script[0]

    def _post(self, body: dict) -> None:
        with self._lock:
            self.posted.append(body)

    def serve(self, h: BaseHTTPRequestHandler, body: dict) -> None:
        """Answer one request according to the script."""
        mode = self._next()
        name, arg = (mode, None) if isinstance(mode, str) else mode
        if name == "kill":
            if arg == "after":
                self._post(body)
            if self.client_pid:
                os.kill(self.client_pid, signal.SIGKILL)
            h.close_connection = True
            return
        if name == "hang":
            time.sleep(arg)
            h.close_connection = True
            return
        if name == "http":
            self._answer(h, arg, b"server error", "text/plain")
            return
        errcode = 0
        if name == "errcode":
            errcode = arg
        elif name == "over":  # WeCom finds this one too long after all
            content = body.get("markdown", body.get("text", {})).get("content", "")
            errcode = 40058 if arg in content else 0
        elif name == "rate":
            with self._lock:
                now = self.clock()
                self._times = [t for t in self._times if now - t < RATE_WINDOW]
                if len(self._times) >= RATE_LIMIT:
                    errcode = 45009
                else:
                    self._times.append(now)
        if errcode == 0:
            self._post(body)
        payload = json.dumps({"errcode": errcode, "errmsg": "ok" if not errcode else "err"})
        if name == "late":
            time.sleep(arg)
        if name == "trickle":
            self._trickle(h, payload.encode(), arg)
            return
        self._answer(h, 200, payload.encode(), "application/json")

    @staticmethod
    def _answer(h, status: int, data: bytes, ctype: str) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up

    @staticmethod
    def _trickle(h, data: bytes, interval: float) -> None:
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.flush()
            for i in range(len(data)):
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass  # the client gave up, as it should

    def contents(self) -> list[str]:
        """The text of every post, in order."""
        return [b.get("markdown", b.get("text", {})).get("content", "") for b in self.posted]

    def headings(self) -> list[str]:
        """The first line of every post: which message and part it was."""
        return [c.split("\n", 1)[0] for c in self.contents()]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class LoopbackSMTP(Controller):
    """aiosmtpd on 127.0.0.1, on port 0 or on a socket the test bound: no port is guessed."""

    def __init__(self, handler, *, sock: socket.socket | None = None, **kwargs):
        super().__init__(handler, hostname="127.0.0.1", port=0, **kwargs)
        self._sock = sock

    async def _serve(self):
        if self._sock is not None:
            server = await self.loop.create_server(self._factory_invoker, sock=self._sock)
        else:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0
            )
        self.port = server.sockets[0].getsockname()[1]
        return server

    def _create_server(self):
        return self._serve()


class FakeMailServer:
    """An SMTP server (aiosmtpd) whose `received` holds each mail accepted for delivery.

    Modes per transaction: "ok"; ("code", n): answer n to the end of DATA (nothing kept);
    "reject_rcpt": 550 to RCPT TO; "drop": keep the mail, then drop the connection without an
    answer; ("hang", s): no answer for s seconds (nothing kept). With `password` set, AUTH is
    required and only that password is accepted.
    """

    def __init__(self, script: list | None = None, *, password: str | None = None):
        self.script: deque = deque(script or ["ok"])
        self.received: list = []
        self.transactions = 0
        self.password = password
        fake = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if fake._peek() == "reject_rcpt":
                    fake._take()
                    return "550 5.1.1 No such user here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                mode = fake._take()
                name, arg = (mode, None) if isinstance(mode, str) else mode
                if name == "code":
                    return f"{arg} 4.3.0 Try again later" if arg < 500 else f"{arg} 5.6.0 No"
                if name == "hang":
                    await asyncio.sleep(arg)
                    return "451 4.3.0 Too late"
                mail = message_from_bytes(envelope.content, policy=policy.default)
                fake.received.append(mail)
                if name == "drop":
                    server.transport.abort()  # accepted, and gone before saying so
                return "250 OK"

        kwargs = {}
        if password is not None:

            def authenticate(server, session, envelope, mechanism, auth_data):
                ok = auth_data.password == password.encode()
                # handled=False: aiosmtpd answers 535 itself (else it stays silent)
                return AuthResult(success=ok, handled=False)

            kwargs = {"authenticator": authenticate, "auth_require_tls": False}
        self.controller = LoopbackSMTP(Handler(), **kwargs)
        self.controller.start()
        self.port = self.controller.port

    def _peek(self):
        return self.script[0]

    def _take(self):
        self.transactions += 1
        return self.script.popleft() if len(self.script) > 1 else self.script[0]

    def deliveries(self) -> list[str]:
        """The X-KPI-Delivery header (message id / part) of every mail kept."""
        return [str(m["X-KPI-Delivery"]) for m in self.received]

    def close(self) -> None:
        """Stop serving."""
        self.controller.stop()
