"""Transactions that append to several topics: one lock order where it is known, and a retry
inside the hub where PostgreSQL still had to break a deadlock."""

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

BARRIER_SECONDS = 10.0


def _terminal(name: str) -> Any:
    from hub.models import Terminal

    return Terminal.objects.create(name=f"{name}-{uuid.uuid4().hex[:6]}", kind="expert")


def _retries(reason: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("mcihub_transaction_retries_total",
                                     {"reason": reason}) or 0.0


def _in_threads(*works: Callable[[], Any]) -> list[Any]:
    """Run each in its own thread (its own connection); their results, or their exceptions."""
    results: list[Any] = [None] * len(works)

    def run(index: int) -> None:
        try:
            results[index] = works[index]()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


class FirstAttemptMeets:
    """Holds each transaction's first attempt at the barrier between its two appends, so both
    hold their first topic when they ask for their second; later attempts pass."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=BARRIER_SECONDS)
        self.attempts: dict[str, int] = {}

    def __call__(self, who: str) -> None:
        self.attempts[who] = self.attempts.get(who, 0) + 1
        if self.attempts[who] == 1:
            self.barrier.wait()


def _journal(topic: str) -> list[tuple[int, str]]:
    from hub.models import JournalEntry

    return list(JournalEntry.objects.filter(topic=topic).order_by("seq")
                .values_list("seq", "type"))


def _frames_of(terminal: Any) -> list[tuple[str, str]]:
    from hub.models import JournalEntry

    return list(JournalEntry.objects.filter(terminal=terminal).values_list("client_id", "topic"))


@pytest.mark.django_db(transaction=True)
def test_frames_appending_to_two_topics_in_opposite_orders_both_commit_gap_free() -> None:
    from hub.journal import StoredMessage, apply_once, journal_append

    topic_a, topic_b = f"hospital:A{uuid.uuid4().hex[:6]}", f"hospital:B{uuid.uuid4().hex[:6]}"
    left, right = _terminal("left"), _terminal("right")
    meet = FirstAttemptMeets(2)
    deadlocks_before = _retries("deadlock")

    def frame(terminal: Any, first: str, second: str) -> Callable[[], tuple[StoredMessage, bool]]:
        def apply() -> StoredMessage:
            own = journal_append(topic=first, type="capacity", data={}, terminal=terminal,
                                 client_id="frame-1")
            meet(terminal.name)
            journal_append(topic=second, type="transport.eta", data={}, terminal=None)
            return own

        return lambda: apply_once(terminal=terminal, client_id="frame-1", apply=apply)

    results = _in_threads(frame(left, topic_a, topic_b), frame(right, topic_b, topic_a))

    assert all(isinstance(result, tuple) for result in results), results
    assert [stored for _, stored in results] == [True, True]
    # PostgreSQL broke the deadlock by aborting one of them; the hub ran that one again.
    assert sorted(meet.attempts.values()) == [1, 2]
    assert _retries("deadlock") == deadlocks_before + 1
    assert [seq for seq, _ in _journal(topic_a)] == [1, 2]
    assert [seq for seq, _ in _journal(topic_b)] == [1, 2]
    # The frame that ran twice is stored once, with the seq its ack carries.
    assert _frames_of(left) == [("frame-1", topic_a)]
    assert _frames_of(right) == [("frame-1", topic_b)]
    for (message, _), topic in zip(results, (topic_a, topic_b), strict=True):
        assert (message.seq, message.type) in _journal(topic)


@pytest.mark.django_db(transaction=True)
def test_topics_locked_up_front_in_name_order_never_deadlock() -> None:
    from hub.journal import journal_append, journal_topics_lock

    topic_a, topic_b = f"event:A{uuid.uuid4().hex[:6]}", f"event:B{uuid.uuid4().hex[:6]}"
    order_seen: list[str] = []
    deadlocks_before = _retries("deadlock")

    def writer(first: str, second: str) -> Callable[[], None]:
        def work() -> None:
            with transaction.atomic():
                journal_topics_lock(topics=[second, first])
                journal_append(topic=first, type="unit.changed", data={}, terminal=None)
                journal_append(topic=second, type="unit.changed", data={}, terminal=None)
                order_seen.append(first)

        return work

    results = _in_threads(*[writer(topic_a, topic_b), writer(topic_b, topic_a)] * 4)

    assert results == [None] * 8
    assert _retries("deadlock") == deadlocks_before
    assert [seq for seq, _ in _journal(topic_a)] == list(range(1, 9))
    assert [seq for seq, _ in _journal(topic_b)] == list(range(1, 9))


@pytest.mark.django_db(transaction=True)
def test_group_commit_batches_that_deadlock_are_run_again_and_store_each_frame_once() -> None:
    from hub.journal import PendingFrame, StoredMessage, apply_once_many, journal_append

    hospital_a = f"hospital:A{uuid.uuid4().hex[:6]}"
    hospital_b = f"hospital:B{uuid.uuid4().hex[:6]}"
    ambulance = _terminal("amb")
    meet = FirstAttemptMeets(2)

    def position(client_id: str, unit_topic: str, eta_topic: str, batch: str,
                 meets: bool = False) -> PendingFrame:
        # A position whose unit carries a patient: its store also appends the hospital's ETA.
        def apply() -> StoredMessage:
            journal_append(topic=eta_topic, type="transport.eta", data={}, terminal=None)
            if meets:
                meet(batch)
            return journal_append(topic=unit_topic, type="position", data={},
                                  terminal=ambulance, client_id=client_id)

        return PendingFrame(terminal=ambulance, client_id=client_id, topic=unit_topic,
                            check=lambda: None, apply=apply)

    suffix = uuid.uuid4().hex[:6]
    # Batch one reaches hospital A first, batch two hospital B: the order of their units.
    one = [position("p1", f"unit:A1{suffix}", hospital_a, "one", meets=True),
           position("p2", f"unit:A2{suffix}", hospital_b, "one")]
    two = [position("p3", f"unit:B1{suffix}", hospital_b, "two", meets=True),
           position("p4", f"unit:B2{suffix}", hospital_a, "two")]
    deadlocks_before = _retries("deadlock")

    outcomes = _in_threads(lambda: apply_once_many(frames=one),
                           lambda: apply_once_many(frames=two))

    assert all(isinstance(message, StoredMessage) for batch in outcomes for message in batch), \
        outcomes
    assert _retries("deadlock") == deadlocks_before + 1
    assert sorted(meet.attempts.values()) == [1, 2]
    assert sorted(client_id for client_id, _ in _frames_of(ambulance)) == ["p1", "p2", "p3", "p4"]
    assert [seq for seq, _ in _journal(hospital_a)] == [1, 2]
    assert [seq for seq, _ in _journal(hospital_b)] == [1, 2]
