"""Fixtures for the desk: a warehouse made by a real nightly run, the desk on loopback, tokens."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from desk_support import AS_OF, PLAN, SEED_FILES, Seeded, csv_file, settings_for, shared_conftest

from kpi.catalogue import load_catalogue
from kpi.desk.server import Background


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory) -> Path:
    """One real nightly run (ingest, progress, snapshot, alerts, report) on the tiny plan."""
    from kpi.pipeline import run_nightly

    shared = shared_conftest()

    root = tmp_path_factory.mktemp("desk-seed")
    shared.write_catalogue(root / "catalogue", shared.TINY_TARGETS, PLAN)
    cfg = settings_for(root / "home", root / "catalogue")
    inbox = cfg.inbox / PLAN
    inbox.mkdir(parents=True)
    for n, (name, rows) in enumerate(SEED_FILES.items()):
        path = csv_file(inbox / name, rows)
        stamp = datetime(2023, 7, 3 + n, 10, 0, tzinfo=cfg.tz).timestamp()
        os.utime(path, (stamp, stamp))
    run_nightly(cfg, PLAN, AS_OF, datetime(2023, 7, 16, 2, 0, tzinfo=cfg.tz), lock_wait=0)
    return root


@pytest.fixture
def seeded(seeded_home: Path, tmp_path: Path, monkeypatch) -> Seeded:
    """A private copy of the seeded world for one test."""
    monkeypatch.delenv("KPI_DESK_SECRET", raising=False)
    root = tmp_path / "world"
    shutil.copytree(seeded_home, root, symlinks=True)
    cfg = settings_for(root / "home", root / "catalogue")
    return Seeded(cfg, load_catalogue(cfg.catalogue_path(PLAN)))


@pytest.fixture
def desk(seeded: Seeded):
    """The desk serving the seeded world on 127.0.0.1 (a port the OS chose)."""
    server = Background(seeded.cfg, PLAN, deliver_now=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls():
    """httpx's default TLS context, made once: each client loaded the CA file again (~20 CPU-ms)."""
    return httpx.create_ssl_context()


@pytest.fixture
def client(desk, tls):
    """An HTTP client for the desk that does not follow redirects."""
    with httpx.Client(base_url=desk.url, follow_redirects=False, timeout=60, verify=tls) as c:
        yield c
