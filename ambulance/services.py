"""Writes about ambulances: positions, the status lifecycle, and the transports they carry out."""

from functools import partial

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from ambulance.lifecycles import TRANSPORT_LIFECYCLE, UNIT_LIFECYCLE
from ambulance.models import Transport, TransportStatusChange, Unit, UnitPosition, UnitStatusChange
from ambulance.schemas import Position, UnitStatus
from field_terminal.models import Casualty
from field_terminal.services import casualty_status_change
from hospital_intake.models import Hospital
from hub.broadcast import broadcast_access_change
from hub.errors import Conflict
from hub.journal import StoredMessage, journal_append
from hub.models import Terminal

# What a unit's new status means for the transport it is carrying out, and for its casualty.
_TRANSPORT_STEP = {
    "on_scene": ("on_scene", None),
    "transporting": ("departed", "en_route"),
    "at_hospital": ("arrived", "arrived"),
}
_TRANSPORT_TIME_FIELD = {
    "on_scene": "on_scene_at", "departed": "departed_at", "arrived": "arrived_at",
    "handed_over": "handed_over_at", "cancelled": "cancelled_at",
}


def unit_position_record(
    *, terminal: Terminal, callsign: str, client_id: str, payload: Position
) -> StoredMessage:
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(callsign=callsign)
        point = Point(payload.lon, payload.lat, srid=4326)
        UnitPosition.objects.create(
            unit=unit, measured_at=payload.t, received_at=timezone.now(), location=point,
            heading=payload.heading, speed=payload.speed, accuracy=payload.accuracy,
        )
        # A late, older fix goes into the history but does not move the unit backwards.
        if unit.position_at is None or payload.t >= unit.position_at:
            unit.position = point
            unit.position_at = payload.t
            unit.heading = payload.heading
            unit.speed = payload.speed
            unit.save(update_fields=["position", "position_at", "heading", "speed"])
        return journal_append(
            topic=unit.topic, type="position",
            data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )


def _transport_step(*, transport: Transport, to_status: str, changed_by: str) -> None:
    TRANSPORT_LIFECYCLE.check(transport.status, to_status)
    now = timezone.now()
    TransportStatusChange.objects.create(
        transport=transport, from_status=transport.status, to_status=to_status,
        changed_by=changed_by, changed_at=now,
    )
    transport.status = to_status
    setattr(transport, _TRANSPORT_TIME_FIELD[to_status], now)
    transport.save(update_fields=["status", _TRANSPORT_TIME_FIELD[to_status]])


def _release_casualty_access(transport: Transport) -> None:
    # The hospital (and the crew) may lose the right to read; their subscriptions re-check.
    for topic in (f"casualty:{transport.casualty_id}", transport.unit.topic):
        transaction.on_commit(partial(broadcast_access_change, topic))


def transport_cancel(*, transport: Transport, changed_by: str, reason: str) -> None:
    """Cancel a transport not yet under way; its casualty returns to the transport queue."""
    casualty = Casualty.objects.select_for_update().select_related("event").get(
        pk=transport.casualty_id
    )
    _transport_step(transport=transport, to_status="cancelled", changed_by=changed_by)
    if casualty.status == "assigned":
        casualty_status_change(
            casualty=casualty, to_status="awaiting_transport", changed_by=changed_by,
            reason=reason,
        )
    journal_append(
        topic=transport.hospital.topic, type="transport.cancelled",
        data={"transport": transport.pk, "casualty": str(casualty.pk),
              "unit": transport.unit.callsign, "reason": reason},
        terminal=None,
    )
    _release_casualty_access(transport)


def _advance_transports(*, unit: Unit, to_status: str, changed_by: str) -> None:
    active = list(
        Transport.objects.select_for_update()
        .select_related("unit", "hospital")
        .filter(unit=unit, status__in=Transport.ACTIVE_STATUSES)
        .order_by("assigned_at")
    )
    if to_status in ("available", "out_of_service"):
        for transport in active:
            if transport.status in ("assigned", "on_scene"):
                transport_cancel(
                    transport=transport, changed_by=changed_by,
                    reason=f"unit {unit.callsign} {to_status.replace('_', ' ')}",
                )
        return
    if to_status not in _TRANSPORT_STEP:
        return
    transport_status, casualty_status = _TRANSPORT_STEP[to_status]
    for transport in active:
        if not TRANSPORT_LIFECYCLE.allows(transport.status, transport_status):
            continue
        _transport_step(transport=transport, to_status=transport_status, changed_by=changed_by)
        if casualty_status is not None:
            casualty = Casualty.objects.select_for_update().select_related("event").get(
                pk=transport.casualty_id
            )
            casualty_status_change(
                casualty=casualty, to_status=casualty_status, changed_by=changed_by
            )


