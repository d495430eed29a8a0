"""Ingesting department submissions: read, validate (Great Expectations), quarantine, load."""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["check_file", "ingest_files", "ingest_inbox", "ingest_plans"]

if TYPE_CHECKING:
    from kpi.ingest.core import check_file, ingest_files, ingest_plans
    from kpi.ingest.inbox import ingest_inbox


def __getattr__(name: str):
    # Imported on first use: a parsing worker (kpi.ingest.worker) imports this package too and
    # needs none of the warehouse's modules (DuckDB, pandas).
    if name == "ingest_inbox":  # lists the inbox first, imports the core only for files
        from kpi.ingest import inbox

        return inbox.ingest_inbox
    if name in __all__:
        from kpi.ingest import core

        return getattr(core, name)
    raise AttributeError(name)
