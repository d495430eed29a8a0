"""A parsing worker's result stream survives output written straight to its fd 1."""

import pickle
import struct
import subprocess
import sys

# Noise at the C level (os.write on fd 1) and at Python's, after the worker set itself up.
SCRIPT = """
import os
import kpi.ingest.prepare as prepare

def noisy_backstop():
    os.write(1, b"native noise on fd 1\\n")
    print("python noise")

prepare._backstop = noisy_backstop
prepare.serve()
"""


def test_noise_on_fd1_goes_to_stderr_not_into_the_results():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], input=b"", capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr.decode()
    n = struct.unpack_from("<Q", proc.stdout)[0]
    assert len(proc.stdout) == 8 + n
    kind, _pid = pickle.loads(proc.stdout[8:])
    assert kind == "ready"
    assert b"native noise on fd 1" in proc.stderr
    assert b"python noise" in proc.stderr


def test_a_parsing_worker_runs_below_the_ingesting_process():
    import os

    from kpi.ingest.prepare import WORKER_NICENESS, _Worker

    worker = _Worker(memory_mb=256)
    try:
        # Its nice value is set before it says it is ready: read it once the first message came.
        out = worker.proc.stdout
        os.set_blocking(worker.fd, True)
        n = struct.unpack("<Q", out.read(8))[0]
        assert pickle.loads(out.read(n))[0] == "ready"
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == min(19, mine + WORKER_NICENESS)
    finally:
        worker.kill()
