"""Ingesting department submissions: read, validate (Great Expectations), quarantine, load."""

from kpi.ingest.core import ingest_files, ingest_inbox, ingest_plans

__all__ = ["ingest_files", "ingest_inbox", "ingest_plans"]
