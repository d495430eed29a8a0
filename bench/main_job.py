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
  server   a local `prefect server start` (started here once, on a free loopback port) that
           both talk to, as under `make serve`.
Each mode has its own Prefect home. One untimed run of each first warms its database
(migrations) and the file cache; then the modes take turns, N rounds, medians reported.
Prints per mode the medians, the main job's own work (demo - empty) and its ratios; last:
`ratio demo/empty: X (prefect)  Y (early)  Z (server)  own/empty: ...`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
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


def base_env(work: Path, mode: str) -> dict[str, str]:
    """The environment of a mode's processes: a Prefect home of its own, telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KPI_"))}
    env.update(
        PREFECT_HOME=str(work / mode / "prefect"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        KPI_HOME=str(work / mode / "state"),
    )
    if mode in ("prefect", "early"):
        env["KPI_PREFECT_SERVER"] = mode
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


def commands(work: Path, mode: str) -> dict[str, list[str]]:
    """The floor and the main job of a mode."""
    return {
        "empty": [str(BIN / "python"), "-c", EMPTY_FLOW],
        "demo": [str(BIN / "kpi"), "demo", "--home", str(work / mode / "state" / "demo")],
    }


def main() -> None:
    """Measure the modes, interleaved so that the machine's noise falls on each alike."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="prefect,early,server")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    modes = args.modes.split(",")
    if unknown := set(modes) - {"prefect", "early", "server"}:
        sys.exit(f"unknown modes: {', '.join(sorted(unknown))}")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kpi-main-job-"))
    shutil.rmtree(work, ignore_errors=True)
    envs = {}
    for mode in modes:
        (work / mode / "state").mkdir(parents=True)
        envs[mode] = base_env(work, mode)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}  cpus: {os.cpu_count()}")
    server = None
    times = {m: {"empty": [], "demo": []} for m in modes}
    try:
        if "server" in modes:
            port = free_port()
            server = start_server(envs["server"], port)
            envs["server"]["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
        for mode in modes:  # untimed: migrations, file cache
            for cmd in commands(work, mode).values():
                timed(cmd, envs[mode])
        for _ in range(args.repeat):
            for mode in modes:
                for what, cmd in commands(work, mode).items():
                    times[mode][what].append(timed(cmd, envs[mode]))
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    ratios = {}
    for mode in modes:
        empty = statistics.median(times[mode]["empty"])
        demo = statistics.median(times[mode]["demo"])
        ratios[mode] = (demo / empty, (demo - empty) / empty)
        runs = "; ".join(
            f"{what} {', '.join(f'{t:.1f}' for t in ts)}" for what, ts in times[mode].items()
        )
        print(
            f"{mode}: empty flow {empty:.2f} s, kpi demo {demo:.2f} s, "
            f"own work {demo - empty:.2f} s  (runs: {runs})"
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
