"""Configuration resolved once: config/kpi.toml, overridden by KPI_* environment variables."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = ROOT / "config" / "kpi.toml"


@dataclass(frozen=True)
class Settings:
    """Every setting of the project, with paths already resolved."""

    home: Path
    plan: str
    catalogue_dir: Path
    inbox: Path
    warehouse: Path
    snapshot: Path
    archive: Path
    rejected_dir: Path
    reports: Path
    sinks: Path
    status_config: Path
    apprise_config: Path | None
    timezone: str
    max_file_bytes: int
    max_xlsx_uncompressed_bytes: int
    quiet_until: str
    quiet_from: str
    alert_repeat_days: int
    report_base_url: str
    demo_as_of: str
    lock_wait_seconds: int
    # alert delivery (kpi.alerts)
    wecom_per_minute: int
    delivery_permanent_tries: int
    delivery_dead_recheck_hours: int
    # ingest caps against hostile files (issue 11)
    max_rows: int
    max_columns: int
    max_cells: int
    parse_seconds: int
    parse_memory_mb: int
    max_listed_rows: int
    # The analysts' snapshot: written in this DuckDB storage version (see config/kpi.toml).
    snapshot_storage_version: str = "v1.0.0"
    # The submission desk (kpi/desk); defaults keep settings built without these keys working.
    desk_host: str = "127.0.0.1"
    desk_port: int = 8700
    desk_base_url: str = "http://127.0.0.1:8700"
    desk_token_days: int = 30
    desk_lock_wait_seconds: int = 5
    desk_forwarded_allow_ips: str = "127.0.0.1"
    desk_check_concurrency: int = 1
    desk_check_queue: int = 8
    # Readers and `kpi sql` (ops): how long a reader waits, the analyst query's bounds.
    read_wait_seconds: int = 5
    sql_timeout_seconds: int = 30
    sql_memory_limit: str = "1GB"
    sql_max_rows: int = 100_000
    # Prefect's temporary server for `kpi run/replay/demo` with no PREFECT_API_URL (issue 15).
    prefect_server: str = "early"

    @property
    def tz(self) -> ZoneInfo:
        """The district's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def lock_file(self) -> Path:
        """The file lock that keeps two pipeline runs apart."""
        return self.home / "pipeline.lock"

    def catalogue_path(self, plan: str | None = None) -> Path:
        """The catalogue file of a plan."""
        return self.catalogue_dir / f"{plan or self.plan}.yaml"

    def with_home(self, home: Path) -> Settings:
        """The same settings with every state path moved under another home (tests, demos)."""
        home = Path(home)
        return replace(
            self,
            home=home,
            inbox=home / "inbox",
            warehouse=home / "warehouse" / "kpi.duckdb",
            snapshot=home / "warehouse" / "kpi_snapshot.duckdb",
            archive=home / "archive",
            rejected_dir=home / "rejected",
            reports=home / "reports",
            sinks=home / "sinks",
        )


_PATH_KEYS = {"catalogue_dir", "status_config"}  # inputs: relative to the repository
_STATE_KEYS = {"inbox", "warehouse", "snapshot", "archive", "rejected_dir", "reports", "sinks"}


def _coerce(name: str, raw: object, typ: str) -> object:
    if isinstance(raw, str) and typ == "int":
        return int(raw.replace("_", ""))
    return raw


def load_settings(env: dict[str, str] | None = None, config_file: Path = CONFIG_FILE) -> Settings:
    """Read the config file and apply KPI_* overrides from `env` (default: os.environ)."""
    env = os.environ if env is None else env
    with open(config_file, "rb") as fh:
        data = tomllib.load(fh)
    types = {f.name: f.type for f in fields(Settings)}
    for name in types:
        key = f"KPI_{name.upper()}"
        if key in env:
            data[name] = env[key]
    home = Path(data["home"])
    home = home if home.is_absolute() else ROOT / home
    # State paths given relative to the default home follow a moved home.
    default_home = Path("var")
    values: dict[str, object] = {"home": home}
    for name, typ in types.items():
        if name == "home":
            continue
        raw = data.get(name)
        if name in _STATE_KEYS:
            p = Path(raw)
            if not p.is_absolute():
                p = home / p.relative_to(default_home) if p.parts[:1] == ("var",) else home / p
            values[name] = p
        elif name in _PATH_KEYS:
            p = Path(raw)
            values[name] = p if p.is_absolute() else ROOT / p
        elif name == "apprise_config":
            values[name] = (Path(raw) if Path(raw).is_absolute() else ROOT / raw) if raw else None
        else:
            values[name] = _coerce(name, raw, "int" if "int" in str(typ) else "str")
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings."""
    return load_settings()
