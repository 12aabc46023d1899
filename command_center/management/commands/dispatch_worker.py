"""`manage.py dispatch_worker [--event SLUG]`: re-optimize dispatch when the picture changes.

A process of its own, so a second of solving never runs in a server's event loop. It polls
the journal heads of the active events' topics and of every hospital topic; a message that
changes the picture (TRIGGERS) marks its event (a hospital's, every event it serves) as
changed. Once no change has come for DISPATCH_DEBOUNCE_SECONDS (and at the latest
MAX_WAIT_FACTOR times that after the first change, so a steady stream of reports still gets
answers), it re-solves,
publishes `dispatch.recommendation`, and with the event's auto_dispatch accepts it.

Two workers are safe: a solve holds a PostgreSQL advisory lock on its event, and a worker that
gets the lock after another skips changes that the newest recommendation's snapshot already
covers (its generated_at is after them).
"""

import logging
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection, connections

from command_center.models import MassEvent
from command_center.selectors import latest_recommendation
from command_center.services import dispatch_recommend, recommendation_auto_accept
from field_terminal.models import Casualty
from hospital_intake.models import Hospital
from hub.models import JournalEntry
from hub.selectors import topic_heads

logger = logging.getLogger("command_center.dispatch_worker")

EVENT_TRIGGERS = ("casualty.report", "triage.changed", "casualty.status", "unit.changed")
HOSPITAL_TRIGGERS = ("capacity", "transport.cancelled")
MAX_WAIT_FACTOR = 5
POLL_SECONDS = 0.25
# Advisory lock keys are (namespace, event id); the namespace keeps them apart from others'.
_LOCK_NAMESPACE = 0x4D43_4450


@dataclass
class Pending:
    first_seen: float
    last_seen: float
    changed_at: datetime | None  # the newest trigger's stored_at; None: solve regardless


