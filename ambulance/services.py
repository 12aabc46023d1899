"""Writes about ambulances: positions, the status lifecycle, and the transports they carry out."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from ambulance.lifecycles import TRANSPORT_LIFECYCLE, UNIT_LIFECYCLE
from ambulance.models import Transport, TransportStatusChange, Unit, UnitPosition, UnitStatusChange
from ambulance.schemas import Position, UnitStatus
from command_center.selectors import SERVICE_MINUTES
from command_center.travel import LatLon, estimated_travel_times
from field_terminal.models import Casualty
from field_terminal.services import casualty_status_change
from hospital_intake.models import Hospital
from hospital_intake.services import prearrival_notice_advance, prearrival_notice_send
from hub.broadcast import broadcast_access_change
from hub.errors import Conflict
from hub.journal import JournalDraft, StoredMessage, journal_append, journal_append_many
from hub.models import Terminal
from hub.sql import binary_cursor, json_text
from hub.timefmt import iso_millis

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
# An ETA that moved less than this is not news for the hospital (nor worth a write).
ETA_NEWS = timedelta(minutes=1)


def _lat_lon(point: Point) -> LatLon:
    return (point.y, point.x)


def trip_etas(*, transport: Transport, start: Point, now: datetime) -> tuple[datetime, datetime]:
    """(pickup ETA, arrival ETA) from `start`, by the distance estimate, which is cheap
    enough for every position fix; once the casualty is aboard, pickup is now."""
    travel = estimated_travel_times()
    hospital = _lat_lon(transport.hospital.location)
    if transport.status == "departed":
        return now, now + timedelta(minutes=travel.between(_lat_lon(start), hospital))
    pickup_point = _lat_lon(transport.casualty.location)
    to_pickup = 0.0 if transport.status == "on_scene" else travel.between(
        _lat_lon(start), pickup_point)
    pickup = now + timedelta(minutes=to_pickup)
    arrival = pickup + timedelta(
        minutes=SERVICE_MINUTES["load"] + travel.between(pickup_point, hospital))
    return pickup, arrival


@dataclass(frozen=True)
class PositionFrame:
    """One ambulance terminal's position fix, for unit_position_record_many."""

    terminal: Terminal
    callsign: str
    client_id: str
    payload: Position


def _eta_drafts(*, moved: dict[int, tuple[Unit, Point]], now: datetime) -> list[JournalDraft]:
    """New ETAs of the moved units' transports, from each unit's newest fix: one estimate
    and at most one `transport.eta` per transport however many fixes the batch holds."""
    # Most fixes come from units with no transport under way: a raw look first spares their
    # batches the ORM's compiling of the query that reads the transports whole.
    with binary_cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT unit_id FROM {Transport._meta.db_table} "
            "WHERE unit_id IN (SELECT jsonb_array_elements_text(%b::jsonb)::bigint) "
            "AND status IN (SELECT jsonb_array_elements_text(%b::jsonb))",
            [json_text(sorted(moved)), json_text(Transport.ACTIVE_STATUSES)],
        )
        carrying = [row[0] for row in cursor.fetchall()]
    if not carrying:
        return []
    transports = list(
        Transport.objects.filter(unit_id__in=carrying, status__in=Transport.ACTIVE_STATUSES)
        .select_related("casualty", "hospital").order_by("pk")
    )
    changed: list[Transport] = []
    drafts: list[JournalDraft] = []
    for transport in transports:
        unit, point = moved[transport.unit_id]
        _, eta = trip_etas(transport=transport, start=point, now=now)
        if transport.eta is not None and abs(eta - transport.eta) < ETA_NEWS:
            continue
        transport.eta = eta
        changed.append(transport)
        drafts.append(JournalDraft(
            topic=transport.hospital.topic, type="transport.eta",
            data={"transport": transport.pk, "casualty": str(transport.casualty_id),
                  "unit": unit.callsign, "eta": iso_millis(eta)},
            terminal=None,
        ))
    if changed:
        Transport.objects.bulk_update(changed, ["eta"])
    return drafts


