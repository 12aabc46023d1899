"""Writes about hospitals: published capacity and diversion, pre-arrival notices, handover."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ambulance.models import Transport
from field_terminal.models import Casualty
from hospital_intake.fhir import casualty_bundle
from hospital_intake.lifecycles import NOTICE_LIFECYCLE
from hospital_intake.models import (
    CapacityReport,
    Handover,
    HandoverBundle,
    Hospital,
    PreArrivalNotice,
    PreArrivalNoticeChange,
)
from hospital_intake.schemas import Capacity, HandoverAccept, HandoverGive, PrearrivalAck
from hub.errors import Conflict, Invalid
from hub.journal import StoredMessage, journal_append
from hub.models import Terminal
from hub.timefmt import iso_millis

# The order in which a notice moves forward; an ack of a state already reached changes nothing.
_NOTICE_ORDER = ("sent", "received", "acknowledged", "arrived", "handed_over")
# The crew keeps the record from assignment until the hospital has taken the handover.
_HANDOVER_STATUSES = ("assigned", "on_scene", "departed", "arrived")


def hospital_capacity_update(
    *, terminal: Terminal, code: str, client_id: str, payload: Capacity
) -> StoredMessage:
    with transaction.atomic():
        hospital = Hospital.objects.select_for_update().get(code=code)
        now = timezone.now()
        hospital.beds_red = payload.beds.red
        hospital.beds_yellow = payload.beds.yellow
        hospital.beds_green = payload.beds.green
        hospital.diversion = payload.diversion
        hospital.capacity_note = payload.note or ""
        hospital.capacity_updated_at = now
        hospital.save(update_fields=[
            "beds_red", "beds_yellow", "beds_green", "diversion", "capacity_note",
            "capacity_updated_at",
        ])
        CapacityReport.objects.create(
            hospital=hospital, beds_red=payload.beds.red, beds_yellow=payload.beds.yellow,
            beds_green=payload.beds.green, diversion=payload.diversion,
            note=payload.note or "", reported_by=terminal.name, reported_at=now,
        )
        return journal_append(
            topic=hospital.topic, type="capacity",
            data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )


def prearrival_notice_send(*, transport: Transport, eta: datetime | None) -> PreArrivalNotice:
    """Tell the hospital what is coming; runs inside the assignment's transaction."""
    now = timezone.now()
    casualty = transport.casualty
    notice = PreArrivalNotice.objects.create(
        transport=transport, hospital=transport.hospital, sent_at=now
    )
    PreArrivalNoticeChange.objects.create(
        notice=notice, from_state="", to_state=notice.state, changed_by="hub", changed_at=now
    )
    data: dict[str, Any] = {
        "notice": notice.pk, "transport": transport.pk, "casualty": str(casualty.pk),
        "unit": transport.unit.callsign, "category": casualty.category,
        "age_group": casualty.age_group, "complaint": casualty.complaint,
        "needs": list(casualty.needs), "state": notice.state,
    }
    if eta is not None:
        data["eta"] = iso_millis(eta)
    journal_append(topic=transport.hospital.topic, type="prearrival.notice", data=data,
                   terminal=None)
    return notice


def _notice_step(*, notice: PreArrivalNotice, to_state: str, changed_by: str) -> None:
    NOTICE_LIFECYCLE.check(notice.state, to_state)
    now = timezone.now()
    PreArrivalNoticeChange.objects.create(
        notice=notice, from_state=notice.state, to_state=to_state, changed_by=changed_by,
        changed_at=now,
    )
    notice.state = to_state
    setattr(notice, f"{to_state}_at", now)
    notice.save(update_fields=["state", f"{to_state}_at"])
    if to_state == "cancelled":
        # The hospital hears of it as `transport.cancelled`; prearrival.state has no such state.
        return
    transport = notice.transport
    data = {"notice": notice.pk, "casualty": str(transport.casualty_id),
            "hospital": notice.hospital.code, "state": to_state, "by": changed_by}
    journal_append(topic=notice.hospital.topic, type="prearrival.state", data=data,
                   terminal=None)
    journal_append(topic=transport.casualty.event.topic, type="prearrival.state", data=data,
                   terminal=None)


