"""The deliver flow under Prefect: its run ends Failed when a message cannot be delivered."""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime

import pytest

from kpi.alerts import raise_alerts

# Prefect writes its home on import: keep it out of the user's ~/.prefect.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="kpi-tests-prefect-"))

pytestmark = pytest.mark.slow

AS_OF = date(2023, 7, 15)


def test_the_deliver_flow_run_fails_naming_a_channel_that_cannot_be_used_while_others_deliver(
    cfg, tiny_catalogue, put_progress, monkeypatch
):
    put_progress(tiny_catalogue, AS_OF, {"investment_total": "严重滞后"})
    raise_alerts(cfg, tiny_catalogue, AS_OF, datetime(2023, 7, 16, 8, 30, tzinfo=cfg.tz))
    apprise_file = cfg.home / "apprise.yml"
    apprise_file.write_text(
        "urls:\n  - kpiwecom://{{KPI_WECOM_KEY_NOT_SET}}:\n      - tag: dept-fgw\n", "utf-8"
    )
    monkeypatch.setenv("KPI_APPRISE_CONFIG", str(apprise_file))
    monkeypatch.delenv("KPI_WECOM_KEY_NOT_SET", raising=False)
    from prefect.settings import (
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    from flows.deliver import DeliveryFailed, deliver

    now = datetime(2023, 7, 16, 9, tzinfo=cfg.tz)
    # The temporary API server takes 7-13 s to start, more on a busy machine.
    with temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 120}):
        state = deliver(now=now, home=str(cfg.home), return_state=True)
    assert state.is_failed()
    assert "KPI_WECOM_KEY_NOT_SET" in state.message and "不可用" in state.message
    failure = state.result(raise_on_failure=False)
    assert isinstance(failure, DeliveryFailed)
    assert failure.result["sent"] == 4  # the digest reached the local sinks of leaders and dcj
    assert cfg.snapshot.exists()  # republished: `kpi alerts` shows the deliveries
