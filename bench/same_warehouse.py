"""Does a change leave the warehouse exactly as it was? A backfill slice before and after, compared.

Each side ingests the first LIMIT backfill files of the cached province (bench/province.py's
files, never regenerated here) into an empty state home with its own code, computes progress,
and exports every table ordered by all its columns to CSV, plus the receipts and the archived and
set-aside files (names and hashes). The exports are then compared byte for byte. Only values that
differ by the wall clock are masked: ingestion and computation times (see MASKED).

    .venv/bin/python bench/same_warehouse.py --before 737283c --after . --limit 6000

--before/--after take a git revision of this repository (extracted with git archive) or a folder
holding a checkout; both run with this checkout's .venv. Exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PROVINCE = Path(os.environ.get("KPI_BENCH_PROVINCE", "/work/bench/prov/province-150"))
NIGHT_FILES = 20  # bench/province.py's night: the backfill is every file but these
# Columns whose values are the wall clock of the run that wrote them (and nothing else).
MASKED = {"ingested_at", "applied_at", "computed_at", "created_at", "updated_at", "published_at"}

DRIVER = r"""
import json, sys, os
from datetime import date, datetime, timedelta
from pathlib import Path
repo, province, home, limit, out, night = sys.argv[1:7]
sys.path.insert(0, repo)
os.chdir(repo)
from kpi.catalogue import load_catalogue
from kpi.config import load_settings
from kpi.ingest import ingest_plans
from kpi.progress import compute_progress_many
root = Path(province)
files = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["files"]
files = sorted(files, key=lambda f: (f["arrival"], f["path"]))
tonight, backfill = files[-int(night):], files[:-int(night)][: int(limit)]
as_of = date.fromisoformat(tonight[-1]["arrival"][:10])
now = datetime.combine(as_of + timedelta(days=1), datetime.min.time()).replace(hour=2)
base = load_settings(env={"KPI_CATALOGUE_DIR": str(root / "catalogue")})
cats = {p: load_catalogue(base.catalogue_path(p)) for p in sorted({f["plan"] for f in files})}
cfg = base.with_home(Path(home))
batches = {}
for f in backfill:
    batches.setdefault(f["plan"], []).append(root / "files" / f["path"])
receipts = ingest_plans(cfg, [(cats[p], ps) for p, ps in batches.items()], as_of=as_of,
                        run_id="backfill")
compute_progress_many(cfg, list(cats.values()), as_of, now=now)
Path(out, "receipts.json").write_text(
    json.dumps(receipts, ensure_ascii=False, indent=1, sort_keys=True, default=str) + "\n",
    encoding="utf-8")
print(cfg.warehouse)
"""


def _code(spec: str, tmp: Path, side: str) -> Path:
    """A folder holding the code of `spec`: a folder as it is, or a git revision extracted."""
    p = Path(spec)
    if p.is_dir():
        return p.resolve()
    dest = tmp / f"code-{side}"
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(HERE), "archive", spec], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _export(warehouse: Path, home: Path, out: Path) -> None:
    """Every table ordered by all columns (MASKED ones left out) to CSV; files kept, by hash."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_type = 'BASE TABLE' and table_catalog = current_database()"
        " order by all"
    ).fetchall()
    for schema, name in tables:
        cols = [
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            ).fetchall()
            if c not in MASKED
        ]
        listed = ", ".join(f'"{c}"' for c in cols)
        target = out / f"{schema}.{name}.csv"
        con.execute(
            f'copy (select {listed} from "{schema}"."{name}" order by all)'
            f" to '{target}' (header, delimiter ',')"
        )
    con.close()
    lines = []
    for folder in ("archive", "rejected"):
        base = home / folder
        for p in sorted(base.rglob("*")) if base.exists() else []:
            if p.is_file():
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                lines.append(f"{p.relative_to(home)} {digest}")
    (out / "files.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _side(spec: str, side: str, tmp: Path, limit: int, work: Path) -> Path:
    code = _code(spec, tmp, side)
    home = work / f"same-{side}"
    shutil.rmtree(home, ignore_errors=True)
    out = tmp / f"export-{side}"
    out.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            DRIVER,
            str(code),
            str(PROVINCE),
            str(home),
            str(limit),
            str(out),
            str(NIGHT_FILES),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    _export(Path(done.stdout.strip().splitlines()[-1]), home, out)
    return out


def main() -> int:
    """Run both sides, compare their exports; 0 when every file is the same."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="git revision or checkout folder")
    ap.add_argument("--after", default=str(HERE), help="git revision or checkout folder")
    ap.add_argument("--limit", type=int, default=6000, help="backfill files ingested")
    ap.add_argument("--work", default="/tmp/same_warehouse", help="state homes go here")
    ap.add_argument("--keep", help="copy both exports into this folder")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        a = _side(args.before, "before", tmp, args.limit, work)
        b = _side(args.after, "after", tmp, args.limit, work)
        names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
        differ = []
        for n in names:
            if not (a / n).exists() or not (b / n).exists():
                differ.append(f"{n}: only on one side")
            elif not filecmp.cmp(a / n, b / n, shallow=False):
                differ.append(f"{n}: differs")
        for n in names:
            rows = (a / n).read_text(encoding="utf-8").count("\n") if (a / n).exists() else 0
            print(
                f"{'DIFF' if any(d.startswith(n + ':') for d in differ) else 'same'}  {n}  {rows}"
            )
        if args.keep:
            keep = Path(args.keep)
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(a, keep / "before")
            shutil.copytree(b, keep / "after")
    print(json.dumps({"limit": args.limit, "files_compared": len(names), "differ": differ}))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