# The position path's writes, in the journal's own statement (hub.journal._APPEND's row
# writes). A fix's row is [unit, measured at, lon, lat, heading, speed, accuracy, moves]: it
# joins the history, received when stored, and moves the unit if it is the unit's newest.
_POSITION_HISTORY_INSERT = (
    f"INSERT INTO {UnitPosition._meta.db_table} "
    "(unit_id, measured_at, received_at, location, heading, speed, accuracy) "
    "SELECT (row->>0)::bigint, (row->>1)::timestamptz, stored_at, "
    "ST_SetSRID(ST_MakePoint((row->>2)::float8, (row->>3)::float8), 4326), "
    "(row->>4)::float8, (row->>5)::float8, (row->>6)::float8 "
    "FROM stored WHERE type = 'position'"
)
_UNITS_MOVE = (
    f"UPDATE {Unit._meta.db_table} AS unit SET "
    "position = ST_SetSRID(ST_MakePoint((row->>2)::float8, (row->>3)::float8), 4326), "
    "position_at = (row->>1)::timestamptz, heading = (row->>4)::float8, "
    "speed = (row->>5)::float8 "
    "FROM stored WHERE stored.type = 'position' AND (stored.row->>7)::boolean "
    "AND unit.id = (stored.row->>0)::bigint"
)


def units_lock(*, callsigns: set[str]) -> dict[str, Unit]:
    """Lock these units' rows in callsign order and return them by callsign, with the fields
    the position path reads. Locking again in the same transaction does not wait."""
    with binary_cursor() as cursor:
        cursor.execute(
            f"SELECT id, callsign, position_at FROM {Unit._meta.db_table} WHERE callsign IN "
            "(SELECT jsonb_array_elements_text(%b::jsonb)) ORDER BY callsign FOR UPDATE",
            [json_text(sorted(callsigns))],
        )
        return {callsign: Unit(pk=pk, callsign=callsign, position_at=position_at)
                for pk, callsign, position_at in cursor.fetchall()}


def unit_position_record_many(*, frames: list[PositionFrame]) -> list[StoredMessage]:
    """Store position fixes (group commit): three statements a batch, whatever its size.

    Runs inside the caller's transaction; returns the messages in the frames' order. The
    units are locked in callsign order (the order frame-by-frame batches took them in); each
    unit ends at its newest fix, a late, older one joining the history without moving it
    back, exactly as the frames stored one by one would leave it. A unit that is gone raises
    Unit.DoesNotExist for the whole batch (which then runs frame by frame).
    """
    callsigns = sorted({frame.callsign for frame in frames})
    units = units_lock(callsigns=set(callsigns))
    missing = [callsign for callsign in callsigns if callsign not in units]
    if missing:
        raise Unit.DoesNotExist(f"unit {missing[0]} does not exist")
    now = timezone.now()
    newest: dict[str, PositionFrame] = {}
    for frame in frames:
        chosen = newest.get(frame.callsign)
        current = chosen.payload.t if chosen is not None else units[frame.callsign].position_at
        if current is None or frame.payload.t >= current:
            newest[frame.callsign] = frame
    eta_drafts: list[JournalDraft] = []
    if newest:
        eta_drafts = _eta_drafts(
            moved={units[callsign].pk: (units[callsign],
                                        Point(frame.payload.lon, frame.payload.lat, srid=4326))
                   for callsign, frame in newest.items()},
            now=now,
        )
    messages = journal_append_many(drafts=[
        *(JournalDraft(topic=f"unit:{frame.callsign}", type="position",
                       data=frame.payload.wire(), terminal=frame.terminal,
                       client_id=frame.client_id,
                       row=[units[frame.callsign].pk, frame.payload.t.isoformat(),
                            frame.payload.lon, frame.payload.lat, frame.payload.heading,
                            frame.payload.speed, frame.payload.accuracy,
                            newest.get(frame.callsign) is frame])
          for frame in frames),
        *eta_drafts,
    ], row_writes=(_POSITION_HISTORY_INSERT, _UNITS_MOVE))
    return messages[:len(frames)]