class DispatchWorker:
    def __init__(self, *, event_slug: str | None, debounce: float) -> None:
        self.event_slug = event_slug
        self.debounce = debounce
        # Keyed by topic and row: an event or hospital made anew under an old name (a restored
        # database, a test) starts from its own journal, not from its predecessor's seq.
        self.cursors: dict[tuple[str, int], int] = {}
        self.pending: dict[int, Pending] = {}
        self.stopping = False

    # --- watching ---------------------------------------------------------------------------

    def _events(self) -> list[MassEvent]:
        events = MassEvent.objects.filter(status=MassEvent.Status.ACTIVE)
        if self.event_slug is not None:
            events = events.filter(slug=self.event_slug)
        return list(events)

    def _latest_trigger(
        self, key: tuple[str, int], head: int, types: tuple[str, ...]
    ) -> datetime | None:
        topic = key[0]
        after = self.cursors.get(key)
        self.cursors[key] = head
        if after is None or head <= after:
            return None
        return (
            JournalEntry.objects.filter(topic=topic, seq__gt=after, seq__lte=head, type__in=types)
            .order_by("-seq").values_list("stored_at", flat=True).first()
        )

    def _mark(self, event_id: int, changed_at: datetime | None) -> None:
        now = time.monotonic()
        pending = self.pending.get(event_id)
        if pending is None:
            self.pending[event_id] = Pending(now, now, changed_at)
            return
        pending.last_seen = now
        if changed_at is None or pending.changed_at is None:
            pending.changed_at = None
        else:
            pending.changed_at = max(pending.changed_at, changed_at)

    def watch(self) -> list[MassEvent]:
        events = self._events()
        hospitals = [(h.topic, h.pk, h.exercise_event_id)
                     for h in Hospital.objects.only("code", "exercise_event")]
        heads = topic_heads(topics=[e.topic for e in events] + [h[0] for h in hospitals])
        for event in events:
            key = (event.topic, event.pk)
            if key not in self.cursors:
                # First sight (start-up, or newly active): the picture may have changed unseen.
                self.cursors[key] = heads.get(event.topic, 0)
                self._mark(event.pk, None)
                continue
            changed = self._latest_trigger(key, heads.get(event.topic, 0), EVENT_TRIGGERS)
            if changed is not None:
                self._mark(event.pk, changed)
        for topic, hospital_id, exercise_event_id in hospitals:
            changed = self._latest_trigger((topic, hospital_id), heads.get(topic, 0),
                                           HOSPITAL_TRIGGERS)
            if changed is None:
                continue
            # A hospital changes the plans of the events it serves: an exercise's copy only
            # its exercise's, a real hospital every real event's.
            for event in events:
                if (event.pk == exercise_event_id if exercise_event_id is not None
                        else not event.is_exercise):
                    self._mark(event.pk, changed)
        return events

    def due(self, events: list[MassEvent]) -> list[tuple[MassEvent, Pending]]:
        now = time.monotonic()
        ready = []
        for event in events:
            pending = self.pending.get(event.pk)
            if pending is None:
                continue
            quiet = now - pending.last_seen >= self.debounce
            overdue = now - pending.first_seen >= MAX_WAIT_FACTOR * self.debounce
            if quiet or overdue:
                ready.append((event, self.pending.pop(event.pk)))
        return ready

    # --- solving ----------------------------------------------------------------------------

    def _try_lock(self, event: MassEvent) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, event.pk])
            row = cursor.fetchone()
        return bool(row and row[0])

    def _unlock(self, event: MassEvent) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, event.pk])

    def _needs_solve(self, event: MassEvent, pending: Pending) -> bool:
        latest = latest_recommendation(event=event)
        if (latest is not None and pending.changed_at is not None
                and latest.generated_at >= pending.changed_at):
            return False
        waiting = Casualty.objects.filter(event=event, status="awaiting_transport").exists()
        # Nothing waiting now and nothing waiting last time: a new empty plan is no news.
        return waiting or (latest is not None and bool(latest.instance.get("casualties")))

    def solve(self, event: MassEvent, pending: Pending) -> None:
        if not self._try_lock(event):
            logger.info("event %s: another worker is solving it", event.slug)
            return
        try:
            if not self._needs_solve(event, pending):
                return
            recommendation = dispatch_recommend(event=event)
            event.refresh_from_db(fields=["auto_dispatch"])
            accepted = (
                recommendation_auto_accept(recommendation=recommendation)
                if event.auto_dispatch else []
            )
            logger.info(
                "event %s: recommendation %s, %d assignments, objective %.3f (baseline %.3f), "
                "solved in %d ms%s", event.slug, recommendation.pk,
                recommendation.items.count(), recommendation.objective,
                recommendation.baseline, recommendation.solve_ms,
                f", auto-dispatched {len(accepted)}" if event.auto_dispatch else "",
            )
        finally:
            self._unlock(event)

    def run(self) -> None:
        while not self.stopping:
            try:
                for event, pending in self.due(self.watch()):
                    if self.stopping:
                        break
                    try:
                        self.solve(event, pending)
                    except DatabaseError:
                        self._mark(event.pk, pending.changed_at)
                        raise
                    except Exception:
                        # One event's bad snapshot must not stop dispatch for the others.
                        logger.exception("event %s: re-solve failed", event.slug)
            except DatabaseError:
                # Keep the changes seen so far; a fresh connection is tried on the next pass.
                logger.warning("database unavailable; retrying", exc_info=True)
                connections.close_all()
                time.sleep(1.0)
            time.sleep(POLL_SECONDS)


class Command(BaseCommand):
    help = "Re-optimize dispatch for active events whenever their picture changes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--event", help="watch only this event (slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = DispatchWorker(event_slug=options["event"],
                                debounce=settings.DISPATCH_DEBOUNCE_SECONDS)

        def stop(signum: int, frame: Any) -> None:
            worker.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logger.info("dispatch worker started (debounce %.1f s, time limit %.1f s, travel %s)",
                    settings.DISPATCH_DEBOUNCE_SECONDS, settings.DISPATCH_TIME_LIMIT,
                    settings.DISPATCH_TRAVEL_PROVIDER)
        worker.run()