def _locked_notice(**lookup: Any) -> PreArrivalNotice | None:
    return (
        PreArrivalNotice.objects.select_for_update(of=("self",))
        .select_related("hospital", "transport__casualty__event", "transport__unit")
        .filter(**lookup)
        .first()
    )


def prearrival_notice_advance(*, transport: Transport, to_state: str, changed_by: str) -> None:
    """Move the transport's notice along (arrived, handed_over, cancelled), if it has one."""
    notice = _locked_notice(transport=transport)
    if notice is not None and notice.state != to_state:
        _notice_step(notice=notice, to_state=to_state, changed_by=changed_by)


def prearrival_ack(
    *, terminal: Terminal, code: str, client_id: str, payload: PrearrivalAck
) -> StoredMessage:
    with transaction.atomic():
        notice = _locked_notice(pk=payload.notice, hospital__code=code)
        if notice is None:
            raise Invalid(f"data.notice: hospital {code} has no notice {payload.notice}")
        if notice.state == "cancelled":
            raise Conflict(f"data.notice: notice {notice.pk} was cancelled with its transport")
        message = journal_append(
            topic=notice.hospital.topic, type="prearrival.ack", data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
        # A screen that shows a notice again after a reload says "received" again: not news.
        if _NOTICE_ORDER.index(payload.state) > _NOTICE_ORDER.index(notice.state):
            _notice_step(notice=notice, to_state=payload.state, changed_by=terminal.name)
        return message


def handover_give(
    *, terminal: Terminal, casualty_id: str, client_id: str, payload: HandoverGive
) -> StoredMessage:
    if terminal.unit_id is None:
        raise Conflict("terminal: only a unit's terminal gives a handover")
    with transaction.atomic():
        transport = (
            Transport.objects.select_for_update()
            .filter(casualty_id=casualty_id, unit_id=terminal.unit_id,
                    status__in=_HANDOVER_STATUSES)
            .order_by("-assigned_at")
            .first()
        )
        if transport is None:
            raise Conflict(f"casualty: {casualty_id} is not carried by this unit")
        message = journal_append(
            topic=f"casualty:{casualty_id}", type="handover", data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
        Handover.objects.create(
            transport=transport, casualty_id=casualty_id, atmist=payload.atmist.wire(),
            notes=payload.notes or "", given_by=terminal.name, given_at=message.stored_at,
            journal_seq=message.seq,
        )
        return message


def handover_accept(
    *, terminal: Terminal, code: str, client_id: str, payload: HandoverAccept
) -> StoredMessage:
    # ambulance.services imports this module (it sends the notices), hence the late import.
    from ambulance.services import transport_hand_over

    with transaction.atomic():
        transport = (
            Transport.objects.select_for_update(of=("self",))
            .select_related("hospital", "unit")
            .filter(casualty_id=payload.casualty, hospital__code=code)
            .exclude(status="cancelled")
            .order_by("-assigned_at")
            .first()
        )
        if transport is None:
            raise Invalid(f"data.casualty: {payload.casualty} is not inbound to {code}")
        if transport.status != "arrived":
            raise Conflict(
                f"transport status: cannot hand over in state '{transport.status}'"
                + ("; the unit reports at_hospital first" if transport.status != "handed_over"
                   else "")
            )
        message = journal_append(
            topic=transport.hospital.topic, type="handover.accept", data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
        transport_hand_over(transport=transport, changed_by=terminal.name)
        prearrival_notice_advance(transport=transport, to_state="handed_over",
                                  changed_by=terminal.name)
        handover_bundle_store(transport=transport, accepted_by=terminal.name)
        return message


def handover_bundle_store(*, transport: Transport, accepted_by: str) -> HandoverBundle:
    """Keep the FHIR snapshot the hospital received; runs inside the acceptance's transaction.
    Media URLs stay relative (/api/v1/media/<id>): the hub's public host is the reader's."""
    casualty = Casualty.objects.get(pk=transport.casualty_id)
    return HandoverBundle.objects.create(
        transport=transport, casualty=casualty, bundle=casualty_bundle(casualty, base_url=""),
        accepted_by=accepted_by, accepted_at=timezone.now(),
    )
