"""Helpers for alert tests: mart.progress rows, a WeCom webhook stand-in, catalogues."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from collections import deque
from datetime import date, datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from kpi.config import ROOT
from kpi.progress import COLUMNS

PROGRESS_COLUMNS = list(COLUMNS)  # mart.progress, as kpi.progress writes it
_COMPLETION = {"已完成": 100.0, "正常": 52.0, "预警": 46.0, "滞后": 40.0, "严重滞后": 30.0}
_OUTLOOK = {
    "正常": "进展顺利",
    "预警": "经过努力能够完成",
    "滞后": "仍需付出更大努力",
    "严重滞后": "仍需付出更大努力",
}


def progress_row(target, plan_code: str, as_of: date, status: str, **over) -> dict:
    """One mart.progress row for a catalogue target with plausible figures for its status."""
    value = target.canonical_value
    rate = _COMPLETION.get(status)
    actual = None if value is None or rate is None else value * rate / 100
    row = {
        "plan_code": plan_code,
        "as_of": as_of,
        "target_code": target.code,
        "name_zh": target.name_zh,
        "kind": target.kind,
        "department_code": target.department,
        "headline": target.headline,
        "firmness": target.firmness,
        "unit": target.canonical_unit,
        "target_value": value,
        "actual": actual,
        "expected": None if value is None else value * 0.5,
        "completion_rate": rate,
        "time_progress": 50.0,
        "gap_pp": None if rate is None else rate - 50.0,
        "projection": actual * 2 if actual is not None else None,
        "status": status,
        "data_status": "正常",
        "outlook": _OUTLOOK.get(status),
        "latest_period": f"{as_of.year}-{as_of.month - 1:02d}",
        "computed": False,
        "days_overdue": 0,
        "detail_zh": None,
        "computed_at": datetime(as_of.year, as_of.month, as_of.day),
    }
    row.update(over)
    return row


def _shared_conftest():
    """tests/conftest.py as a module (its `write_catalogue` and tiny targets)."""
    spec = importlib.util.spec_from_file_location(
        "kpi_tests_shared", ROOT / "tests" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHARED = _shared_conftest()


def many_targets(n: int) -> list[dict]:
    """`n` cumulative targets spread over the tiny register's departments."""
    depts = ["fgw", "tjj", "rsj", "kjj", "scjgj"]
    return [
        SHARED._t(
            f"project_{i:02d}",
            f"第{i}号重点项目年度计划投资完成情况",
            "cumulative",
            ">=",
            10.0 + i,
            "亿元",
            depts[i % len(depts)],
            "完成投资 227.4亿元",
        )
        for i in range(1, n + 1)
    ]


def _fakes():
    """tests/faults/fakes.py (loopback servers on port 0), loaded by path."""
    spec = importlib.util.spec_from_file_location(
        "kpi_alerts_fakes", ROOT / "tests" / "faults" / "fakes.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FAKES = _fakes()
bound_socket = FAKES.bound_socket  # bound, not listening: connections are refused until used
LoopbackSMTP = FAKES.LoopbackSMTP  # aiosmtpd on port 0 (or on a bound socket)


class FakeWeCom:
    """A local HTTP server answering as WeCom's robot webhook, with scripted failures.

    script entries: "ok", ("errcode", n), ("http", status), ("hang", seconds).
    `accepted` holds the JSON bodies it answered with errcode 0 (what reached the group).
    """

    def __init__(self, sock: socket.socket | None = None):
        self.script: deque = deque()
        self.accepted: list[dict] = []
        self.requests: list[dict] = []
        self.keys: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length).decode("utf-8"))
                query = parse_qs(urlparse(self.path).query)
                fake.requests.append(body)
                fake.keys.append(query.get("key", [""])[0])
                action = fake.script.popleft() if fake.script else "ok"
                if isinstance(action, tuple) and action[0] == "hang":
                    time.sleep(action[1])
                    action = ("gone", 0)
                if isinstance(action, tuple) and action[0] == "http":
                    self.send_response(action[1])
                    self.end_headers()
                    self.wfile.write(b"server error")
                    return
                errcode = action[1] if isinstance(action, tuple) else 0
                if action == "ok":
                    fake.accepted.append(body)
                payload = json.dumps({"errcode": errcode, "errmsg": "ok" if not errcode else "err"})
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(payload.encode())
                except OSError:
                    pass  # the client gave up (hung server case)

        if sock is None:
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        else:  # a socket bound earlier (connections refused until now): no port is guessed
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

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """Messages received by the aiosmtpd server."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"
