"""A parsing worker of ingest: `python -m kpi.ingest.worker` (see kpi.ingest.prepare)."""

from kpi.ingest.prepare import serve

if __name__ == "__main__":
    serve()
