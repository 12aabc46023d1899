"""Reads for the command console: the event's picture as the page starts from it."""

import json
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from ambulance.models import Transport, Unit
from command_center.models import MassEvent
from field_terminal.models import Casualty, TriageAssessment
from hospital_intake.models import Hospital
from hospital_intake.selectors import hospital_summary, iso_or_none, notice_states
from hub import permissions
from hub.models import JournalEntry, Terminal
from hub.selectors import topic_heads
from hub.timefmt import iso_millis


def console_event(*, terminal: Terminal) -> MassEvent | None:
    """The event this console commands: its own, or for a regional centre the newest active."""
    if terminal.event_id is not None:
        return MassEvent.objects.get(pk=terminal.event_id)
    # A drill never takes over a regional console: it opens the exercise event only when bound.
    return MassEvent.objects.filter(status=MassEvent.Status.ACTIVE, is_exercise=False).first()


def _casualty_row(casualty: Casualty, transport: Transport | None) -> dict[str, Any]:
    return {
        "id": str(casualty.pk), "tag": casualty.tag, "category": casualty.category,
        "method": casualty.triage_method, "age_group": casualty.age_group,
        "sex": casualty.sex, "complaint": casualty.complaint, "needs": list(casualty.needs),
        "status": casualty.status, "lat": casualty.location.y, "lon": casualty.location.x,
        "reported_at": iso_millis(casualty.reported_at),
        "reported_by": casualty.reported_by.name,
        # The triage at report time: the drawer's triage history starts with it.
        "reported_category": getattr(casualty, "reported_category", casualty.category),
        "reported_method": getattr(casualty, "reported_method", casualty.triage_method),
        "unit": transport.unit.callsign if transport else None,
        "hospital": transport.hospital.code if transport else None,
        "transport": transport.pk if transport else None,
    }


def _unit_row(unit: Unit) -> dict[str, Any]:
    return {
        "callsign": unit.callsign, "level": unit.level, "capacity": unit.capacity,
        "status": unit.status, "station": unit.station.code,
        "lat": unit.position.y if unit.position else None,
        "lon": unit.position.x if unit.position else None,
        "position_at": iso_or_none(unit.position_at),
    }


def _latest_recommendation(topic: str) -> dict[str, Any] | None:
    entry = (
        JournalEntry.objects.filter(topic=topic, type="dispatch.recommendation")
        .order_by("-seq").only("data").first()
    )
    return entry.data if entry is not None else None


def console_state(*, terminal: Terminal, event: MassEvent) -> dict[str, Any]:
    """Rows of the event's casualties, units and hospitals, and the seq of each topic.

    Heads are read before the rows: whatever commits in between is in the rows and is
    replayed too, and the page applies every message idempotently, so nothing falls between.
    """
    units = list(
        Unit.objects.filter(permissions.unit_readable_filter(terminal))
        .filter(event=event).select_related("station").distinct()
    )
    hospitals = list(Hospital.objects.filter(permissions.hospital_readable_filter(terminal)))
    topics = [event.topic, *(u.topic for u in units), *(h.topic for h in hospitals)]
    heads = topic_heads(topics=topics)
    first_triage = TriageAssessment.objects.filter(casualty=OuterRef("pk")).order_by(
        "assessed_at", "id")
    casualties = list(
        Casualty.objects.filter(permissions.casualty_readable_filter(terminal))
        .filter(event=event).select_related("reported_by").distinct()
        .annotate(reported_category=Subquery(first_triage.values("category")[:1]),
                  reported_method=Subquery(first_triage.values("method")[:1]))
    )
    live = {
        t.casualty_id: t for t in Transport.objects.filter(
            casualty__event=event, status__in=Transport.INBOUND_OR_AT_STATUSES
        ).select_related("unit", "hospital").order_by("assigned_at")
    }
    notices: dict[str, dict[str, Any]] = {}
    for hospital in hospitals:
        states = notice_states(topic=hospital.topic)
        for transport in live.values():
            if transport.hospital_id == hospital.pk:
                # A transport is announced to its hospital when it is made: until the notice
                # says more, it has been sent.
                notice = states.get(transport.pk, {"notice": None, "state": "sent"})
                notices[str(transport.casualty_id)] = {
                    **notice, "casualty": str(transport.casualty_id), "hospital": hospital.code,
                }
    return {
        "event": {
            "slug": event.slug, "name": event.name, "name_zh": event.name_zh,
            "is_exercise": event.is_exercise,
            "venue": json.loads(event.venue_area.geojson) if event.venue_area else None,
        },
        "casualties": [_casualty_row(c, live.get(c.pk)) for c in casualties],
        "units": [_unit_row(u) for u in units],
        "hospitals": [hospital_summary(h) for h in hospitals],
        "notices": notices,
        "recommendation": _latest_recommendation(event.topic),
        "heads": {topic: heads.get(topic, 0) for topic in topics},
        "server_time": iso_millis(timezone.now()),
    }
