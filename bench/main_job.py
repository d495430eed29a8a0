"""The main job against Prefect's floor: `kpi demo` and an empty flow run, in the same mode.

Run: .venv/bin/python bench/main_job.py [--repeat N] [--modes prefect,early,server] [--workdir DIR]

Each measurement is a fresh process, as `make run` is. The floor is a process that starts
Prefect the way the CLI does (`kpi.cli.run.start_prefect`) and runs one empty flow; the main
job is `kpi demo` (what `make run` runs: the nightly flow and the delivery flow on the demo
data). Both run in each mode, alternately, in one run:
  prefect  no PREFECT_API_URL, KPI_PREFECT_SERVER=prefect: Prefect starts its temporary
           server at the first flow call (the behaviour before issue 15);
  early    no PREFECT_API_URL, the default: the CLI starts that server before its own imports
           and skips the migration check on a database this Prefect version migrated;
  server   a local `prefect server start` (started here once on a free loopback port, on the
           same database) that both talk to, as under `make serve`.
Before timing, one untimed run of each warms the database (migrations) and the file cache.
Prints per mode the medians, the main job's own work (demo - empty) and its ratios; last:
`ratio demo/empty: X (prefect)  Y (early)  Z (server)  own/empty: ...`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EMPTY_FLOW = """
from kpi.cli.run import _ready, start_prefect
from kpi.config import settings

server = start_prefect(settings())
from prefect import flow


@flow(name="empty")
def empty():
    return None


_ready(server)
empty()
"""


def free_port() -> int:
    """A free loopback port (bound to port 0, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(work: Path) -> dict[str, str]:
    """The environment of every measured process: its own Prefect home, telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KPI_"))}
    env.update(
        PREFECT_HOME=str(work / "prefect"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        KPI_HOME=str(work / "state"),
    )
    return env


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds one command takes; its failure stops the benchmark."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    """A local Prefect server on the benchmark's database, healthy or the benchmark stops."""
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env | {"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
            return server
        except OSError:
            if server.poll() is not None:
                sys.exit("the Prefect server exited")
            time.sleep(0.25)
    server.kill()
    sys.exit("no Prefect server after 120 s")


def measure(env: dict[str, str], work: Path, repeat: int) -> dict[str, list[float]]:
    """Alternate empty flow and `kpi demo` runs; the first of each is an untimed warm-up."""
    empty = [str(BIN / "python"), "-c", EMPTY_FLOW]
    demo = [str(BIN / "kpi"), "demo", "--home", str(work / "state" / "demo")]
    times: dict[str, list[float]] = {"empty": [], "demo": []}
    timed(empty, env)
    timed(demo, env)
    for _ in range(repeat):
        times["empty"].append(timed(empty, env))
        times["demo"].append(timed(demo, env))
    return times


def main() -> None:
    """Measure both modes and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="prefect,early,server")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kpi-main-job-"))
    shutil.rmtree(work, ignore_errors=True)
    (work / "state").mkdir(parents=True)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}  cpus: {os.cpu_count()}")
    ratios = {}
    for mode in args.modes.split(","):
        env = base_env(work)
        server = None
        if mode == "server":
            port = free_port()
            server = start_server(env, port)
            env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
        elif mode in ("prefect", "early"):
            env["KPI_PREFECT_SERVER"] = mode
        else:
            sys.exit(f"unknown mode {mode}")
        try:
            times = measure(env, work, args.repeat)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
        empty, demo = statistics.median(times["empty"]), statistics.median(times["demo"])
        ratios[mode] = (demo / empty, (demo - empty) / empty)
        print(
            f"{mode}: empty flow {empty:.2f} s, kpi demo {demo:.2f} s, own work "
            f"{demo - empty:.2f} s  (runs: empty {', '.join(f'{t:.1f}' for t in times['empty'])};"
            f" demo {', '.join(f'{t:.1f}' for t in times['demo'])})"
        )
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    print(
        "ratio demo/empty: "
        + "  ".join(f"{r[0]:.2f} ({m})" for m, r in ratios.items())
        + "  own/empty: "
        + "  ".join(f"{r[1]:.2f} ({m})" for m, r in ratios.items())
    )


if __name__ == "__main__":
    main()
