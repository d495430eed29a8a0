"""The deliver flow under Prefect: its run ends Failed when a message cannot be delivered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime

import pytest

from kpi.alerts import raise_alerts
from kpi.config import ROOT

pytestmark = pytest.mark.slow

AS_OF = date(2023, 7, 15)

# The flow runs in its own process against an API server, as a worker runs it: this process's
# shared temporary server (`prefect_api`; how the CLI starts one is test_ephemeral's subject).
# Without PREFECT_API_URL, `ephemeral.start()` would start one as the CLI does.
RUN = """
import json, sys
from datetime import datetime
from flows import ephemeral
server = ephemeral.start()
from flows.deliver import DeliveryFailed, deliver
if server is not None:  # None: a server is configured (PREFECT_API_URL)
    server.wait()
state = deliver(now=datetime.fromisoformat(sys.argv[1]), home=sys.argv[2], return_state=True)
data = state.result(raise_on_failure=False)
summary = data.result if isinstance(data, DeliveryFailed) else data
print(json.dumps({"type": state.type.value, "message": state.message,
                  "raised": type(data).__name__, "summary": summary}, ensure_ascii=False, default=str))
"""


def test_the_deliver_flow_run_fails_naming_a_channel_that_cannot_be_used_while_others_deliver(
    cfg, tiny_catalogue, put_progress, prefect_home, prefect_api
):
    put_progress(tiny_catalogue, AS_OF, {"investment_total": "严重滞后"})
    raise_alerts(cfg, tiny_catalogue, AS_OF, datetime(2023, 7, 16, 8, 30, tzinfo=cfg.tz))
    apprise_file = cfg.home / "apprise.yml"
    apprise_file.write_text(
        "urls:\n  - kpiwecom://{{KPI_WECOM_KEY_NOT_SET}}:\n      - tag: dept-fgw\n", "utf-8"
    )
    env = {k: v for k, v in os.environ.items() if k != "KPI_WECOM_KEY_NOT_SET"}
    env.update(
        KPI_APPRISE_CONFIG=str(apprise_file),
        PREFECT_HOME=str(prefect_home),
        PREFECT_API_URL=prefect_api.url(),
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    now = datetime(2023, 7, 16, 9, tzinfo=cfg.tz).isoformat()
    out = subprocess.run(
        [sys.executable, "-c", RUN, now, str(cfg.home)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["type"] == "FAILED" and got["raised"] == "DeliveryFailed"
    assert "KPI_WECOM_KEY_NOT_SET" in got["message"] and "不可用" in got["message"]
    assert got["summary"]["sent"] == 4  # the digest reached the local sinks of leaders and dcj
    assert cfg.snapshot.exists()  # republished: `kpi alerts` shows the deliveries
