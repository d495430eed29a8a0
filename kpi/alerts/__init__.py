"""Alerts: episodes and the 13710 workflow, an outbox, delivery through apprise (WeCom, email).

    raise_alerts(cfg, catalogue, as_of, now) -> dict   # episodes + outbox, one transaction
    deliver(cfg, now) -> dict                          # sends due outbox messages (no lock)
    deliver_locked(cfg, now=None) -> dict              # the same under the run lock, then the
                                                       # snapshot again (commands and flows)
    ack / feedback / close(cfg, id, ...) -> dict       # 13710 steps (lock, rules, snapshot)
    overview(cfg, plan, now, include_closed) -> dict   # what `kpi alerts --json` prints
`now` is always passed in; nothing here reads the wall clock. See kpi/alerts/README.md.
"""

from importlib import import_module

# Imported when first used (PEP 562): delivery loads apprise and its plugins (~0.4 s), which a
# night that only raises alerts never needs.
_LAZY = {
    "deliver": "delivery",
    "deliver_locked": "delivery",
    "failed_state": "delivery",
    "raise_alerts": "raising",
    "EpisodeNotFound": "workflow",
    "WarehouseBusy": "workflow",
    "WorkflowRefused": "workflow",
    "ack": "workflow",
    "close": "workflow",
    "feedback": "workflow",
    "overview": "workflow",
}


def __getattr__(name: str):
    """The public names of the submodules, each imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"kpi.alerts.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


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
