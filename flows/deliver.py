"""The delivery flow: send what the outbox holds (every 15 minutes from 08:00 to 22:00).

It ends Failed (returning the state; `DeliveryFailed` when called directly) when a message could not be delivered (无法送达, already
reported to 督查局's route), when a channel could not be built (a missing secret), or when
delivery stopped: the flow run's state is what an operator watching Prefect sees.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.states import Completed, Failed

from flows import tasks
from flows.artifacts import artifact_key, key_value_rows
from kpi import clock, pipeline
from kpi.alerts import deliver_locked, failed_state
from kpi.config import Settings


class DeliveryFailed(RuntimeError):
    """The data of a Failed deliver run: a direct call raises it; `.result` is the summary."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


@task(name="deliver outbox", **tasks.ON_IO)
def deliver_outbox(cfg: Settings, now: datetime) -> dict:
    """Send the outbox messages due at `now` under the run lock; republish the snapshot."""
    return deliver_locked(cfg, now)


@flow(name="deliver")
def deliver(now: datetime | None = None, home: str | None = None):
    """Send every outbox message due now (quiet hours hold the night's messages until 08:00)."""
    cfg = pipeline.resolve_settings(home)
    now = now or clock.now(cfg.tz)
    result = deliver_outbox(cfg, now)
    summary = {k: v for k, v in result.items() if k not in ("undeliverable", "by_outcome")}
    summary["undeliverable"] = len(result["undeliverable"])
    create_table_artifact(
        key_value_rows(summary),
        key=artifact_key(cfg.plan, "deliver"),
        description=f"{now:%Y-%m-%d %H:%M} 发送结果",
    )
    data = pipeline.jsonable(result)
    problem = failed_state(result)
    if problem:
        # A returned state is the run's final state (Prefect 3); a Failed state's data must be
        # an exception: calling the flow directly raises it, with the summary attached.
        return Failed(message=problem, data=DeliveryFailed(problem, data))
    return Completed(message="发送完成", data=data)


if __name__ == "__main__":
    deliver()
