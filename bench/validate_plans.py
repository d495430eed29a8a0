"""One chunk of many districts' files through the row rules: all plans at once against one per plan.

Run: .venv/bin/python bench/validate_plans.py [--plans P] [--rows N]

A province's chunk holds files of many plans, each with its own target codes. The row rules
run once for the whole chunk (kpi.ingest.validate.run_rules_many; a set rule whose set differs
per plan is keyed by plan); the baseline is one run per plan, as before 2026-12-06. The
demo's files are repeated to N rows; plan k's target codes are the demo's minus one code, so
no two plans share a set. Prints seconds and CPU seconds of each, the findings compared, and
the ratio.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kpi.catalogue import load_catalogue  # noqa: E402
from kpi.config import ROOT, load_settings  # noqa: E402
from kpi.ingest import validate as v  # noqa: E402
from kpi.ingest.core import PREVIOUS_COLUMNS, _params  # noqa: E402
from kpi.ingest.prepare import limits_of, prepare_file  # noqa: E402

AS_OF = date(2023, 7, 15)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def chunk(plans: int, rows: int) -> list[v.FileRows]:
    """The demo's parsed files repeated to `rows` rows, dealt round-robin to `plans` plans."""
    cfg = load_settings(env={})
    cat = load_catalogue(cfg.catalogue_path("hongqi-2023"))
    base = _params(cat, AS_OF)
    codes = base["target_codes"]
    params = [
        dict(base, target_codes=[c for c in codes if c != codes[k % len(codes)]])
        for k in range(plans)
    ]
    demo = []
    for path in sorted((ROOT / "demo" / "submissions").glob("*/*")):
        p = prepare_file(path, cat, AS_OF, limits_of(cfg))
        if p.refusal is None and p.records:
            demo.append((p.records, p.columns))
    out, n = [], 0
    while n < rows:
        for records, columns in demo:
            out.append(v.FileRows(records, columns, params[len(out) % plans]))
            n += len(records)
    return out


def timed(fn) -> tuple[float, float, object]:
    c, t = cpu(), time.perf_counter()
    result = fn()
    return time.perf_counter() - t, cpu() - c, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plans", type=int, default=150)
    ap.add_argument("--rows", type=int, default=16_000)
    args = ap.parse_args()
    files = chunk(args.plans, args.rows)
    rules = tuple(r for r in v.load_rules() if not v.rule_columns(r) & PREVIOUS_COLUMNS)
    print(f"{len(files)} files, {sum(len(f.rows) for f in files)} rows, {args.plans} plans")
    v.warm_up()
    v.run_rules_many(files[:2], rules)  # GX's first run and the shape cache are not measured

    def per_plan():
        found = [None] * len(files)
        for params in {id(f.params): f.params for f in files}.values():
            idx = [i for i, f in enumerate(files) if f.params is params]
            for i, fs in zip(idx, v.run_rules_many([files[i] for i in idx], rules), strict=True):
                found[i] = fs
        return found

    t_all, c_all, together = timed(lambda: v.run_rules_many(files, rules))
    t_one, c_one, alone = timed(per_plan)
    same = [[(x.rule.id, x.rids) for x in fs] for fs in together] == [
        [(x.rule.id, x.rids) for x in fs] for fs in alone
    ]
    print(f"all plans at once: {t_all:.2f} s ({c_all:.2f} CPU-s)")
    print(f"one run per plan:  {t_one:.2f} s ({c_one:.2f} CPU-s)")
    print(f"same findings: {same}; per plan/at once: {t_one / t_all:.1f}")


if __name__ == "__main__":
    main()
