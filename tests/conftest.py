"""Fixtures every area shares: isolated settings, the real catalogue, tiny catalogues."""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from last_user import last_user

from kpi.catalogue import Catalogue, load_catalogue
from kpi.config import ROOT, Settings, load_settings

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect's temporary server may take more than its default 20 s to start on a loaded machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# Prefect writes its home (and its temporary server's SQLite database) on import: one of its own
# for each test process, so that parallel workers (pytest-xdist) never share a database and
# the user's ~/.prefect (or the Makefile's var/prefect) is left alone.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(
    prefix=f"kpi-tests-prefect-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"
)
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)

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


# libyaml's dumper writes the same text as PyYAML's pure-Python one, in a quarter of the time
# (the locked PyYAML wheel has it; tests/ingest and tests/multiplan use it directly too).
DUMPER = yaml.CSafeDumper


def write_catalogue(folder: Path, targets: list[dict], plan_code: str = "tiny-2023") -> Path:
    """Write a small catalogue (plan, register, report) into a folder; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.txt").write_text(TINY_REPORT, encoding="utf-8")
    (folder / "departments.yaml").write_text(
        yaml.dump({"departments": TINY_DEPARTMENTS}, Dumper=DUMPER, allow_unicode=True),
        encoding="utf-8",
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
    path.write_text(
        yaml.dump(doc, Dumper=DUMPER, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
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


@pytest.fixture(scope="module")
def module_tiny_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    """The tiny catalogue, written and loaded once for a module's fixture that is built once."""
    return load_catalogue(write_catalogue(tmp_path_factory.mktemp("catalogue"), TINY_TARGETS))


@pytest.fixture(scope="session")
def write_tiny_catalogue():
    """`write_catalogue` of the tiny targets into a folder given, for module fixtures elsewhere."""
    return lambda folder: write_catalogue(folder, TINY_TARGETS)


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


# --- Suite speed (issue 15): one browser per module, heavy fixtures kept on one worker ---

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, installed by `make setup`
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


