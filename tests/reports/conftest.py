"""Fixtures of the report tests (the rows themselves live in report_seed.py)."""

from __future__ import annotations

import pytest
from report_seed import AS_OF, Seeded, hostile, seed

from kpi.catalogue import Catalogue
from kpi.config import Settings


@pytest.fixture
def seeded(cfg: Settings, tiny_catalogue: Catalogue) -> Seeded:
    """The tiny plan's warehouse on 2023-07-15, with hostile text in notes, names and files."""
    catalogue = hostile(tiny_catalogue)
    seed(cfg, catalogue)
    return Seeded(cfg, catalogue, AS_OF)