def unit_position_record(
    *, terminal: Terminal, callsign: str, client_id: str, payload: Position
) -> StoredMessage:
    # Called inside apply_once's transaction on the busiest path: a savepoint would cost two
    # round trips per frame and buys nothing, since any error aborts the whole frame.
    with transaction.atomic(savepoint=False):
        [message] = unit_position_record_many(frames=[PositionFrame(
            terminal=terminal, callsign=callsign, client_id=client_id, payload=payload)])
    return message


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
    casualty = Casualty.objects.select_for_update(of=("self",)).select_related("event").get(
        pk=transport.casualty_id
    )
    _transport_step(transport=transport, to_status="cancelled", changed_by=changed_by)
    if casualty.status == "assigned":
        casualty_status_change(
            casualty=casualty, to_status="awaiting_transport", changed_by=changed_by,
            reason=reason,
        )
    prearrival_notice_advance(transport=transport, to_state="cancelled", changed_by=changed_by)
    cancelled = {"transport": transport.pk, "casualty": str(casualty.pk),
                 "unit": transport.unit.callsign, "reason": reason}
    # The crew is told too: its order no longer stands.
    for topic in (transport.hospital.topic, transport.unit.topic):
        journal_append(topic=topic, type="transport.cancelled", data=cancelled, terminal=None)
    _release_casualty_access(transport)


def transport_release(*, transport: Transport, changed_by: str, reason: str) -> None:
    """Take back an order not yet under way: the casualty returns to the queue and a unit
    left with nothing to do is available again."""
    # The unit first, then its transport: the order unit_status_set's cancellations use.
    unit = Unit.objects.select_for_update(of=("self",)).select_related("event").get(
        pk=transport.unit_id
    )
    transport = Transport.objects.select_for_update(of=("self",)).select_related(
        "unit", "hospital"
    ).get(pk=transport.pk)
    transport_cancel(transport=transport, changed_by=changed_by, reason=reason)
    busy = Transport.objects.filter(unit=unit, status__in=Transport.ACTIVE_STATUSES).exists()
    if not busy and unit.status == "dispatched":
        unit_status_set(unit=unit, to_status="available", changed_by=changed_by)


def transport_hand_over(*, transport: Transport, changed_by: str) -> None:
    """The hospital has taken the patient: the transport and the casualty are done."""
    casualty = Casualty.objects.select_for_update(of=("self",)).select_related("event").get(
        pk=transport.casualty_id
    )
    _transport_step(transport=transport, to_status="handed_over", changed_by=changed_by)
    casualty_status_change(casualty=casualty, to_status="handed_over", changed_by=changed_by)
    _release_casualty_access(transport)


def _advance_transports(*, unit: Unit, to_status: str, changed_by: str) -> None:
    active = list(
        # Only the transports: a lock on the joined hospital rows would order this after
        # capacity updates and accepts that lock the hospital first (a deadlock under load).
        Transport.objects.select_for_update(of=("self",))
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
        if transport_status == "arrived":
            prearrival_notice_advance(transport=transport, to_state="arrived",
                                      changed_by=changed_by)
        if casualty_status is not None:
            casualty = Casualty.objects.select_for_update(of=("self",)).select_related("event").get(
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
    *, casualty_id: str, callsign: str, hospital_code: str, assigned_by: str,
    pickup_eta: datetime | None = None, eta: datetime | None = None,
) -> Transport:
    """Give a waiting casualty to a unit and a hospital: the order, the notice, the summary.

    `pickup_eta` and `eta` (arrival at the hospital) come from the caller's plan; without
    them the distance estimate from the unit's position is used.
    """
    with transaction.atomic():
        # The unit, then the casualty: the order unit_status_change takes them in (the unit,
        # then its transports' casualties), so an order and a status change of one unit wait
        # for each other instead of each holding the row the other needs.
        unit = (
            Unit.objects.select_for_update(of=("self",)).select_related("event", "station")
            .get(callsign=callsign)
        )
        casualty = Casualty.objects.select_for_update(of=("self",)).select_related("event").get(
            pk=casualty_id
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
        transport = Transport(
            casualty=casualty, unit=unit, hospital=hospital, assigned_by=assigned_by,
            assigned_at=now,
        )
        if pickup_eta is None or eta is None:
            pickup_eta, eta = trip_etas(
                transport=transport, start=unit.position or unit.station.location, now=now
            )
        transport.eta = eta
        transport.save()
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
            "eta": iso_millis(eta),
        }
        journal_append(topic=unit.topic, type="order.assigned",
                       data={**summary, "pickup_eta": iso_millis(pickup_eta)}, terminal=None)
        prearrival_notice_send(transport=transport, eta=eta)
        journal_append(topic=casualty.topic, type="transport.assigned", data=summary,
                       terminal=None)
        journal_append(topic=casualty.event.topic, type="transport.assigned", data=summary,
                       terminal=None)
        return transport
