"""A warm interpreter that forks `python -m kpi.cli ...` for each fault case.

A cold `kpi ingest` spends about 3 of its 5 CPU seconds importing Great Expectations, pandas and
DuckDB; the fault suite runs it some fifty times. The server imports them once; each command
runs in a fresh fork of it (its own process, environment, working folder, stdout and stderr),
exactly as `python -m kpi.cli` runs it, and its process tree is watched from outside as before.
Forked memory counts in the child's RSS, so the memory bounds measure what a cold run holds.
`make faults` (the table) still runs each case cold.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kpi.config import ROOT

SERVER = r"""
import json, os, runpy, signal, sys, traceback
import great_expectations, pandas, duckdb  # what a cold `kpi ingest` spends its time importing
import kpi.cli, kpi.ingest
statuses = {}  # pid -> the status file of a command still running
def reap(*_):
    # Reaped here (not left to the kernel by ignoring SIGCHLD): their CPU time is counted in this
    # server's, and so in the test run's; and a command killed by a signal gets its status
    # written ("-9"), as subprocess reports it.
    try:
        while True:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            path = statuses.pop(pid, None)
            if path and os.WIFSIGNALED(status) and not os.path.exists(path):
                with open(path + ".tmp", "w") as fh:
                    fh.write(str(-os.WTERMSIG(status)))
                os.replace(path + ".tmp", path)
    except ChildProcessError:
        pass
signal.signal(signal.SIGCHLD, reap)
print("ready", flush=True)
for line in sys.stdin:
    req = json.loads(line)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # the pid is known before reaping
    pid = os.fork()
    if pid:
        statuses[pid] = req["status"]
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        print(pid, flush=True)
        continue
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the command waits for its own children
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        os.setpgid(0, 0)
        sys.stdin = open(os.devnull)
        for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        from kpi.config import settings
        settings.cache_clear()
        sys.argv = ["kpi", *req["args"]]
        try:
            runpy.run_module("kpi.cli", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            with open(req["status"] + ".tmp", "w") as fh:
                fh.write(str(code))
            os.replace(req["status"] + ".tmp", req["status"])
        finally:
            os._exit(code)
"""


class Forked:
    """One command forked by the server: a Popen-like handle (pid, poll, kill, returncode)."""

    def __init__(self, pid: int, status: Path):
        self.pid = pid
        self.status = status
        self.returncode: int | None = None
        self._killed = False

    def poll(self) -> int | None:
        """The exit code once the process is gone (-N if signal N killed it), else None."""
        if self.returncode is None and not _alive(self.pid):
            # The server writes the status of a command killed by a signal once it reaps it.
            for _ in range(500):
                if self.status.exists():
                    self.returncode = int(self.status.read_text())
                    break
                time.sleep(0.01)
            else:
                self.returncode = -signal.SIGKILL if self._killed else -1
        return self.returncode

    def kill(self) -> None:
        self._killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def _text(path: Path) -> str:
    # What subprocess.run(text=True) returns: UTF-8 (the locale here), universal newlines.
    text = path.read_bytes().decode(errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


class ForkServer:
    """The warm interpreter; `start(cmd, env, out, err)` forks one `python -m kpi.cli` command."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self.proc.stdout.readline().strip()
        if ready != "ready":
            self.close()
            raise RuntimeError(f"the fork server did not start: {ready!r}")
        self._n = 0

    def start(self, cmd: list[str], env: dict, out: Path, err: Path) -> Forked:
        """Fork `cmd` (it must be `python -m kpi.cli ...`) with this environment and output."""
        if cmd[:3] != [sys.executable, "-m", "kpi.cli"]:
            raise ValueError(f"the fork server runs `python -m kpi.cli` only, not {cmd}")
        self._n += 1
        status = out.with_name(f"{out.name}.status{self._n}")
        req = {
            "args": cmd[3:],
            "env": env,
            "cwd": str(ROOT),
            "stdout": str(out),
            "stderr": str(err),
            "status": str(status),
        }
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return Forked(int(self.proc.stdout.readline()), status)

    def run(
        self, args: list[str], env: dict, *, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        """`kpi <args>` in a fresh fork, run to its end: like subprocess.run(capture_output=True, text=True)."""
        cmd = [sys.executable, "-m", "kpi.cli", *args]
        with tempfile.TemporaryDirectory(prefix="kpi-fork-") as tmp:
            out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
            proc = self.start(cmd, {k: str(v) for k, v in env.items()}, out, err)
            deadline = time.monotonic() + timeout
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    raise subprocess.TimeoutExpired(cmd, timeout)
                time.sleep(0.01)
            return subprocess.CompletedProcess(cmd, proc.returncode, _text(out), _text(err))

    def close(self) -> None:
        """Stop the server (its forked commands have ended by then)."""
        self.proc.stdin.close()
        self.proc.terminate()  # an orderly exit of everything it imported takes seconds
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
