"""Reads for the hospital receiving screen and for the console's view of hospitals."""

from datetime import datetime, time
from typing import Any

from django.db.models import Q
from django.utils import timezone

from ambulance.models import Transport
from hospital_intake.models import Hospital
from hub.models import JournalEntry
from hub.selectors import topic_heads
from hub.timefmt import iso_millis

NOTICE_TYPES = ("prearrival.notice", "prearrival.state")
# What the screen lists as inbound: accepted, not yet handed over or cancelled.
INBOUND_STATUSES = ("assigned", "on_scene", "departed", "arrived")


def iso_or_none(value: datetime | None) -> str | None:
    return iso_millis(value) if value is not None else None


def hospital_summary(hospital: Hospital) -> dict[str, Any]:
    return {
        "code": hospital.code, "name": hospital.name, "name_zh": hospital.name_zh,
        "lat": hospital.location.y, "lon": hospital.location.x,
        "capabilities": list(hospital.capabilities), "beds": hospital.free_beds(),
        "diversion": hospital.diversion, "note": hospital.capacity_note,
        "updated_at": iso_or_none(hospital.capacity_updated_at),
    }


def notice_states(*, topic: str) -> dict[int, dict[str, Any]]:
    """The latest pre-arrival notice state per transport, as the journal of `topic` tells it.

    The journal is where notices live for every screen (a notice is the message), so the
    screens start from it exactly as a replay would leave them.
    """
    states: dict[int, dict[str, Any]] = {}
    by_notice: dict[int, int] = {}
    entries = JournalEntry.objects.filter(topic=topic, type__in=NOTICE_TYPES).order_by("seq")
    for entry in entries.only("type", "data", "stored_at"):
        data = entry.data
        if entry.type == "prearrival.notice":
            by_notice[data["notice"]] = data["transport"]
            states[data["transport"]] = {"notice": data["notice"], "state": data["state"],
                                         "casualty": data["casualty"],
                                         "at": iso_millis(entry.stored_at)}
        elif data.get("notice") in by_notice:
            states[by_notice[data["notice"]]].update(state=data["state"],
                                                     at=iso_millis(entry.stored_at))
    return states


def _inbound_row(transport: Transport, notice: dict[str, Any] | None) -> dict[str, Any]:
    casualty = transport.casualty
    return {
        "transport": transport.pk, "casualty": str(casualty.pk), "tag": casualty.tag,
        "unit": transport.unit.callsign, "category": casualty.category,
        "age_group": casualty.age_group, "complaint": casualty.complaint,
        "needs": list(casualty.needs), "eta": iso_or_none(transport.eta),
        "status": transport.status, "assigned_at": iso_or_none(transport.assigned_at),
        "arrived_at": iso_or_none(transport.arrived_at),
        "handed_over_at": iso_or_none(transport.handed_over_at),
        "notice": notice["notice"] if notice else None,
        "notice_state": notice["state"] if notice else "sent",
    }


def receiving_screen_state(*, hospital: Hospital) -> dict[str, Any]:
    """Everything the receiving screen starts from, and the seq to resume the topic from.

    The head is read before the rows: a message committed in between is both in the rows and
    replayed, and the screen applies messages idempotently, so nothing falls between.
    """
    head = topic_heads(topics=[hospital.topic]).get(hospital.topic, 0)
    notices = notice_states(topic=hospital.topic)
    start_of_day = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    transports = (
        Transport.objects.filter(hospital=hospital)
        .filter(Q(status__in=INBOUND_STATUSES)
                | Q(status="handed_over", arrived_at__gte=start_of_day))
        .select_related("casualty", "unit").order_by("eta", "assigned_at")
    )
    rows = [_inbound_row(transport, notices.get(transport.pk)) for transport in transports]
    return {
        "hospital": hospital_summary(hospital),
        "topic": hospital.topic,
        "since": head,
        "inbound": [row for row in rows if row["status"] != "handed_over"],
        "arrivals_today": [row for row in rows if row["arrived_at"] and
                           row["arrived_at"] >= iso_millis(start_of_day)],
        "server_time": iso_millis(timezone.now()),
    }
