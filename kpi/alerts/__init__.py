"""Alerts: episodes and the 13710 workflow, an outbox, delivery through apprise (WeCom, email).

    raise_alerts(cfg, catalogue, as_of, now) -> dict   # episodes + outbox, one transaction
    deliver(cfg, now) -> dict                          # sends due outbox messages
`now` is always passed in; nothing here reads the wall clock. See kpi/alerts/README.md.
"""

from kpi.alerts.delivery import deliver
from kpi.alerts.raising import raise_alerts
from kpi.alerts.workflow import EpisodeNotFound, ack, close, feedback, overview

__all__ = ["raise_alerts", "deliver", "ack", "feedback", "close", "overview", "EpisodeNotFound"]
