"""Serving the desk with uvicorn: `kpi desk`, `make serve`, and the tests' loopback server."""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn

from kpi.config import Settings
from kpi.desk.access import Flusher
from kpi.desk.app import create_app

log = logging.getLogger("kpi.desk")
FLUSH_SECONDS = 60.0  # meta.access is written at most this long after a request (lock free)


def config(cfg: Settings, app, *, log_level: str = "info", **kw) -> uvicorn.Config:
    """The uvicorn settings: no access log of its own (it would log ?token=), proxy headers
    believed only from cfg.desk_forwarded_allow_ips."""
    return uvicorn.Config(
        app,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=cfg.desk_forwarded_allow_ips,
        server_header=False,
        log_level=log_level,
        timeout_keep_alive=5,
        limit_concurrency=64,  # more open requests get 503 instead of queueing without bound
        **kw,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0: one the OS chooses)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def serve(cfg: Settings, plan: str | None = None, *, host: str, port: int, announce=print) -> None:
    """Run the desk until interrupted; meta.access is flushed every minute and at exit."""
    app = create_app(cfg, plan)
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    announce(f"填报网页：http://{host}:{bound}/  （对外地址 {cfg.desk_base_url}；Ctrl-C 停止）")
    flusher = Flusher(app.state.desk.access, FLUSH_SECONDS)
    flusher.start()
    # Importing Great Expectations takes seconds: do it now, not in the first upload's receipt.
    threading.Thread(target=_warm_up, name="kpi-desk-warm-up", daemon=True).start()
    try:
        uvicorn.Server(config(cfg, app)).run(sockets=[sock])
    finally:
        flusher.stop()
        sock.close()


def _warm_up() -> None:
    try:
        from kpi.ingest.validate import warm_up

        warm_up()
    except Exception:  # only a head start; the first check imports it anyway
        log.exception("warm-up failed")


class Background:
    """The desk on a socket in a thread (tests, screenshots): start(), .url, stop()."""

    def __init__(self, cfg: Settings, plan: str | None = None, *, deliver_now: bool = True):
        self.app = create_app(cfg, plan, deliver_now=deliver_now)
        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(config(cfg, self.app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, timeout: float = 20.0) -> Background:
        """Start serving; returns once the server accepts connections."""
        self.thread.start()
        waited = threading.Event()
        for _ in range(int(timeout / 0.05)):
            if self.server.started:
                return self
            waited.wait(0.05)
        raise RuntimeError("the desk did not start")

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
