"""Positions stored in batches (group commit): a statement per table, each frame's own reply."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import connect_terminal

T0 = datetime.fromisoformat("2019-10-20T09:00:00+00:00")


def _at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _terminal(token: str) -> Any:
    from hub.selectors import terminal_for_token

    terminal = terminal_for_token(token=token)
    assert terminal is not None
    return terminal


def _position(terminal: Any, callsign: str, seconds: int, lat: float,
              client_id: str | None = None, **extra: Any) -> Any:
    from hub.consumers import _pending_frame
    from hub.protocol import MESSAGE_TYPES, Submission, validate_payload
    from hub.topics import parse_topic

    position = MESSAGE_TYPES["position"]
    payload = validate_payload(position, {"data": {"t": _at(seconds), "lat": lat, "lon": 120.49,
                                                   **extra}})
    return _pending_frame(position, Submission(
        terminal=terminal, topic=parse_topic(f"unit:{callsign}"),
        client_id=client_id or str(uuid.uuid4()), payload=payload))


def _stored(outcomes: list[Any]) -> list[Any]:
    from hub.journal import StoredMessage

    assert all(isinstance(outcome, StoredMessage) for outcome in outcomes), outcomes
    return outcomes


def _journal(topic: str, type: str | None = None) -> list[tuple[int, str, dict[str, Any]]]:
    from hub.models import JournalEntry

    entries = JournalEntry.objects.filter(topic=topic).order_by("seq")
    if type is not None:
        entries = entries.filter(type=type)
    return [(entry.seq, entry.client_id, entry.data) for entry in entries]


def _history(callsign: str) -> list[tuple[str, float, float | None]]:
    from ambulance.models import UnitPosition

    return [(row.measured_at.isoformat().replace("+00:00", "Z"), round(row.location.y, 4),
             row.speed)
            for row in UnitPosition.objects.filter(unit__callsign=callsign).order_by("id")]


def _unit(callsign: str) -> tuple[float, str, float | None, float | None]:
    from ambulance.models import Unit

    unit = Unit.objects.get(callsign=callsign)
    assert unit.position is not None and unit.position_at is not None
    return (round(unit.position.y, 4), unit.position_at.isoformat().replace("+00:00", "Z"),
            unit.heading, unit.speed)


def test_a_batch_keeps_arrival_order_per_unit_the_whole_history_and_the_newest_fix(roles):
    from hub.journal import apply_once_many

    crew, other_crew = _terminal(roles.ambulance), _terminal(roles.other_ambulance)
    frames = [
        _position(crew, "WZ01", 10, 30.71, speed=10.0, heading=90.0),
        _position(other_crew, "WZ02", 5, 30.81),
        _position(crew, "WZ01", 30, 30.73, speed=12.0, heading=180.0),
        # Late and older than the fix before it: history only, the unit stays where it is.
        _position(crew, "WZ01", 20, 30.72, speed=11.0),
        _position(other_crew, "WZ02", 6, 30.82, speed=3.0),
    ]
    outcomes = _stored(apply_once_many(frames=frames))
    wz01, wz02 = _journal("unit:WZ01"), _journal("unit:WZ02")
    assert [data["lat"] for _, _, data in wz01] == [30.71, 30.73, 30.72]
    assert [data["lat"] for _, _, data in wz02] == [30.81, 30.82]
    assert [seq for seq, _, _ in wz01] == [1, 2, 3] and [seq for seq, _, _ in wz02] == [1, 2]
    assert [(outcome.topic, outcome.seq, outcome.id) for outcome in outcomes] == [
        (frame.topic, seq, frame.client_id)
        for frame, seq in zip(frames, [1, 1, 2, 3, 2], strict=True)
    ]
    assert _history("WZ01") == [(_at(10), 30.71, 10.0), (_at(30), 30.73, 12.0),
                                (_at(20), 30.72, 11.0)]
    assert _history("WZ02") == [(_at(5), 30.81, None), (_at(6), 30.82, 3.0)]
    assert _unit("WZ01") == (30.73, _at(30), 180.0, 12.0)
    assert _unit("WZ02") == (30.82, _at(6), None, 3.0)
    # A later batch with only an older fix than the unit's: history, no move.
    _stored(apply_once_many(frames=[_position(crew, "WZ01", 1, 30.60),
                                    _position(other_crew, "WZ02", 7, 30.83)]))
    assert _unit("WZ01") == (30.73, _at(30), 180.0, 12.0)
    assert _unit("WZ02") == (30.83, _at(7), None, None)
    assert len(_history("WZ01")) == 4


def test_fixes_with_the_same_time_leave_the_unit_at_the_later_one_as_one_by_one_would(roles):
    from hub.journal import apply_once_many

    crew, other_crew = _terminal(roles.ambulance), _terminal(roles.other_ambulance)
    _stored(apply_once_many(frames=[_position(crew, "WZ01", 10, 30.71),
                                    _position(crew, "WZ01", 10, 30.75),
                                    _position(other_crew, "WZ02", 10, 30.80)]))
    assert _unit("WZ01")[:2] == (30.75, _at(10))


def test_a_resent_batch_is_acknowledged_with_the_original_seqs_and_stored_once(roles):
    from hub.journal import apply_once_many

    crew, other_crew = _terminal(roles.ambulance), _terminal(roles.other_ambulance)
    frames = [_position(crew, "WZ01", 10, 30.71), _position(other_crew, "WZ02", 10, 30.81),
              _position(crew, "WZ01", 11, 30.72)]
    stored = _stored(apply_once_many(frames=frames))
    again = _stored(apply_once_many(frames=[
        _position(frame.terminal, frame.topic.removeprefix("unit:"), 50, 31.0,
                  client_id=frame.client_id)
        for frame in frames]))
    assert [(m.topic, m.seq) for m in again] == [(m.topic, m.seq) for m in stored]
    assert [data["lat"] for _, _, data in _journal("unit:WZ01")] == [30.71, 30.72]
    assert len(_history("WZ01")) == 2 and len(_history("WZ02")) == 1
    assert _unit("WZ01")[:2] == (30.72, _at(11))


def test_a_position_for_another_unit_in_a_batch_is_forbidden_and_the_others_are_stored(roles):
    from hub.errors import Forbidden
    from hub.journal import StoredMessage, apply_once_many

    crew, other_crew = _terminal(roles.ambulance), _terminal(roles.other_ambulance)
    command = _terminal(roles.command)
    outcomes = apply_once_many(frames=[
        _position(crew, "WZ01", 10, 30.71), _position(other_crew, "WZ01", 11, 30.99),
        _position(command, "WZ02", 11, 30.99), _position(crew, "WZ01", 12, 30.72),
    ])
    assert isinstance(outcomes[0], StoredMessage) and isinstance(outcomes[3], StoredMessage)
    assert isinstance(outcomes[1], Forbidden) and isinstance(outcomes[2], Forbidden)
    assert str(outcomes[1]) == ("topic: ambulance terminal amb-WZ02 may not send position "
                                "here")
    assert str(outcomes[2]) == "topic: command terminal command-1 may not send position here"
    assert [data["lat"] for _, _, data in _journal("unit:WZ01")] == [30.71, 30.72]
    assert _journal("unit:WZ02") == [] and _history("WZ02") == []
    assert _unit("WZ01")[:2] == (30.72, _at(12))


def test_position_publishers_answers_as_may_publish_position(roles):
    from hub import permissions

    terminals = [_terminal(token) for token in (roles.ambulance, roles.other_ambulance,
                                                roles.command, roles.field)]
    pairs = [(terminal, callsign) for terminal in terminals
             for callsign in ("WZ01", "WZ02", "NOPE")]
    answers = permissions.position_publishers(pairs)
    assert answers == [permissions.may_publish_position(t, c) for t, c in pairs]
    assert answers.count(True) == 2


def _transport_to_tx1(roles: Any) -> Any:
    from ambulance.services import transport_assign
    from field_terminal.schemas import CasualtyReport
    from field_terminal.services import casualty_report

    data = casualty_report_data(category="yellow")
    with transaction.atomic():
        casualty_report(terminal=_terminal(roles.field), event_slug="wic-test",
                        client_id=str(uuid.uuid4()), payload=CasualtyReport.model_validate(data))
    return transport_assign(casualty_id=str(data["casualty"]), callsign="WZ01",
                            hospital_code="TX1", assigned_by="command-1")


def test_a_batch_tells_the_hospital_one_eta_per_transport_from_the_units_newest_fix(roles):
    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from ambulance.models import Transport
    from ambulance.services import trip_etas
    from hub.journal import apply_once_many
    from hub.timefmt import iso_millis

    crew = _terminal(roles.ambulance)
    transport = _transport_to_tx1(roles)
    assert _journal("hospital:TX1", "transport.eta") == []
    _stored(apply_once_many(frames=[
        _position(crew, "WZ01", 10, 30.90), _position(crew, "WZ01", 30, 30.95),
        # Older and much further away: it must not be what the hospital is told.
        _position(crew, "WZ01", 20, 31.50),
    ]))
    [(_, _, told)] = _journal("hospital:TX1", "transport.eta")
    transport = Transport.objects.select_related("casualty", "hospital").get(pk=transport.pk)
    assert transport.eta is not None
    assert told == {"transport": transport.pk, "casualty": str(transport.casualty_id),
                    "unit": "WZ01", "eta": iso_millis(transport.eta)}
    _, from_newest = trip_etas(transport=transport, start=Point(120.49, 30.95, srid=4326),
                               now=timezone.now())
    _, from_oldest = trip_etas(transport=transport, start=Point(120.49, 31.50, srid=4326),
                               now=timezone.now())
    assert abs(from_newest - transport.eta) < timedelta(seconds=30)
    assert abs(from_oldest - transport.eta) > timedelta(minutes=5)
    # The same place again: the ETA moved by less than a minute, which is no news.
    _stored(apply_once_many(frames=[_position(crew, "WZ01", 40, 30.95),
                                    _position(crew, "WZ01", 41, 30.95)]))
    assert len(_journal("hospital:TX1", "transport.eta")) == 1


def test_one_fix_alone_moves_the_unit_and_the_eta_like_a_batch(roles):
    from hub.journal import apply_once_many

    crew = _terminal(roles.ambulance)
    _transport_to_tx1(roles)
    _stored(apply_once_many(frames=[_position(crew, "WZ01", 10, 30.95, speed=8.0)]))
    assert _unit("WZ01") == (30.95, _at(10), None, 8.0)
    assert len(_journal("hospital:TX1", "transport.eta")) == 1
    assert _history("WZ01") == [(_at(10), 30.95, 8.0)]


def test_a_batch_waiting_for_a_units_row_holds_none_of_its_topics(roles):
    """Rows before topics: a status change holds the unit's row while it appends to the
    unit's topic, so a position batch that took the topic and then waited for the row
    would deadlock with it (a second's stall before PostgreSQL notices)."""
    import threading
    import time

    from django.db import connection, connections

    from ambulance.models import Unit
    from hub.journal import apply_once_many

    crew, other_crew = _terminal(roles.ambulance), _terminal(roles.other_ambulance)
    # The topics' rows exist, so a lock on them would be seen.
    _stored(apply_once_many(frames=[_position(crew, "WZ01", 1, 30.70)]))
    _stored(apply_once_many(frames=[_position(other_crew, "WZ02", 1, 30.80)]))
    holding, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                Unit.objects.select_for_update().get(callsign="WZ01")
                holding.set()
                release.wait(20)
        finally:
            connections.close_all()

    def store_a_batch() -> None:
        try:
            outcome["stored"] = apply_once_many(frames=[_position(crew, "WZ01", 10, 30.71),
                                                        _position(other_crew, "WZ02", 10, 30.81)])
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert holding.wait(10)
    batch = threading.Thread(target=store_a_batch)
    batch.start()
    try:
        deadline = time.monotonic() + 10
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND wait_event_type = 'Lock'")
                if cursor.fetchone()[0] > 0:
                    break
                assert time.monotonic() < deadline, "the batch never waited for the unit's row"
                time.sleep(0.02)
            with transaction.atomic():
                cursor.execute("SELECT name FROM hub_topic WHERE name = ANY(%s) "
                               "FOR UPDATE NOWAIT", [["unit:WZ01", "unit:WZ02"]])
                assert len(cursor.fetchall()) == 2
    finally:
        release.set()
        holder.join(20)
        batch.join(20)
    assert [outcome.seq for outcome in _stored(outcome["stored"])] == [2, 2]


@pytest.mark.asyncio
async def test_crews_sending_at_once_get_one_right_reply_each_and_viewers_an_ordered_stream(
    live_hub, roles
):
    from hub.services import terminal_token_issue

    second_tablet = await in_db(lambda: terminal_token_issue(
        kind="ambulance", name="amb-WZ01-b", event=roles.event, unit=roles.unit).token)
    viewer = await connect_terminal(live_hub.ws_url, roles.command)
    for topic in ("unit:WZ01", "unit:WZ02"):
        assert (await viewer.subscribe(topic))["seq"] == 0
    crews = [await connect_terminal(live_hub.ws_url, token)
             for token in (roles.ambulance, second_tablet, roles.other_ambulance)]
    outsider = await connect_terminal(live_hub.ws_url, roles.field)

    async def pipeline(terminal, callsign, base):
        # Every frame in flight at once, so the hub's writers take them in batches.
        return await asyncio.gather(*(
            terminal.send("position", f"unit:{callsign}",
                          {"t": _at(base + i), "lat": 30.7 + i / 1000, "lon": 120.49})
            for i in range(15)))

    results = await asyncio.gather(
        pipeline(crews[0], "WZ01", 0), pipeline(crews[1], "WZ01", 100),
        pipeline(crews[2], "WZ02", 0), pipeline(outsider, "WZ01", 500))
    *good, refused = results
    assert all(reply["type"] == "ack" for replies in good for reply in replies), good
    assert all(reply == {"type": "error", "id": reply["id"], "code": "forbidden",
                         "message": "topic: field terminal medic-1 may not send position here"}
               for reply in refused)
    acked = {topic: sorted(reply["seq"] for replies in good for reply in replies
                           if reply["topic"] == topic) for topic in ("unit:WZ01", "unit:WZ02")}
    assert acked == {"unit:WZ01": list(range(1, 31)), "unit:WZ02": list(range(1, 16))}
    streamed: dict[str, list[int]] = {"unit:WZ01": [], "unit:WZ02": []}
    while len(streamed["unit:WZ01"]) < 30 or len(streamed["unit:WZ02"]) < 15:
        message = await viewer.next_message(timeout=10)
        streamed[message["topic"]].append(message["seq"])
    assert streamed == acked
    assert (await in_db(_unit, "WZ01"))[:2] == (30.714, _at(114))
    assert len(await in_db(_history, "WZ01")) == 30
    for terminal in (viewer, outsider, *crews):
        await terminal.close()
