"""New warehouses as copies of one migrated once: for the test processes and the fork server.

Migrating a new warehouse (twelve migrations, a commit each) costs ~0.3 CPU-s and 0.4-1 s of
waiting for the disk; copying a migrated one ~0.03 CPU-s. Most alert, progress and report tests,
and every hostile file's `kpi ingest`, start from an empty warehouse. The copy holds the schema
that `kpi.warehouse.migrate` made in the same run; only `meta.schema_version.applied_at` is the
moment the template was made (the suite's TEST_NOW) instead of the test's own "now".
"""

from __future__ import annotations

import shutil
from pathlib import Path


class TemplatedDuckDB:
    """kpi.warehouse's `duckdb`, except that a read-write connection to a warehouse file that does
    not exist yet starts from a copy of the template."""

    def __init__(self, real, template: Path, migrations: Path):
        self._real = real
        self._template = template
        self._migrations = migrations

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def connect(self, database: str = ":memory:", *args, read_only: bool = False, **kw):
        import kpi.warehouse

        path = Path(database)
        if (
            not read_only
            and path.suffix == ".duckdb"
            and not path.exists()
            and not Path(f"{database}.wal").exists()
            and self._migrations == kpi.warehouse.MIGRATIONS  # not a test's own migrations
        ):
            shutil.copyfile(self._template, path)
        return self._real.connect(database, *args, read_only=read_only, **kw)


def build(folder: Path) -> Path:
    """Migrate a new warehouse in `folder` with kpi.warehouse's own code; return its path."""
    from kpi.config import load_settings
    from kpi.warehouse import connect

    cfg = load_settings(env={}).with_home(folder / "home")
    with connect(cfg):
        pass
    template = folder / "template.duckdb"
    cfg.warehouse.rename(template)
    return template


def templated(template: Path) -> TemplatedDuckDB:
    """The object to put in place of kpi.warehouse's `duckdb` module."""
    import duckdb

    import kpi.warehouse

    return TemplatedDuckDB(duckdb, template, kpi.warehouse.MIGRATIONS)
