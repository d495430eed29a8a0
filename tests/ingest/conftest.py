"""Fixtures of the ingest tests: the tiny catalogue plus an area target for unit conversions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kpi.catalogue import Catalogue, load_catalogue


@pytest.fixture
def area_catalogue(tiny_catalogue: Catalogue, tmp_path: Path) -> Catalogue:
    """tiny_catalogue with one more target measured in 万平方米 (征收拆迁 100 万平方米)."""
    folder = tmp_path / "catalogue"
    path = folder / f"{tiny_catalogue.plan.code}.yaml"
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    area = dict(doc["targets"][1])  # investment_total: a cumulative target led by 发改委
    area.update(
        code="demolition_area",
        name_zh="征收拆迁",
        name_en="demolition area",
        value=100,
        unit="万平方米",
        source="征收拆迁 100 万平方米",
    )
    doc["targets"].append(area)
    path.write_text(
        yaml.dump(doc, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    report = folder / "report.txt"
    report.write_text(report.read_text(encoding="utf-8") + "征收拆迁 100 万平方米。\n", "utf-8")
    return load_catalogue(path)
