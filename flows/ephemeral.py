"""Prefect's temporary API server for one CLI process, started before Prefect is imported.

With no PREFECT_API_URL, Prefect starts a temporary server itself at the first flow call: it
imports the server's code into the caller (~3 s), then waits for the server (~7 s, database
migrations checked every time), while nothing else happens. `start()` launches the same server
(Prefect's app in ephemeral mode: no UI, no background services) as soon as the CLI knows it
will run a flow, so that its start-up overlaps the CLI's own imports, and skips the migration
check when this Prefect version already brought this database up to date. Runs, task runs,
logs and artifacts go to the same database ($PREFECT_HOME/prefect.db) as before: `make serve`
shows them.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

# Prefect's own default (20 s) is too short on a loaded machine (CI with the suite running).
STARTUP_TIMEOUT_S = 120
STAMP = "kpi-migrated.json"  # in PREFECT_HOME: Prefect version and database revision, once migrated


class ServerError(RuntimeError):
    """The temporary server did not become healthy."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_database(home: Path) -> Path | None:
    """The SQLite database the server will use, if it is Prefect's default one in `home`."""
    if any(
        os.environ.get(k)
        for k in ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
    ):
        return None
    return home / "prefect.db"


def _revision(db: Path) -> str | None:
    """The database's migration revision (alembic's), or None when it cannot be read."""
    if not db.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2) as con:
            rows = con.execute("select version_num from alembic_version").fetchall()
    except sqlite3.Error:
        return None
    return rows[0][0] if len(rows) == 1 else None


def _stamp(db: Path) -> dict:
    return {"prefect": version("prefect"), "revision": _revision(db)}


def up_to_date(home: Path) -> bool:
    """Whether this Prefect version already migrated the database now in `home`."""
    db = _default_database(home)
    if db is None:
        return False
    try:
        stamped = json.loads((home / STAMP).read_text())
    except (OSError, ValueError):
        return False
    now = _stamp(db)
    return now["revision"] is not None and stamped == now


class TemporaryServer:
    """One `uvicorn prefect.server.api.server:create_app` process on a free loopback port."""

    def __init__(self, home: Path, migrate: bool):
        self.home = home
        self.migrate = migrate
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = {
            **os.environ,
            # What Prefect's own temporary server sets: no UI, no background services.
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        if not migrate:
            env["PREFECT_API_DATABASE_MIGRATE_ON_START"] = "false"
        cmd = [sys.executable, "-m", "uvicorn", "--factory"]
        cmd += ["prefect.server.api.server:create_app", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--log-level", "error", "--lifespan", "on"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        self.ready = False
        atexit.register(self.stop)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the server answers /health; ServerError if it exits or times out."""
        if self.ready:
            return
        if timeout is None:
            timeout = float(
                os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
                or STARTUP_TIMEOUT_S
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise ServerError(f"Prefect 临时服务器已退出（退出码 {self.proc.returncode}）")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"Prefect 临时服务器 {timeout:.0f} 秒内未就绪")
            time.sleep(0.05)
        self.ready = True
        db = _default_database(self.home)
        if self.migrate and db is not None:
            # Healthy means its start-up migrated the database: the next start may skip that.
            (self.home / STAMP).write_text(json.dumps(_stamp(db)))

    def stop(self) -> None:
        """Stop the server (at exit, or on a failed start)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start() -> TemporaryServer | None:
    """Start the temporary server and point Prefect at it, if Prefect would start one itself.

    Only before Prefect is imported (its settings are read then) and with no server configured;
    otherwise returns None and Prefect behaves as it always does.
    """
    if "prefect" in sys.modules or os.environ.get("PREFECT_API_URL"):
        return None
    home = Path(os.environ["PREFECT_HOME"])
    server = TemporaryServer(home, migrate=not up_to_date(home))
    os.environ["PREFECT_API_URL"] = server.url
    # No "View at" links: this server has no UI and is gone when the command ends.
    os.environ.setdefault("PREFECT_UI_URL", "")
    return server
