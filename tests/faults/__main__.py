"""Print the fault tables: delivery (always) and hostile files (when tests/faults/files_table.py exists).

python -m tests.faults            # from the repository root; `make faults` does the same
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from pathlib import Path

# The fault cases set their own "now"; nothing here may depend on the wall clock's hour.
os.environ.setdefault("KPI_NOW", "2023-07-16T09:00:00+08:00")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

DELIVERY_KEYS = ["fault", "sent", "received", "lost", "duplicated", "expected_ok", "note"]
FILE_KEYS = ["case", "outcome", "reason", "seconds", "peak_rss_mb", "expected_ok"]


def _cell(value: object, width: int = 90) -> str:
    text = "是" if value is True else "否" if value is False else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(title: str, rows: list[dict], keys: list[str]) -> None:
    """A plain-text table: one line per row, columns padded (CJK counted double)."""
    keys = [k for k in keys if any(k in r for r in rows)] or keys

    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    cells = [[_cell(r.get(k, "")) for k in keys] for r in rows]
    widths = [max([width(k)] + [width(c[i]) for c in cells]) for i, k in enumerate(keys)]

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - width(v)) for v, w in zip(values, widths, strict=True))

    print(f"\n{title}")
    print(line(keys))
    print(line(["-" * w for w in widths]))
    for c in cells:
        print(line(c))


def main() -> int:
    """Run the tables; exit 1 if any row is not as expected."""
    # The cases fail deliveries on purpose: their warnings would drown the table.
    logging.basicConfig(level=logging.CRITICAL)
    package = __package__ or "tests.faults"
    ok = True
    started = time.monotonic()
    delivery = importlib.import_module(f"{package}.delivery_table").table()
    print_table(
        "Delivery faults (per message part, counted at the receiving server)",
        delivery,
        DELIVERY_KEYS,
    )
    ok = ok and all(r["expected_ok"] for r in delivery)
    if (Path(__file__).parent / "files_table.py").exists():
        files = importlib.import_module(f"{package}.files_table").table()
        print_table("Hostile files", files, FILE_KEYS)
        ok = ok and all(r["expected_ok"] for r in files)
    print(
        f"\n{'all as expected' if ok else 'NOT AS EXPECTED'} ({time.monotonic() - started:.1f} s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
