"""Alerts: episodes and the 13710 workflow, an outbox, delivery through apprise (WeCom, email).

    raise_alerts(cfg, catalogue, as_of, now) -> dict   # episodes + outbox, one transaction
    deliver(cfg, now) -> dict                          # sends due outbox messages (no lock)
    deliver_locked(cfg, now=None) -> dict              # the same under the run lock, then the
                                                       # snapshot again (commands and flows)
    ack / feedback / close(cfg, id, ...) -> dict       # 13710 steps (lock, rules, snapshot)
    overview(cfg, plan, now, include_closed) -> dict   # what `kpi alerts --json` prints
`now` is always passed in; nothing here reads the wall clock. See kpi/alerts/README.md.
"""

from kpi.alerts.delivery import deliver, deliver_locked, failed_state
from kpi.alerts.raising import raise_alerts
from kpi.alerts.workflow import (
    EpisodeNotFound,
    WarehouseBusy,
    WorkflowRefused,
    ack,
    close,
    feedback,
    overview,
)

__all__ = [
    "raise_alerts",
    "deliver",
    "deliver_locked",
    "failed_state",
    "ack",
    "feedback",
    "close",
    "overview",
    "EpisodeNotFound",
    "WorkflowRefused",
    "WarehouseBusy",
]
