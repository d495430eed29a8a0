"""Fixtures of the multi-plan tests: two districts' plans cloned from the tiny catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kpi.catalogue import Catalogue, load_catalogue


def clone(source: Catalogue, folder: Path, code: str, district_zh: str) -> Catalogue:
    """The catalogue of another district (or year): the same targets under a new plan code."""
    doc = yaml.load(
        (folder / f"{source.plan.code}.yaml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader
    )
    doc["plan"].update(code=code, district_zh=district_zh, name_zh=f"{district_zh}2023年目标任务")
    path = folder / f"{code}.yaml"
    path.write_text(
        yaml.dump(doc, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return load_catalogue(path)


@pytest.fixture
def east(tiny_catalogue: Catalogue, tmp_path: Path) -> Catalogue:
    """东区's plan: the tiny catalogue as east-2023."""
    return clone(tiny_catalogue, tmp_path / "catalogue", "east-2023", "东区")


@pytest.fixture
def west(tiny_catalogue: Catalogue, tmp_path: Path) -> Catalogue:
    """西区's plan: the same targets as west-2023, in the same catalogue folder."""
    return clone(tiny_catalogue, tmp_path / "catalogue", "west-2023", "西区")
