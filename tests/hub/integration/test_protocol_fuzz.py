"""Property: whatever a terminal sends, it gets exactly one answer, keeps its connection,
and a frame answered with an error changes no stored data."""

import asyncio
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import casualty_report_data
from tests.support.protocol import connect_terminal

KNOWN_TYPES = ["hello", "ping", "subscribe", "unsubscribe", "casualty.report", "triage.update",
               "vitals", "waveform", "note", "media", "position", "unit.status", "capacity",
               "ack", "welcome", "error"]

json_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(
    allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _valid_data(kind: str) -> dict[str, Any]:
    valid: dict[str, dict[str, Any]] = {
        "vitals": {"t": "2019-10-20T09:00:00Z", "hr": 80, "spo2": 97},
        "waveform": {"t0": "2019-10-20T09:00:00Z", "hz": 250, "signal": "ecg_ii", "unit": "mV",
                     "samples": [0.1, 0.2]},
        "triage.update": {"category": "yellow", "method": "manual"},
        "note": {"text": "stable"},
        "position": {"t": "2019-10-20T09:00:00Z", "lat": 30.7, "lon": 120.5},
        "unit.status": {"status": "available"},
        "capacity": {"beds": {"red": 1, "yellow": 1, "green": 1}, "diversion": False},
        "casualty.report": casualty_report_data(),
    }
    return valid.get(kind, {})


@st.composite
def frames(draw, casualty_topic: str):
    shape = draw(st.sampled_from(["text", "json", "mutated"]))
    if shape == "text":
        return draw(st.text(max_size=60))
    if shape == "json":
        return json.dumps(draw(json_values))
    kind = draw(st.sampled_from([*KNOWN_TYPES, "x.y", ""]))
    data = _valid_data(kind)
    if data and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(data)))
        data = {**data, key: draw(json_values)}
    elif draw(st.booleans()):
        data = {**data, draw(st.text(min_size=1, max_size=6)): draw(json_values)}
    frame = {
        "type": kind,
        "id": draw(st.one_of(st.uuids().map(str), st.text(max_size=70), st.integers(), st.none())),
        "topic": draw(st.sampled_from([casualty_topic, "event:wic-test", "unit:WZ01",
                                       "hospital:TX1", "casualty:zz", "moon:1", "unit:"])
                      | st.text(max_size=12)),
        "data": data,
    }
    for optional in ("topic", "data", "id"):
        if draw(st.integers(0, 9)) == 0:
            del frame[optional]
    return json.dumps(frame)


def _reply_key(text: str):
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    if isinstance(frame, dict) and isinstance(frame.get("id"), str) and 1 <= len(frame["id"]) <= 64:
        return frame["id"]
    return None


def _stored_state():
    from field_terminal.models import Casualty, VitalSigns
    from hospital_intake.models import Hospital
    from hub.models import JournalEntry

    return (JournalEntry.objects.count(), Casualty.objects.count(), VitalSigns.objects.count(),
            list(Hospital.objects.order_by("code").values_list("beds_red", "diversion")))


@pytest.fixture
def fuzz_loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_any_frame_gets_one_answer_keeps_the_socket_and_errors_change_nothing(
        live_hub, roles, fuzz_loop):
    async def open_terminal():
        terminal = await connect_terminal(live_hub.ws_url, roles.field)
        report = casualty_report_data()
        assert (await terminal.send("casualty.report", "event:wic-test", report))["type"] == "ack"
        return terminal, f"casualty:{report['casualty']}"

    terminal, casualty_topic = fuzz_loop.run_until_complete(open_terminal())

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(frame=frames(casualty_topic))
    def check(frame: str) -> None:
        before = _stored_state()
        key = _reply_key(frame)
        if key is not None:
            key = f"{key}"  # the reply carries the frame's own id
        reply = fuzz_loop.run_until_complete(terminal.request(frame, reply_id=key, timeout=10))
        assert reply["type"] in ("ack", "error", "pong"), reply
        if reply["type"] == "error":
            assert reply["code"] in ("invalid", "forbidden", "conflict", "rate_limited",
                                     "unavailable", "unknown_type")
            assert isinstance(reply["message"], str) and reply["message"]
            assert _stored_state() == before, f"an error changed stored data: {frame}"
        assert not terminal.closed.done(), f"the hub closed the socket after {frame!r}"

    try:
        check()
        # Still the same socket, still answering.
        pong = fuzz_loop.run_until_complete(terminal.request({"type": "ping", "id": str(uuid.uuid4())}))
        assert pong["type"] == "pong"
    finally:
        fuzz_loop.run_until_complete(terminal.close())
