"""The morning flow: send what the outbox holds."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.artifacts import create_table_artifact

from flows import tasks
from flows.artifacts import artifact_key, key_value_rows
from kpi import clock, pipeline


@flow(name="deliver")
def deliver(now: datetime | None = None, home: str | None = None) -> dict:
    """Send every outbox message due now (quiet hours end before the 08:30 schedule)."""
    cfg = pipeline.resolve_settings(home)
    now = now or clock.now(cfg.tz)
    result = tasks.deliver(cfg, now)
    create_table_artifact(
        key_value_rows(result),
        key=artifact_key(cfg.plan, "deliver"),
        description=f"{now:%Y-%m-%d %H:%M} 发送结果",
    )
    return pipeline.jsonable(result)


if __name__ == "__main__":
    deliver()
