"""Fixtures of the plan tests: a catalogue folder to import into, the exported 分解表."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kpi.config import ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "reports"


@pytest.fixture
def catalogue_dir(tmp_path: Path) -> Path:
    """An empty catalogue folder holding the register and the 2023 report."""
    d = tmp_path / "catalogue"
    d.mkdir()
    shutil.copy(ROOT / "catalogue" / "departments.yaml", d)
    shutil.copy(ROOT / "catalogue" / "hongqi-2023.report.txt", d)
    return d


@pytest.fixture(scope="session")
def _exported_once(hongqi, tmp_path_factory) -> Path:
    """hongqi-2023's 分解表, exported once per test process (the export's bytes never vary)."""
    from kpi.plan import export_plan

    return export_plan(hongqi, tmp_path_factory.mktemp("exported") / "分解表.xlsx")


@pytest.fixture
def exported(_exported_once: Path, tmp_path: Path) -> Path:
    """hongqi-2023 exported as its 分解表: the test's own copy, free to edit."""
    return Path(shutil.copyfile(_exported_once, tmp_path / "分解表.xlsx"))
