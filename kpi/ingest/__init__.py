"""Ingesting department submissions: read, validate (Great Expectations), quarantine, load."""

from kpi.ingest.core import check_file, ingest_files, ingest_inbox, ingest_plans

__all__ = ["check_file", "ingest_files", "ingest_inbox", "ingest_plans"]
