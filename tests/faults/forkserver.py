"""A warm interpreter that forks `python -m kpi.cli ...` for each fault case.

A cold `kpi ingest` spends about 3 of its 5 CPU seconds importing Great Expectations, pandas and
DuckDB; the fault suite runs it some fifty times. The server imports them once; each command
runs in a fresh fork of it (its own process, environment, working folder, stdout and stderr),
exactly as `python -m kpi.cli` runs it, and its process tree is watched from outside as before.
Forked memory counts in the child's RSS, so the memory bounds measure what a cold run holds.
Given the suite's migrated warehouse, a command's new warehouse starts as a copy of it
(tests/warehouse_template.py), as in the test processes themselves.
`make faults` (the table) still runs each case cold. `ForkServer.popen` forks a command (or a
`python -c` program) whose stdout and stderr are read as it writes them, for the tests that
wait for a line and then kill it (tests/flows/orchestration_helpers.child, the delivery kills).
`ForkServer.warm` runs code in the server itself (the hostile files' first night: faults/files.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kpi.config import ROOT

TEMPLATE = Path(__file__).parents[1] / "warehouse_template.py"

SERVER = r"""
import atexit, json, os, runpy, signal, sys, traceback
import great_expectations, pandas, duckdb  # what a cold `kpi ingest` spends its time importing
# kpi.ingest imports its parts on first use (a parsing worker needs none of them): named here,
# or every forked `kpi ingest` imported them again (~0.4 CPU-s a case, half of it).
import kpi.cli, kpi.ingest.core, kpi.ingest.inbox
if len(sys.argv) > 2:  # new warehouses start as copies of the suite's (tests/warehouse_template.py)
    import importlib.util, pathlib, kpi.warehouse
    spec = importlib.util.spec_from_file_location("warehouse_template", sys.argv[2])
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    kpi.warehouse.duckdb = template.templated(pathlib.Path(sys.argv[1]))
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
    if "warm" in req:  # run here, not forked: the caches it fills are every later fork's
        import contextlib, threading
        with contextlib.redirect_stdout(sys.stderr):
            exec(compile(req["warm"], "<warm>", "exec"), {"__name__": "__warm__"})
        alive = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        print(json.dumps(alive), flush=True)  # a fork copies no thread: none may be left
        continue
    # Opened before the fork: when the pid is printed the command's output has its writer, so
    # a reader of a FIFO (Forked.stream) never sees an end of file before the command starts.
    outputs = [os.open(req[k], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) for k in ("stdout", "stderr")]
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # the pid is known before reaping
    pid = os.fork()
    if pid:
        for fd in outputs:
            os.close(fd)
        statuses[pid] = req["status"]
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        print(pid, flush=True)
        continue
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the command waits for its own children
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        os.setpgid(0, 0)
        atexit._clear()  # the server's own exit handlers are not the command's
        sys.stdin = open(os.devnull)
        for fd, opened in zip((1, 2), outputs):
            os.dup2(opened, fd)
            os.close(opened)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        if os.environ.get("PYTHONUNBUFFERED"):  # what it does for a cold interpreter
            sys.stdout.reconfigure(line_buffering=True, write_through=True)
            sys.stderr.reconfigure(line_buffering=True, write_through=True)
        from kpi.config import settings
        settings.cache_clear()
        try:
            if "code" in req:  # `python -c CODE ARGS...`
                sys.argv = ["-c", *req["args"]]
                exec(compile(req["code"], "<string>", "exec"), {"__name__": "__main__"})
            else:  # `python -m kpi.cli ARGS...`
                sys.argv = ["kpi", *req["args"]]
                runpy.run_module("kpi.cli", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            # What the command registered runs at its exit, as in a cold interpreter: a temporary
            # Prefect server (a forked `kpi run`) is stopped, not left running with no parent.
            atexit._run_exitfuncs()
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


class Streamed(Forked):
    """A forked command whose stdout and stderr are FIFOs read as they are written: the parts of
    `subprocess.Popen(..., stdout=PIPE, stderr=PIPE, text=True)` that the tests use."""

    def __init__(self, pid: int, status: Path, stdout: int, stderr: int, folder: str):
        super().__init__(pid, status)
        for fd in (stdout, stderr):  # the command holds the other ends now: reads may block
            os.set_blocking(fd, True)
        self.stdout = open(stdout, encoding="utf-8", errors="replace")  # noqa: SIM115
        self.stderr = open(stderr, encoding="utf-8", errors="replace")  # noqa: SIM115
        self._folder = folder

    def send_signal(self, sig: int) -> None:
        """Signal the command itself (not its process group), as Popen.send_signal does."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the command's end; its exit code (-N if signal N killed it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["kpi-fork", str(self.pid)], timeout)
            time.sleep(0.01)
        self._close()
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Read both outputs to their end, then wait: (stdout, stderr)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        read: dict[int, list[bytes]] = {self.stdout.fileno(): [], self.stderr.fileno(): []}
        with selectors.DefaultSelector() as sel:
            for fd in read:
                sel.register(fd, selectors.EVENT_READ)
            while sel.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(["kpi-fork", str(self.pid)], timeout)
                for key, _ in sel.select(left):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        read[key.fd].append(chunk)
                    else:
                        sel.unregister(key.fd)
        left = None if deadline is None else max(deadline - time.monotonic(), 0.1)
        self.wait(left)
        out, err = (b"".join(read[f.fileno()]).decode(errors="replace") for f in self._files())
        return _universal(out), _universal(err)

    def _files(self):
        return (self.stdout, self.stderr)

    def _close(self) -> None:
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = ""


def _universal(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _text(path: Path) -> str:
    # What subprocess.run(text=True) returns: UTF-8 (the locale here), universal newlines.
    return _universal(path.read_bytes().decode(errors="replace"))


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


class ForkServer:
    """The warm interpreter; `start(cmd, env, out, err)` forks one `python -m kpi.cli` command."""

    def __init__(self, warehouse_template: Path | None = None) -> None:
        """With `warehouse_template`, a command's new warehouse starts as a copy of it."""
        shared = [] if warehouse_template is None else [str(warehouse_template), str(TEMPLATE)]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, *shared],
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
        self.warmed: set[str] = set()

    def start(self, cmd: list[str], env: dict, out: Path, err: Path) -> Forked:
        """Fork `cmd` (it must be `python -m kpi.cli ...`) with this environment and output."""
        if cmd[:3] != [sys.executable, "-m", "kpi.cli"]:
            raise ValueError(f"the fork server runs `python -m kpi.cli` only, not {cmd}")
        self._n += 1
        status = out.with_name(f"{out.name}.status{self._n}")
        pid = self._request({"args": cmd[3:], "env": env, "cwd": str(ROOT)}, out, err, status)
        return Forked(pid, status)

    def popen(self, args: list[str], env: dict, *, code: str | None = None) -> Streamed:
        """`python -m kpi.cli ARGS...` (or `python -c CODE ARGS...`) in a fresh fork, its stdout
        and stderr read as it writes them."""
        folder = tempfile.mkdtemp(prefix="kpi-fork-")
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        ends = []
        for fifo in (out, err):
            os.mkfifo(fifo, 0o600)
            ends.append(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # so the server's open returns
        self._n += 1
        status = Path(folder) / f"status{self._n}"
        req = {"args": args, "env": env, "cwd": str(ROOT)} | (
            {} if code is None else {"code": code}
        )
        return Streamed(self._request(req, out, err, status), status, *ends, folder)

    def warm(self, name: str, code: str) -> None:
        """Run `code` in the server itself, once per `name`: what it caches (imports, a first
        night's validation suites) every later fork starts with. It must leave no thread."""
        if name in self.warmed:
            return
        self.proc.stdin.write(json.dumps({"warm": code}) + "\n")
        self.proc.stdin.flush()
        alive = json.loads(self.proc.stdout.readline())
        if alive:
            raise RuntimeError(f"the fork server's warm-up left threads running: {alive}")
        self.warmed.add(name)

    def _request(self, req: dict, out: Path, err: Path, status: Path) -> int:
        req = {**req, "stdout": str(out), "stderr": str(err), "status": str(status)}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

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
