"""The quiet night's child process (bench/province.py, figure f): one nightly run of a plan.

Run: .venv/bin/python bench/quiet_night.py CATALOGUE_DIR HOME PLAN AS_OF NOW

A file of its own so that the measured process imports what `kpi run`'s nightly run imports and
nothing of the benchmark's (province.py loads the synthetic province's generator, openpyxl and
the ingest modules at its top: ~0.2 CPU-s that no night pays). Prints the files the run saw and
its status as one JSON line.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path


def main(argv: list[str]) -> int:
    """One nightly run of a plan, as `run_nightly` runs it: catalogue dir, home, plan, as-of, now."""
    from kpi.config import load_settings
    from kpi.pipeline import run_nightly

    catalogues, home, plan, as_of, now = argv
    cfg = load_settings(env={"KPI_CATALOGUE_DIR": catalogues}).with_home(Path(home))
    summary = run_nightly(cfg, plan, date.fromisoformat(as_of), datetime.fromisoformat(now))
    print(json.dumps({"files": summary["files_seen"], "status": summary["status"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
