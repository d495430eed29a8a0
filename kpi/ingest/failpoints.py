"""Crash points for the crash tests: with KPI_FAILPOINT=<name> the process kills itself there.

A real SIGKILL (kill -9), at a known step, so that a test can prove what a crash at that step
leaves and that a rerun ends in the same state as an uninterrupted run. Unset, a failpoint is a
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = ("parse", "validate", "load", "tidy", "moving")


def failpoint(name: str) -> None:
    """Die here, at once and without cleanup, if KPI_FAILPOINT names this point."""
    if os.environ.get("KPI_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
