"""Group commit: many frames in one transaction keep their own seq, idempotency and reply."""

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest
from django.db import connection, transaction

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import connect_terminal

T = "2019-10-20T09:00:00Z"


def _terminal(token: str) -> Any:
    from hub.selectors import terminal_for_token

    terminal = terminal_for_token(token=token)
    assert terminal is not None
    return terminal


def _casualty(reporter: Any) -> str:
    from field_terminal.schemas import CasualtyReport
    from field_terminal.services import casualty_report

    data = casualty_report_data()
    with transaction.atomic():
        casualty_report(terminal=reporter, event_slug="wic-test", client_id=str(uuid.uuid4()),
                        payload=CasualtyReport.model_validate(data))
    return str(data["casualty"])


def _vitals(terminal: Any, casualty: str, hr: int, client_id: str | None = None) -> Any:
    from hub.consumers import _pending_frame
    from hub.protocol import MESSAGE_TYPES, Submission, validate_payload
    from hub.topics import parse_topic

    vitals = MESSAGE_TYPES["vitals"]
    payload = validate_payload(vitals, {"data": {"t": T, "hr": hr}})
    return _pending_frame(vitals, Submission(
        terminal=terminal, topic=parse_topic(f"casualty:{casualty}"),
        client_id=client_id or str(uuid.uuid4()), payload=payload))


def _waveform(terminal: Any, casualty: str, samples: list[float]) -> Any:
    from hub.consumers import _pending_frame
    from hub.protocol import MESSAGE_TYPES, Submission, validate_payload
    from hub.topics import parse_topic

    waveform = MESSAGE_TYPES["waveform"]
    payload = validate_payload(waveform, {"data": {
        "signal": "ecg_ii", "unit": "mV", "t0": T, "hz": 250, "samples": samples}})
    return _pending_frame(waveform, Submission(
        terminal=terminal, topic=parse_topic(f"casualty:{casualty}"),
        client_id=str(uuid.uuid4()), payload=payload))


def _stored(outcomes: list[Any]) -> list[Any]:
    from hub.journal import StoredMessage

    assert all(isinstance(outcome, StoredMessage) for outcome in outcomes), outcomes
    return outcomes


def _journal(topic: str) -> list[tuple[int, str, Any]]:
    from hub.models import JournalEntry

    return [(entry.seq, entry.client_id, entry.data.get("hr"))
            for entry in JournalEntry.objects.filter(topic=topic).order_by("seq")]


def test_frames_stored_together_take_consecutive_seqs_per_topic_in_arrival_order(roles):
    from field_terminal.models import VitalSigns
    from hub.journal import apply_once_many

    medic = _terminal(roles.field)
    first, second = _casualty(medic), _casualty(medic)
    frames = [_vitals(medic, casualty, hr) for hr in range(60, 66)
              for casualty in (first, second)]
    outcomes = _stored(apply_once_many(frames=frames))
    for casualty in (first, second):
        topic = f"casualty:{casualty}"
        assert [hr for _, _, hr in _journal(topic)] == list(range(60, 66))
        # The topic's first seq went to the report's hub-made status, if it made one.
        seqs = [seq for seq, _, _ in _journal(topic)]
        assert seqs == list(range(seqs[0], seqs[0] + 6))
        rows = VitalSigns.objects.filter(casualty_id=casualty).order_by("journal_seq")
        assert [(row.journal_seq, row.hr) for row in rows] == [
            (seq, hr) for seq, _, hr in _journal(topic)]
    assert [outcome.seq for outcome in outcomes] == [
        seq for hr in range(6)
        for seq in (_journal(f"casualty:{first}")[hr][0], _journal(f"casualty:{second}")[hr][0])
    ]


