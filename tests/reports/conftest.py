"""Fixtures of the report tests (the rows themselves live in report_seed.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_seed import AS_OF, Seeded, hostile, seed

from kpi.catalogue import Catalogue
from kpi.config import Settings, load_settings
from kpi.reports import write_reports


@pytest.fixture
def seeded(cfg: Settings, tiny_catalogue: Catalogue) -> Seeded:
    """The tiny plan's warehouse on 2023-07-15, with hostile text in notes, names and files."""
    catalogue = hostile(tiny_catalogue)
    seed(cfg, catalogue)
    return Seeded(cfg, catalogue, AS_OF)


@pytest.fixture(scope="module")
def written(
    tmp_path_factory: pytest.TempPathFactory, module_tiny_catalogue: Catalogue
) -> tuple[Seeded, dict[str, Path]]:
    """`seeded`'s reports, written once for a module whose tests only read the files.

    Each test parses or loads the files again into objects of its own: nothing a test does to
    what it read reaches the next. Tests that change the warehouse or write again use `seeded`.
    """
    folder = tmp_path_factory.mktemp("written")
    cfg = load_settings(env={}).with_home(folder / "home")
    catalogue = hostile(module_tiny_catalogue)
    seed(cfg, catalogue)
    paths = write_reports(cfg, catalogue, AS_OF, folder / "out")
    return Seeded(cfg, catalogue, AS_OF), paths
