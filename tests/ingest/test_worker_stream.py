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


def _ready(worker) -> None:
    """Wait for the worker's first message (its nice value is set before it)."""
    import os

    os.set_blocking(worker.fd, True)
    n = struct.unpack("<Q", worker.proc.stdout.read(8))[0]
    assert pickle.loads(worker.proc.stdout.read(n))[0] == "ready"


def test_a_pool_of_workers_parses_below_the_ingesting_process_and_a_lone_worker_does_not():
    import os

    from kpi.ingest.prepare import WORKER_NICENESS, _Worker

    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for nice, expected in ((WORKER_NICENESS, min(19, mine + WORKER_NICENESS)), (0, mine)):
        worker = _Worker(memory_mb=256, nice=nice)
        try:
            _ready(worker)
            assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == expected
        finally:
            worker.kill()


def test_a_run_with_several_workers_lowers_their_priority(tmp_path):
    import os
    import time
    from datetime import date

    from kpi.ingest import prepare
    from kpi.ingest.prepare import WORKER_NICENESS, Limits, prepared

    limits = Limits(max_file_bytes=10_000, max_uncompressed=10_000)
    for workers, raised in ((2, WORKER_NICENESS), (1, 0)):
        prepare._stop_idle()  # new workers: an idle one of either priority would be taken
        stream = prepared(iter([]), date(2023, 7, 15), limits, workers)
        try:
            for w in stream.workers:
                # The pool's own thread reads the worker's "ready" (its nice value is set before).
                deadline = time.monotonic() + 60
                while not w.ready:
                    assert time.monotonic() < deadline, "the worker never said it was ready"
                    time.sleep(0.01)
                assert os.getpriority(os.PRIO_PROCESS, w.proc.pid) == min(
                    19, os.getpriority(os.PRIO_PROCESS, 0) + raised
                )
        finally:
            stream.close()
            prepare._stop_idle()
