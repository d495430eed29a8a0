"""The hostile-file half of the fault table: `table()` runs every case of files.py, one row each.

Each row: case, outcome (the hostile file's receipt status), reason (the first reason given),
seconds and peak_rss_mb (of the whole `kpi ingest` process tree), expected_ok (every check of
the case held: outcome, reason words, bounded reasons, the good file after it accepted, the
inbox left clean, time and memory under the bounds). `python -m tests.faults` prints it.
"""

from __future__ import annotations

from .files import CASES, run_case


def table(*, quick: bool = False) -> list[dict]:
    """Run every case (quick: leave out the heavy ones) and return one row per case."""
    return [run_case(c).row for c in CASES if not (quick and c.slow)]
