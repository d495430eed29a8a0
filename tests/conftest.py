"""Fixtures every area shares: isolated settings, the real catalogue, tiny catalogues."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import yaml

from kpi.catalogue import Catalogue, load_catalogue
from kpi.config import ROOT, Settings, load_settings

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect's temporary server may take more than its default 20 s to start on a loaded machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

# The suite never reads the wall clock: "now" is this moment unless a test sets another
# (KPI_NOW, inherited by every subprocess; kpi.clock.frozen within the process). It is the
# morning after the demo's as-of date, outside quiet hours.
TEST_NOW = "2023-07-16T09:00:00+08:00"
os.environ["KPI_NOW"] = TEST_NOW

TINY_REPORT = textwrap.dedent(
    """\
    主要预期目标是：GDP 增长 8.5%以上。推进项目，完成投资 227.4亿元。
    确保新增城镇就业 8500人，失业率控制在 4.5%以内。力争“金融会客厅”6 月份投入使用。
    市场主体增至 5.5 万户。新增国家高新技术企业 30 家。
    """
)

TINY_DEPARTMENTS = [
    {"code": "fgw", "name_zh": "区发展和改革委员会", "short_zh": "发改委", "route": "dept-fgw"},
    {"code": "tjj", "name_zh": "区统计局", "short_zh": "统计局", "route": "dept-tjj"},
    {"code": "rsj", "name_zh": "区人力资源和社会保障局", "short_zh": "人社局", "route": "dept-rsj"},
    {"code": "kjj", "name_zh": "区科学技术局", "short_zh": "科技局", "route": "dept-kjj"},
    {
        "code": "scjgj",
        "name_zh": "区市场监督管理局",
        "short_zh": "市场监管局",
        "route": "dept-scjgj",
    },
    {"code": "dcj", "name_zh": "区委区政府督查局", "short_zh": "督查局", "route": "dcj"},
]


def _t(code, name, kind, comparator, value, unit, dept, source, **kw):
    base = {
        "code": code,
        "name_zh": name,
        "name_en": code.replace("_", " "),
        "section": "二",
        "kind": kind,
        "comparator": comparator,
        "value": value,
        "unit": unit,
        "deadline": "2023-12-31",
        "firmness": "firm",
        "department": dept,
        "cadence": "monthly",
        "due_day": 10,
        "source": source,
    }
    base.update(kw)
    return base


TINY_TARGETS = [
    _t(
        "gdp_growth",
        "地区生产总值增长",
        "growth_rate",
        ">=",
        8.5,
        "%",
        "tjj",
        "GDP 增长 8.5%以上",
        headline=True,
        cadence="quarterly",
        due_day=20,
    ),
    _t(
        "investment_total",
        "完成投资",
        "cumulative",
        ">=",
        227.4,
        "亿元",
        "fgw",
        "完成投资 227.4亿元",
    ),
    _t("urban_jobs", "新增城镇就业", "count", ">=", 8500, "人", "rsj", "新增城镇就业 8500人"),
    _t("unemployment_rate", "失业率", "ceiling", "<=", 4.5, "%", "rsj", "失业率控制在 4.5%以内"),
    _t(
        "finance_hall_open",
        "金融会客厅投入使用",
        "milestone",
        "done",
        None,
        None,
        "fgw",
        "“金融会客厅”6 月份投入使用",
        deadline="2023-06-30",
        firmness="aspirational",
    ),
    _t("market_entities", "市场主体", "level", ">=", 5.5, "万户", "scjgj", "市场主体增至 5.5 万户"),
    _t(
        "hightech_firms",
        "新增国家高新技术企业",
        "count",
        ">=",
        30,
        "家",
        "kjj",
        "新增国家高新技术企业 30 家",
        firmness="aspirational",
    ),
]


def write_catalogue(folder: Path, targets: list[dict], plan_code: str = "tiny-2023") -> Path:
    """Write a small catalogue (plan, register, report) into a folder; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.txt").write_text(TINY_REPORT, encoding="utf-8")
    (folder / "departments.yaml").write_text(
        yaml.safe_dump({"departments": TINY_DEPARTMENTS}, allow_unicode=True), encoding="utf-8"
    )
    doc = {
        "plan": {
            "code": plan_code,
            "name_zh": "测试计划",
            "district_zh": "测试区",
            "year": 2023,
            "start": "2023-01-01",
            "end": "2023-12-31",
            "report": "report.txt",
            "departments": "departments.yaml",
        },
        "targets": targets,
    }
    path = folder / f"{plan_code}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test starts at TEST_NOW, whatever an earlier test set."""
    monkeypatch.setenv("KPI_NOW", TEST_NOW)
    return TEST_NOW


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    """Settings whose state (warehouse, inbox, archive, sinks) lives in a temporary folder."""
    return load_settings(env={}).with_home(tmp_path / "home")


@pytest.fixture
def tiny_catalogue(tmp_path: Path) -> Catalogue:
    """A seven-target catalogue, one target of each common kind, for hand-worked tests."""
    return load_catalogue(write_catalogue(tmp_path / "catalogue", TINY_TARGETS))


@pytest.fixture(scope="session")
def hongqi() -> Catalogue:
    """The real catalogue of the bundled plan."""
    return load_catalogue(ROOT / "catalogue" / "hongqi-2023.yaml")


@pytest.fixture
def tiny_targets() -> list[dict]:
    """A fresh copy of the tiny catalogue's target entries, free to mutate."""
    import copy

    return copy.deepcopy(TINY_TARGETS)


@pytest.fixture
def make_catalogue(tmp_path: Path):
    """Write and load a catalogue from target entries: make_catalogue(targets, plan_code=...)."""
    counter = iter(range(1000))

    def _make(targets: list[dict], plan_code: str = "tiny-2023") -> Catalogue:
        return load_catalogue(write_catalogue(tmp_path / f"cat{next(counter)}", targets, plan_code))

    return _make