def test_vitals_and_waveforms_of_one_batch_share_a_topic_and_each_row_names_its_seq(roles):
    from field_terminal.models import VitalSigns, WaveformSegment
    from hub.journal import apply_once_many

    medic = _terminal(roles.field)
    first, second = _casualty(medic), _casualty(medic)
    frames = [_waveform(medic, first, [0.1, -0.25, 1e-7]), _vitals(medic, first, 80),
              _vitals(medic, second, 90), _waveform(medic, first, [2.5, 3.0]),
              _waveform(medic, second, [-1.0])]
    outcomes = _stored(apply_once_many(frames=frames))
    assert [outcome.type for outcome in outcomes] == [
        "waveform", "vitals", "vitals", "waveform", "waveform"]
    seqs = {f"casualty:{c}": [seq for seq, _, _ in _journal(f"casualty:{c}")]
            for c in (first, second)}
    # Arrival order within each topic, whatever the type.
    assert [o.seq for o in outcomes if o.topic == f"casualty:{first}"] == seqs[
        f"casualty:{first}"][-3:]
    assert [o.seq for o in outcomes if o.topic == f"casualty:{second}"] == seqs[
        f"casualty:{second}"][-2:]
    by_seq = {(o.topic.removeprefix("casualty:"), o.seq): o for o in outcomes}
    segments = list(WaveformSegment.objects.filter(casualty_id__in=[first, second]))
    assert sorted((str(s.casualty_id), s.journal_seq, s.samples, s.hz) for s in segments) == sorted(
        (key[0], key[1], message.data["samples"], 250.0)
        for key, message in by_seq.items() if message.type == "waveform")
    vitals = list(VitalSigns.objects.filter(casualty_id__in=[first, second]))
    assert sorted((str(v.casualty_id), v.journal_seq, v.hr, v.recorded_by) for v in vitals) == sorted(
        (key[0], key[1], message.data["hr"], medic.name)
        for key, message in by_seq.items() if message.type == "vitals")


def test_a_batch_resent_is_acknowledged_with_the_original_seqs_and_not_stored_again(roles):
    from hub.journal import apply_once_many

    medic = _terminal(roles.field)
    casualty = _casualty(medic)
    frames = [_vitals(medic, casualty, hr) for hr in (70, 71, 72)]
    stored = _stored(apply_once_many(frames=frames))
    # The same ids with other data, as a resend after a reconnect could carry.
    again = _stored(apply_once_many(frames=[
        _vitals(medic, casualty, 99, client_id=frame.client_id) for frame in frames]))
    assert [message.seq for message in again] == [message.seq for message in stored]
    assert [hr for _, _, hr in _journal(f"casualty:{casualty}")] == [70, 71, 72]


def test_one_frame_twice_in_a_batch_is_stored_once_and_both_copies_get_its_seq(roles):
    from hub.journal import apply_once_many

    medic = _terminal(roles.field)
    casualty = _casualty(medic)
    copy = _vitals(medic, casualty, 80, client_id="twice")
    first, other, second = _stored(
        apply_once_many(frames=[copy, _vitals(medic, casualty, 81), copy]))
    assert first.seq == second.seq != other.seq
    assert [client_id for _, client_id, _ in _journal(f"casualty:{casualty}")].count("twice") == 1


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return int(cursor.fetchone()[0])


def test_a_copy_committed_by_another_transaction_during_a_batch_is_stored_once(roles):
    """Batches take no advisory locks: the unique (terminal, id) turns the late copy into a
    failed batch, whose frames then run alone and find the other's entry."""
    from hub.journal import apply_once_many

    medic = _terminal(roles.field)
    casualty = _casualty(medic)
    holding, release = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = apply_once_many(frames=[
                    _vitals(medic, casualty, 70, client_id="copy")])
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def batch() -> None:
        try:
            results["batch"] = apply_once_many(frames=[
                _vitals(medic, casualty, 71, client_id="copy"), _vitals(medic, casualty, 72)])
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=batch)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    # The batch has looked (and found nothing) and now waits for the first's locks.
    deadline = time.monotonic() + 10
    while _lock_waiters() < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _lock_waiters() >= 1
    release.set()
    for thread in threads:
        thread.join(30)
    [first_copy] = _stored(results["first"])
    late_copy, other = _stored(results["batch"])
    assert late_copy.seq == first_copy.seq != other.seq
    assert [(client_id, hr) for _, client_id, hr in _journal(f"casualty:{casualty}")
            if hr is not None] == [("copy", 70), (other.id, 72)]


def test_a_forbidden_frame_in_a_batch_gets_forbidden_and_the_others_are_stored(roles):
    from hub.errors import Forbidden
    from hub.journal import StoredMessage, apply_once_many

    medic, outsider = _terminal(roles.field), _terminal(roles.other_field)
    casualty = _casualty(medic)
    outcomes = apply_once_many(frames=[
        _vitals(medic, casualty, 60), _vitals(outsider, casualty, 61),
        _vitals(medic, casualty, 62),
    ])
    assert isinstance(outcomes[0], StoredMessage) and isinstance(outcomes[2], StoredMessage)
    assert isinstance(outcomes[1], Forbidden)
    assert "medic-2 may not send vitals" in str(outcomes[1])
    assert [hr for _, _, hr in _journal(f"casualty:{casualty}")] == [60, 62]


