"""Two dispatch workers are safe: one solve per event at a time, and no solve for a change the
newest recommendation already covers."""

import time
import uuid

import psycopg
import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone

from command_center.management.commands.dispatch_worker import (
    _LOCK_NAMESPACE,
    DispatchWorker,
    Pending,
)
from command_center.models import Recommendation
from field_terminal.models import Casualty
from hub.models import Terminal


def _waiting_casualty(roles):
    now = timezone.now()
    return Casualty.objects.create(
        id=uuid.uuid4(), event=roles.event, location=Point(120.487, 30.7431, srid=4326),
        category="red", triage_method="START", status="awaiting_transport",
        reported_by=Terminal.objects.get(name="medic-1"), reported_at=now,
        status_changed_at=now,
    )


def _pending(changed_at):
    return Pending(first_seen=time.monotonic(), last_seen=time.monotonic(),
                   changed_at=changed_at)


@pytest.fixture
def other_session():
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"],
                         dbname=db["NAME"], autocommit=True) as session:
        yield session


def test_an_event_locked_by_another_worker_is_left_to_it(roles, other_session, settings):
    settings.DISPATCH_TIME_LIMIT = 0.2
    _waiting_casualty(roles)
    worker = DispatchWorker(event_slug="wic-test", debounce=0.0)
    other_session.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, roles.event.pk])
    worker.solve(roles.event, _pending(timezone.now()))
    assert Recommendation.objects.count() == 0
    other_session.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, roles.event.pk])
    worker.solve(roles.event, _pending(timezone.now()))
    assert Recommendation.objects.count() == 1


def test_a_change_the_newest_recommendation_covers_is_not_solved_again(roles, settings):
    settings.DISPATCH_TIME_LIMIT = 0.2
    _waiting_casualty(roles)
    first, second = (DispatchWorker(event_slug="wic-test", debounce=0.0) for _ in range(2))
    changed_at = timezone.now()
    first.solve(roles.event, _pending(changed_at))
    second.solve(roles.event, _pending(changed_at))
    assert Recommendation.objects.count() == 1
    # A change after that snapshot is news for either worker.
    second.solve(roles.event, _pending(timezone.now()))
    assert Recommendation.objects.count() == 2


def test_the_worker_sees_a_report_in_the_journal_and_debounces_it(roles):
    worker = DispatchWorker(event_slug="wic-test", debounce=0.2)
    worker.watch()
    worker.pending.clear()  # first sight always marks; start from a quiet picture
    assert worker.due(worker.watch()) == []
    from django.db import transaction

    from hub.journal import journal_append

    with transaction.atomic():
        journal_append(topic=roles.event.topic, type="note", data={"text": "x"}, terminal=None)
    worker.watch()
    assert worker.pending == {}  # a note changes nothing
    with transaction.atomic():
        journal_append(topic=roles.event.topic, type="unit.changed",
                       data={"unit": "WZ01", "from": "available", "to": "out_of_service",
                             "by": "test"}, terminal=None)
    events = worker.watch()
    assert worker.due(events) == []  # still within the debounce
    time.sleep(0.25)
    [(event, pending)] = worker.due(worker.watch())
    assert event.pk == roles.event.pk and pending.changed_at is not None
