"""Crash points for the crash tests: with KPI_FAILPOINT=<name> the process kills itself there.

A real SIGKILL (kill -9), at a known step, so that a test can prove what a crash at that step
leaves and that a rerun ends in the same state as an uninterrupted run. Unset, a failpoint is a
dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import time

POINTS = ("parse", "validate", "load", "tidy", "moving")


def failpoint(name: str) -> None:
    """Die here, at once and without cleanup, if KPI_FAILPOINT names this point."""
    if os.environ.get("KPI_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


# In a parsing worker, for one file by name: KPI_FAILPOINT=worker-hang:<file name> (a parser
# that never returns), worker-crash:<name> (one that dies), worker-balloon:<name> (one whose
# memory grows without end). They prove that the parent stops such a worker and goes on.
WORKER_POINTS = ("worker-hang", "worker-crash", "worker-balloon")


def worker_failpoint(file_name: str) -> None:
    """Misbehave while parsing `file_name` if KPI_FAILPOINT asks for it."""
    point, _, target = os.environ.get("KPI_FAILPOINT", "").partition(":")
    if not target or target != file_name:
        return
    if point == "worker-hang":
        time.sleep(3600)
    elif point == "worker-crash":
        os.kill(os.getpid(), signal.SIGKILL)
    elif point == "worker-balloon":
        held = []
        while True:
            held.append(b"x" * (16 << 20))  # touched, so resident