# Module scope, not session: while Playwright's sync API is alive in a thread, Prefect's sync
# calls in that thread return coroutines (it sees an event loop), so it must end with its module.
@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium, launched once per module of browser tests; each test opens a context."""
    if not CHROMIUM.exists():
        if os.geteuid() == 0:
            pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium as root")
        pytest.skip(f"{CHROMIUM} is missing and this user is not root (`make setup` adds it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def migrated_prefect_db(tmp_path_factory) -> Path:
    """A Prefect database with every migration applied, built once per run for all workers.

    A fresh PREFECT_HOME costs a Prefect server 5-15 s of migrations; a copy of this costs none.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    db = shared / "prefect-migrated" / "prefect.db"
    with open(shared / "prefect-migrated.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not db.exists():
            home = db.parent.with_suffix(".tmp")
            shutil.rmtree(home, ignore_errors=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
            prefect = Path(sys.executable).parent / "prefect"
            subprocess.run(
                [str(prefect), "server", "database", "upgrade", "-y"],
                env={**env, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1"},
                check=True,
                capture_output=True,
                timeout=300,
            )
            home.rename(db.parent)
    return db


@pytest.fixture(scope="session", autouse=True)
def migrated_warehouse_template(tmp_path_factory) -> Path:
    """New warehouses in this process start as a copy of one migrated here (warehouse_template).

    Commands forked by `forks` do the same; a cold `kpi` migrates its own, and a test that patches
    kpi.warehouse.MIGRATIONS gets its own migrations.
    """
    from warehouse_template import build, templated

    import kpi.warehouse

    template = build(tmp_path_factory.mktemp("warehouse-template"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kpi.warehouse, "duckdb", templated(template))
        yield template


@pytest.fixture(scope="session")
def forks(migrated_warehouse_template):
    """One warm interpreter per test process that forks `kpi ...` commands (faults/forkserver.py).

    For tests of what a command prints and exits with, and of hostile files' `kpi ingest`: each
    runs in a process of its own (environment, folder, stdout, stderr, exit code), without the
    1-3 CPU seconds a cold `kpi` spends importing pandas, DuckDB and Great Expectations.
    """
    from faults.forkserver import ForkServer

    server = ForkServer(migrated_warehouse_template)
    yield server
    server.close()


class SharedPrefectServer:
    """This test process's temporary Prefect API server, started at its first use.

    Started as the CLI starts one (flows/ephemeral.py: Prefect's app in ephemeral mode), on the
    process's PREFECT_HOME with a copy of the migrated database. For tests whose subject is not
    the server's start (flows run against it; its start is test_ephemeral's): each start costs
    ~5 CPU-s, most of it imports.
    """

    def __init__(self, migrated_db: Path):
        self.migrated_db = migrated_db
        self.server = None

    def url(self) -> str:
        """The API's URL (for PREFECT_API_URL); the server is started if it is not running."""
        if self.server is None:
            from flows import ephemeral

            home = Path(os.environ["PREFECT_HOME"])
            copied = not (home / "prefect.db").exists()
            if copied:
                shutil.copyfile(self.migrated_db, home / "prefect.db")
            server = ephemeral.TemporaryServer(home, migrate=not copied)
            try:
                server.wait()
            except BaseException:
                server.stop()
                raise
            self.server = server
        return self.server.url

    def stop(self) -> None:
        """Stop the server, after what flows of this process queued for it was sent."""
        if self.server is None:
            return
        if "prefect" in sys.modules:
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)
            EventsWorker.drain_all(timeout=10)
        self.server.stop()
        self.server = None


@pytest.fixture(scope="session")
def prefect_api(migrated_prefect_db: Path):
    """The process's shared temporary Prefect server (`.url()`), stopped after its last user."""
    shared = SharedPrefectServer(migrated_prefect_db)
    SHARED_PREFECT.append(shared)
    yield shared
    SHARED_PREFECT.remove(shared)
    shared.stop()


# The running `prefect_api` of this process (at most one). Stopped as soon as the last test that
# uses it is over: idle, a temporary server still uses ~0.8 CPU-s a minute (measured).
SHARED_PREFECT: list[SharedPrefectServer] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """Stop `prefect_api`'s server once the last test that uses it is over (a later user, in
    another order, starts it again); the session's end stops it too."""
    yield
    if SHARED_PREFECT and item is last_user(item.session, "prefect_api"):
        SHARED_PREFECT[0].stop()


@pytest.fixture
def prefect_home(tmp_path: Path, migrated_prefect_db: Path) -> Path:
    """A PREFECT_HOME of the test's own, its database already migrated."""
    home = tmp_path / "prefect"
    home.mkdir()
    shutil.copyfile(migrated_prefect_db, home / "prefect.db")
    return home


# Session fixtures that start servers: every test that uses one runs on the same worker, so that
# a parallel run (`pytest -n 2 --dist loadgroup`) starts each of them once.
# `prefect_api`'s users (the replay module and two single slow tests) on one worker too: one
# temporary server for all of them instead of one on each worker.
SHARED_ON_ONE_WORKER = {"served": "prefect-server", "prefect_api": "prefect-api"}
# The longest groups (minutes each on a busy machine) start first, one on each worker; then the
# other slow tests, then the quick ones, which fill the gaps at the end.
LONGEST_FIRST = ("prefect-server", "prefect-api")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist: keep the tests of a costly fixture on one worker, longest first.

    A module whose tests share a module-scoped fixture runs on one worker (the fixture is built
    once); a module that uses a fixture of SHARED_ON_ONE_WORKER joins that fixture's group.
    Without --dist loadgroup, the markers change nothing and the order is left alone.
    """
    # An xdist worker runs with dist "no" and loadgroup set; the controller, with dist "loadgroup".
    if not (getattr(config.option, "loadgroup", False) or config.getoption("dist", "no") != "no"):
        return
    by_module: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_module.setdefault(item.nodeid.split("::")[0], []).append(item)
    group_of: dict[str, str] = {}
    for module, tests in by_module.items():
        group = None
        for item in tests:
            info = getattr(item, "_fixtureinfo", None)
            for name in info.names_closure if info else ():
                if name in SHARED_ON_ONE_WORKER:
                    group = SHARED_ON_ONE_WORKER[name]
                elif group is None and any(
                    d.scope == "module" for d in info.name2fixturedefs.get(name) or ()
                ):
                    group = module
        if group is not None:
            group_of[module] = group
            for item in tests:
                _join_group(item, group)

    def rank(item: pytest.Item) -> int:
        group = group_of.get(item.nodeid.split("::")[0])
        if group in LONGEST_FIRST:
            return LONGEST_FIRST.index(group)
        return len(LONGEST_FIRST) + (item.get_closest_marker("slow") is None)

    items.sort(key=rank)  # stable: the collection's order within each rank


def _join_group(item: pytest.Item, group: str) -> None:
    """Mark an item for pytest-xdist's loadgroup, and give its id the "@group" suffix itself.

    pytest-xdist 3.8 writes the suffix (by which its scheduler groups) into `item._nodeid`,
    which pytest 9.2 no longer reads (the id is `item._id`): without this, every group is
    silently ignored and a module fixture is built on both workers.
    """
    item.add_marker(pytest.mark.xdist_group(group))
    if "@" not in item.nodeid and hasattr(item, "_id"):
        from _pytest.nodeid import coerce_node_id

        item._id = coerce_node_id(f"{item.nodeid}@{group}")