def unit_status_set(*, unit: Unit, to_status: str, changed_by: str) -> str:
    """Apply one lifecycle move to a locked unit; returns the previous status."""
    UNIT_LIFECYCLE.check(unit.status, to_status)
    previous = unit.status
    now = timezone.now()
    UnitStatusChange.objects.create(
        unit=unit, from_status=previous, to_status=to_status, changed_by=changed_by,
        changed_at=now,
    )
    unit.status = to_status
    unit.status_changed_at = now
    unit.save(update_fields=["status", "status_changed_at"])
    _advance_transports(unit=unit, to_status=to_status, changed_by=changed_by)
    if unit.event is not None:
        journal_append(
            topic=unit.event.topic, type="unit.changed",
            data={"unit": unit.callsign, "from": previous, "to": to_status, "by": changed_by},
            terminal=None,
        )
    return previous


def unit_status_change(
    *, terminal: Terminal, callsign: str, client_id: str, payload: UnitStatus
) -> StoredMessage:
    with transaction.atomic():
        unit = (
            Unit.objects.select_for_update(of=("self",)).select_related("event")
            .get(callsign=callsign)
        )
        message = journal_append(
            topic=unit.topic, type="unit.status", data={"status": payload.status},
            terminal=terminal, client_id=client_id,
        )
        unit_status_set(unit=unit, to_status=payload.status, changed_by=terminal.name)
        return message


def transport_assign(
    *, casualty_id: str, callsign: str, hospital_code: str, assigned_by: str
) -> Transport:
    """Give a waiting casualty to a unit and a hospital: the order, the notice, the summary."""
    with transaction.atomic():
        casualty = Casualty.objects.select_for_update().select_related("event").get(
            pk=casualty_id
        )
        unit = (
            Unit.objects.select_for_update(of=("self",)).select_related("event")
            .get(callsign=callsign)
        )
        hospital = Hospital.objects.get(code=hospital_code)
        if casualty.status != "awaiting_transport":
            raise Conflict(
                f"casualty status: cannot assign a casualty in state '{casualty.status}'"
            )
        aboard = Transport.objects.filter(unit=unit, status__in=Transport.ACTIVE_STATUSES).count()
        if aboard >= unit.capacity:
            raise Conflict(f"unit {unit.callsign}: all {unit.capacity} places are taken")
        now = timezone.now()
        transport = Transport.objects.create(
            casualty=casualty, unit=unit, hospital=hospital, assigned_by=assigned_by,
            assigned_at=now,
        )
        TransportStatusChange.objects.create(
            transport=transport, from_status="", to_status=transport.status,
            changed_by=assigned_by, changed_at=now,
        )
        casualty_status_change(casualty=casualty, to_status="assigned", changed_by=assigned_by)
        if unit.status in ("available", "returning"):
            unit_status_set(unit=unit, to_status="dispatched", changed_by=assigned_by)
        elif unit.status != "dispatched":
            raise Conflict(f"unit status: cannot take an order in state '{unit.status}'")
        summary = {
            "transport": transport.pk, "casualty": str(casualty.pk), "unit": unit.callsign,
            "hospital": hospital.code, "category": casualty.category,
            "pickup": {"lat": casualty.location.y, "lon": casualty.location.x},
        }
        journal_append(topic=unit.topic, type="order.assigned", data=summary, terminal=None)
        journal_append(
            topic=hospital.topic, type="transport.assigned",
            data={**summary, "age_group": casualty.age_group, "complaint": casualty.complaint,
                  "needs": casualty.needs},
            terminal=None,
        )
        journal_append(topic=casualty.topic, type="transport.assigned", data=summary,
                       terminal=None)
        journal_append(topic=casualty.event.topic, type="transport.assigned", data=summary,
                       terminal=None)
        return transport