def test_a_frame_failing_midway_in_a_batch_gets_its_own_error_and_the_others_stay_whole(roles):
    from field_terminal.models import VitalSigns
    from hub.journal import PendingFrame, StoredMessage, apply_once_many, journal_append
    from hub.lifecycle import IllegalTransition

    medic = _terminal(roles.field)
    casualty = _casualty(medic)
    topic = f"casualty:{casualty}"

    def write_then_fail() -> StoredMessage:
        # A service that wrote its journal entry before finding the change illegal.
        journal_append(topic=topic, type="note", data={"text": "half"}, terminal=medic,
                       client_id="fails")
        raise IllegalTransition("casualty", "reported", "reported")

    failing = PendingFrame(terminal=medic, client_id="fails", topic=topic,
                           check=lambda: None, apply=write_then_fail)
    outcomes = apply_once_many(frames=[
        _vitals(medic, casualty, 60), failing, _vitals(medic, casualty, 61),
    ])
    assert isinstance(outcomes[1], IllegalTransition)
    assert isinstance(outcomes[0], StoredMessage) and isinstance(outcomes[2], StoredMessage)
    journal = _journal(topic)
    assert [hr for _, _, hr in journal] == [60, 61]
    assert "fails" not in {client_id for _, client_id, _ in journal}
    seqs = [seq for seq, _, _ in journal]
    assert seqs == list(range(seqs[0], seqs[0] + 2))
    assert list(VitalSigns.objects.filter(casualty_id=casualty).order_by("journal_seq")
                .values_list("hr", flat=True)) == [60, 61]


def test_casualty_record_writers_answers_as_may_write_casualty_record(roles):
    from hub import permissions

    medic, outsider = _terminal(roles.field), _terminal(roles.other_field)
    crew, command = _terminal(roles.ambulance), _terminal(roles.command)
    casualty = _casualty(medic)
    pairs = [(terminal, key) for terminal in (medic, outsider, crew, command)
             for key in (casualty, str(uuid.uuid4()))]
    assert permissions.casualty_record_writers(pairs) == [
        permissions.may_write_casualty_record(terminal, key) for terminal, key in pairs
    ]
    assert permissions.casualty_record_writers(pairs)[0] is True


@pytest.mark.asyncio
async def test_many_sockets_sending_at_once_get_one_right_reply_each_and_an_ordered_stream(
    live_hub, roles
):
    medic = await connect_terminal(live_hub.ws_url, roles.field)
    topics = []
    for _ in range(3):
        data = casualty_report_data()
        ack = await medic.send("casualty.report", "event:wic-test", data)
        assert ack["type"] == "ack", ack
        topics.append(f"casualty:{data['casualty']}")
    viewer = await connect_terminal(live_hub.ws_url, roles.command)
    since = {}
    for topic in topics:
        since[topic] = (await viewer.subscribe(topic))["seq"]
    senders = [await connect_terminal(live_hub.ws_url, roles.field) for _ in range(8)]
    outsider = await connect_terminal(live_hub.ws_url, roles.other_field)

    async def pipeline(terminal, hr):
        # Every frame in flight at once, so the hub's writers take them in batches.
        return await asyncio.gather(*(terminal.send("vitals", topic, {"t": T, "hr": hr + i})
                                      for i in range(5) for topic in topics))

    results = await asyncio.gather(*(pipeline(t, 60) for t in senders), pipeline(outsider, 200))
    *good, refused = results
    assert all(reply["type"] == "ack" for replies in good for reply in replies)
    assert all(reply["type"] == "error" and reply["code"] == "forbidden" for reply in refused)
    for topic in topics:
        seqs = sorted(reply["seq"] for replies in good for reply in replies
                      if reply["topic"] == topic)
        assert seqs == list(range(since[topic] + 1, since[topic] + 41))
    streamed: dict[str, list[int]] = {topic: [] for topic in topics}
    while any(len(seen) < 40 for seen in streamed.values()):
        message = await viewer.next_message(timeout=10)
        streamed[message["topic"]].append(message["seq"])
    for topic in topics:
        assert streamed[topic] == list(range(since[topic] + 1, since[topic] + 41))
        stored = await in_db(_journal, topic)
        assert all(hr < 200 for _, _, hr in stored)
    for terminal in (medic, viewer, outsider, *senders):
        await terminal.close()
