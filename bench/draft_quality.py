"""Score `kpi plan draft` against a plan: recall of numbered and dated targets, precision of rows.

    .venv/bin/python bench/draft_quality.py            # hongqi-2023 and the other reports' excerpts
    .venv/bin/python bench/draft_quality.py -v         # also every miss and every false row

The matching is kpi.plan.score's (its docstring says exactly when a drafted row matches a
target). The 2023 report is scored against catalogue/hongqi-2023.yaml; the excerpts of other
districts' and provinces' reports under tests/plan/fixtures/reports/ against the targets
labelled by hand beside each (<name>.yaml). Goal on the 2023 report: recall >= 90 %,
precision >= 80 %. The last line is `hongqi-2023 recall: X precision: Y goals: met|NOT met`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpi.catalogue import load_catalogue  # noqa: E402
from kpi.plan.draft import draft_plan  # noqa: E402
from kpi.plan.score import Squashed, catalogue_gold, labelled_gold, score  # noqa: E402

FIXTURES = ROOT / "tests" / "plan" / "fixtures" / "reports"
GOALS = {"recall": 0.90, "precision": 0.80}


def _row(r) -> str:
    figure = f"{r.value:g}{r.unit}" if r.value is not None else f"by {r.deadline}"
    return f"{r.kind} {r.comparator} {figure} | {r.name_zh} | {r.source_clean[:50]}"


def _gold(g) -> str:
    figure = f"{g.value:g}{g.unit}" if g.value is not None else f"by {g.deadline}"
    return f"{g.key} {figure} | {g.name}"


def report(label: str, s, seconds: float, verbose: bool) -> None:
    """Print one draft's figures (and, verbose, its misses and false rows)."""
    print(
        f"{label}: {s.rows} rows drafted in {seconds * 1000:.0f} ms; "
        f"recall {s.found}/{s.gold} = {s.recall:.1%}, precision {s.correct}/{s.rows} = "
        f"{s.precision:.1%}"
    )
    if s.agreement:
        parts = ", ".join(f"{k} {v:.0%}" for k, v in s.agreement.items())
        print(f"  on matched rows, agreement: {parts}")
    if verbose or label.startswith("hongqi"):
        for g in s.misses:
            print(f"  miss: {_gold(g)}")
        for r in s.false_rows:
            print(f"  false row: {_row(r)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="list misses and false rows")
    args = ap.parse_args(argv)

    cat = load_catalogue(ROOT / "catalogue" / "hongqi-2023.yaml")
    raw = (ROOT / "catalogue" / cat.plan.report).read_text(encoding="utf-8")
    t0 = time.perf_counter()
    draft = draft_plan(raw, departments=cat.departments)
    took = time.perf_counter() - t0
    squashed = Squashed(raw)
    main_score = score(draft.rows, catalogue_gold(cat, squashed), squashed)

    totals = [0, 0, 0, 0]
    for path in sorted(FIXTURES.glob("*.txt")):
        labels = yaml.safe_load(path.with_suffix(".yaml").read_text(encoding="utf-8"))
        text = path.read_text(encoding="utf-8")
        t0 = time.perf_counter()
        d = draft_plan(text, year=labels["year"], departments=cat.departments)
        sec = time.perf_counter() - t0
        sq = Squashed(text)
        s = score(d.rows, labelled_gold(labels["targets"], sq), sq)
        report(f"{path.stem} ({labels['where']}, {labels['year']})", s, sec, args.verbose)
        for k, v in enumerate((s.found, s.gold, s.correct, s.rows)):
            totals[k] += v
    if totals[1]:
        print(
            f"other reports together: recall {totals[0]}/{totals[1]} = {totals[0] / totals[1]:.1%}, "
            f"precision {totals[2]}/{totals[3]} = {totals[2] / max(totals[3], 1):.1%}"
        )
    report("hongqi-2023", main_score, took, args.verbose)
    met = main_score.recall >= GOALS["recall"] and main_score.precision >= GOALS["precision"]
    print(
        f"hongqi-2023 recall: {main_score.recall:.3f} precision: {main_score.precision:.3f} "
        f"goals: {'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
