"""`/metrics` on a live hub counts what the terminals did, and only for the bearer token."""

import asyncio
import re

import pytest
import requests

from tests.conftest import casualty_report_data
from tests.support.hubs import METRICS_TOKEN
from tests.support.protocol import connect_terminal


def _scrape(live_hub) -> str:
    response = requests.get(f"{live_hub.http_url}/metrics", timeout=5,
                            headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def _value(text: str, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist yet."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


async def test_frames_acks_errors_and_connected_terminals_are_counted(live_hub, roles):
    before = await asyncio.to_thread(_scrape, live_hub)
    medic = await connect_terminal(live_hub.ws_url, roles.field)
    ack = await medic.send("casualty.report", "event:wic-test", casualty_report_data())
    assert ack["type"] == "ack"
    refused = await medic.send("casualty.report", "event:wic-test", {"casualty": "not-a-uuid"})
    assert refused["type"] == "error"
    during = await asyncio.to_thread(_scrape, live_hub)
    await medic.close()

    def grew(name: str, **labels: str) -> float:
        return _value(during, name, **labels) - _value(before, name, **labels)

    assert grew("mcihub_terminals_connected", kind="field") == 1
    assert grew("mcihub_frames_in_total", type="casualty.report", outcome="ack") == 1
    assert grew("mcihub_frames_in_total", type="casualty.report", outcome=refused["code"]) == 1
    assert grew("mcihub_errors_total", code=refused["code"]) == 1
    assert grew("mcihub_frames_out_total", type="ack") >= 1
    assert grew("mcihub_frames_out_total", type="welcome") == 1
    assert grew("mcihub_ack_latency_seconds_count", type="casualty.report") == 1
    assert grew("mcihub_journal_write_seconds_count") >= 1


async def test_the_connected_gauge_falls_when_the_terminal_leaves(live_hub, roles):
    medic = await connect_terminal(live_hub.ws_url, roles.ambulance)
    connected = _value(await asyncio.to_thread(_scrape, live_hub), "mcihub_terminals_connected", kind="ambulance")
    await medic.close()
    for _ in range(50):
        left = _value(await asyncio.to_thread(_scrape, live_hub), "mcihub_terminals_connected",
                      kind="ambulance")
        if left == connected - 1:
            break
        await asyncio.sleep(0.1)
    assert left == connected - 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": METRICS_TOKEN}])
def test_metrics_are_refused_without_the_token(live_hub, headers):
    response = requests.get(f"{live_hub.http_url}/metrics", headers=headers, timeout=5)
    assert response.status_code == 403
    assert "mcihub_" not in response.text


def test_a_dispatch_solve_is_timed(roles):
    from prometheus_client import REGISTRY

    from command_center.services import dispatch_recommend

    def solves() -> float:
        return REGISTRY.get_sample_value("mcihub_dispatch_solve_seconds_count") or 0.0

    before = solves()
    dispatch_recommend(event=roles.event, time_limit=0.1)
    assert solves() == before + 1
