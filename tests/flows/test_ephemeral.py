"""The CLI's temporary Prefect server (flows/ephemeral.py): started early, history kept."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from flows import ephemeral
from kpi.config import ROOT

KPI = str(ROOT / ".venv" / "bin" / "kpi")


def prefect_db(home: Path, revision: str | None) -> Path:
    """A SQLite file shaped like Prefect's database at a migration revision."""
    home.mkdir(parents=True, exist_ok=True)
    db = home / "prefect.db"
    with sqlite3.connect(db) as con:
        con.execute("create table alembic_version (version_num varchar(32) not null)")
        if revision:
            con.execute("insert into alembic_version values (?)", (revision,))
    con.close()
    return db


def stamp(home: Path, prefect: str, revision: str) -> None:
    (home / ephemeral.STAMP).write_text(json.dumps({"prefect": prefect, "revision": revision}))


def test_the_migration_check_is_skipped_only_for_a_database_this_prefect_stamped(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    home = tmp_path / "prefect"
    assert not ephemeral.up_to_date(home)  # no database
    prefect_db(home, "abc123")
    assert not ephemeral.up_to_date(home)  # never stamped
    stamp(home, "0.0.1", "abc123")
    assert not ephemeral.up_to_date(home)  # migrated by another Prefect version
    stamp(home, version("prefect"), "def456")
    assert not ephemeral.up_to_date(home)  # the database moved on (or was replaced)
    stamp(home, version("prefect"), "abc123")
    assert ephemeral.up_to_date(home)
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://db/prefect")
    assert not ephemeral.up_to_date(home)  # not Prefect's default database: never skipped


def test_a_database_without_a_revision_is_never_up_to_date(tmp_path):
    home = tmp_path / "prefect"
    prefect_db(home, None)
    stamp(home, version("prefect"), "abc123")
    assert not ephemeral.up_to_date(home)
    (home / "prefect.db").write_bytes(b"not a database")
    assert not ephemeral.up_to_date(home)


def test_no_server_is_started_when_one_is_configured_or_prefect_is_imported(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert ephemeral.start() is None
    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setitem(sys.modules, "prefect", sys.modules.get("prefect") or object())
    assert ephemeral.start() is None
    assert "PREFECT_API_URL" not in os.environ


def runs(db: Path) -> list[tuple[str, str]]:
    """(flow name, final state) of every flow run in Prefect's database."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "select f.name, r.state_type from flow_run r join flow f on f.id = r.flow_id"
        ).fetchall()
    con.close()
    return sorted(rows)


@pytest.mark.slow
def test_the_main_job_on_a_clone_without_var_keeps_its_runs_and_artifacts(tmp_path, forks):
    """`kpi demo --home X` where neither X nor the Prefect home's parents exist yet."""
    kpi_home = tmp_path / "clone" / "var"  # nothing of it exists
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KPI_"))}
    env |= {"KPI_HOME": str(kpi_home), "DO_NOT_TRACK": "1"}
    demo = ["demo", "--as-of", "2023-02-06", "--home", str(tmp_path / "elsewhere" / "demo")]
    prefect_home = kpi_home / "prefect"
    db = prefect_home / "prefect.db"

    first = subprocess.run([KPI, *demo], cwd=ROOT, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Failed to create the Prefect home" not in first.stderr
    assert "示例数据：17 个文件于 2023-02-06 前到达" in first.stdout
    assert runs(db) == [("deliver", "COMPLETED"), ("nightly", "COMPLETED")]
    stamped = json.loads((prefect_home / ephemeral.STAMP).read_text())
    assert stamped["prefect"] == version("prefect") and stamped["revision"]
    stamped_at = (prefect_home / ephemeral.STAMP).stat().st_mtime_ns
    assert ephemeral.up_to_date(prefect_home)  # what lets the next start skip the check

    # The second run skips the migration check (a check writes the stamp again) and adds to the
    # same history. Forked from the suite's warm interpreter (which has not imported Prefect):
    # the cold start is the first run's; this one starts its own temporary server as that did.
    second = forks.run(demo, env, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert (prefect_home / ephemeral.STAMP).stat().st_mtime_ns == stamped_at
    assert runs(db) == [("deliver", "COMPLETED")] * 2 + [("nightly", "COMPLETED")] * 2
    with sqlite3.connect(db) as con:
        artifacts = con.execute("select count(*) from artifact").fetchone()[0]
        task_runs = con.execute("select count(*) from task_run").fetchone()[0]
    con.close()
    assert artifacts >= 4 and task_runs >= 10
    # No temporary server outlives its command.
    assert not servers_of(prefect_home)


def servers_of(prefect_home: Path) -> list[int]:
    """Pids of Prefect API server processes whose PREFECT_HOME is `prefect_home`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"create_app" in cmdline and f"PREFECT_HOME={prefect_home}".encode() in environ:
            found.append(int(proc.name))
    return found
