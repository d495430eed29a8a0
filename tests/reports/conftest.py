"""Fixtures of the report tests (the rows themselves live in report_seed.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from report_seed import AS_OF, Seeded, hostile, seed

from kpi.catalogue import Catalogue
from kpi.config import Settings, load_settings
from kpi.reports import write_reports

# A warehouse `seeded` wrote, by its catalogue's content: the next test of this process with the
# same catalogue gets a copy of the file (the same rows; ~5 ms instead of ~90 ms of inserts).
_SEEDED: dict[str, Path] = {}


@pytest.fixture
def seeded(
    cfg: Settings, tiny_catalogue: Catalogue, tmp_path_factory: pytest.TempPathFactory
) -> Seeded:
    """The tiny plan's warehouse on 2023-07-15, with hostile text in notes, names and files."""
    catalogue = hostile(tiny_catalogue)
    key = catalogue.model_dump_json()
    if key in _SEEDED:
        shutil.copytree(_SEEDED[key], cfg.warehouse.parent, dirs_exist_ok=True)
    else:
        seed(cfg, catalogue)  # its connection is closed: the folder holds every row
        _SEEDED[key] = tmp_path_factory.mktemp("seeded") / "warehouse"
        shutil.copytree(cfg.warehouse.parent, _SEEDED[key])
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
