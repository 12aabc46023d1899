"""Writes about casualties: report, triage, vitals, waveforms, notes, media, status changes."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone

from command_center.models import MassEvent
from field_terminal.lifecycles import CASUALTY_LIFECYCLE
from field_terminal.models import (
    Casualty,
    CasualtyMedia,
    CasualtyNote,
    CasualtyStatusChange,
    TriageAssessment,
    VitalSigns,
    WaveformSegment,
)
from field_terminal.schemas import VITAL_FIELDS, CasualtyReport, TriageUpdate, Vitals, Waveform
from hub.errors import Conflict, Forbidden
from hub.journal import JournalDraft, StoredMessage, journal_append, journal_append_many
from hub.models import MediaFile, Terminal

# Triage closes once the receiving hospital has the patient or the patient has died.
TRIAGE_CLOSED_STATUSES = ("handed_over", "deceased")


def casualty_status_change(
    *, casualty: Casualty, to_status: str, changed_by: str, reason: str = ""
) -> None:
    """Move a casualty along its lifecycle, keep the history and tell the event's picture.

    The caller holds the casualty row lock (select_for_update) inside its transaction.
    """
    CASUALTY_LIFECYCLE.check(casualty.status, to_status)
    now = timezone.now()
    CasualtyStatusChange.objects.create(
        casualty=casualty, from_status=casualty.status, to_status=to_status,
        changed_by=changed_by, changed_at=now, reason=reason,
    )
    previous = casualty.status
    casualty.status = to_status
    casualty.status_changed_at = now
    casualty.save(update_fields=["status", "status_changed_at"])
    journal_append(
        topic=f"event:{casualty.event.slug}",
        type="casualty.status",
        data={"casualty": str(casualty.pk), "from": previous, "to": to_status,
              **({"reason": reason} if reason else {})},
        terminal=None,
    )


def _queue_status_for(category: str) -> str:
    return "reported" if category == "black" else "awaiting_transport"


def casualty_report(
    *, terminal: Terminal, event_slug: str, client_id: str, payload: CasualtyReport
) -> StoredMessage:
    event = MassEvent.objects.get(slug=event_slug)
    now = timezone.now()
    with transaction.atomic():
        if Casualty.objects.filter(pk=payload.casualty).exists():
            raise Conflict(f"data.casualty: {payload.casualty} is already reported")
        try:
            with transaction.atomic():
                casualty = Casualty.objects.create(
                    id=payload.casualty, event=event, tag=payload.tag or "",
                    location=Point(payload.location.lon, payload.location.lat, srid=4326),
                    category=payload.category, triage_method=payload.method,
                    age_group=payload.age_group or "", sex=payload.sex or "",
                    complaint=payload.complaint or "", needs=payload.needs or [],
                    status=CASUALTY_LIFECYCLE.initial, reported_by=terminal,
                    reported_at=now, status_changed_at=now,
                )
        except IntegrityError:
            # Another terminal reported the same uuid in the same instant.
            raise Conflict(f"data.casualty: {payload.casualty} is already reported") from None
        CasualtyStatusChange.objects.create(
            casualty=casualty, from_status="", to_status=casualty.status,
            changed_by=terminal.name, changed_at=now,
        )
        TriageAssessment.objects.create(
            casualty=casualty, category=payload.category, method=payload.method,
            assessed_by=terminal.name, assessed_at=now,
        )
        message = journal_append(
            topic=event.topic, type="casualty.report", data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
        casualty.event = event
        if payload.category != "black":
            casualty_status_change(
                casualty=casualty, to_status="awaiting_transport", changed_by="hub"
            )
    return message


def _locked_casualty(casualty_id: str) -> Casualty:
    return Casualty.objects.select_for_update().select_related("event").get(pk=casualty_id)


def casualty_triage_update(
    *, terminal: Terminal, casualty_id: str, client_id: str, payload: TriageUpdate
) -> StoredMessage:
    with transaction.atomic():
        casualty = _locked_casualty(casualty_id)
        if casualty.status in TRIAGE_CLOSED_STATUSES:
            raise Conflict(f"casualty status: triage is closed in state '{casualty.status}'")
        previous = casualty.category
        TriageAssessment.objects.create(
            casualty=casualty, category=payload.category, method=payload.method,
            reason=payload.reason or "", assessed_by=terminal.name,
            assessed_at=timezone.now(),
        )
        casualty.category = payload.category
        casualty.triage_method = payload.method
        casualty.save(update_fields=["category", "triage_method"])
        message = journal_append(
            topic=casualty.topic, type="triage.update", data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
        journal_append(
            topic=casualty.event.topic, type="triage.changed",
            data={"casualty": str(casualty.pk), "from": previous, "to": payload.category,
                  "method": payload.method, "by": terminal.name},
            terminal=None,
        )
        if casualty.status in ("reported", "awaiting_transport"):
            queue_status = _queue_status_for(payload.category)
            if queue_status != casualty.status:
                casualty_status_change(
                    casualty=casualty, to_status=queue_status, changed_by=terminal.name,
                    reason=f"re-triaged {previous} -> {payload.category}",
                )
    return message


@dataclass(frozen=True)
class RecordFrame:
    """One terminal's vitals or waveform frame, for casualty_records_store_many."""

    terminal: Terminal
    casualty_id: str
    client_id: str
    payload: Vitals | Waveform


# The domain rows of casualty_records_store_many, stored in the journal's own statement
# (hub.journal._APPEND's row writes): a vitals row is [casualty, measured at, recorded by,
# the vital fields...]; a waveform row is [casualty, signal, unit, t0, hz, recorded by], its
# samples read from the message's data, which the journal parsed already.
_VITALS_INSERT = (
    f"INSERT INTO {VitalSigns._meta.db_table} "
    f"(casualty_id, measured_at, recorded_by, journal_seq, {', '.join(VITAL_FIELDS)}) "
    "SELECT (row->>0)::uuid, (row->>1)::timestamptz, row->>2, seq, "
    "(row->>3)::float8, (row->>4)::float8, (row->>5)::float8, (row->>6)::float8, "
    "(row->>7)::float8, (row->>8)::float8, (row->>9)::smallint, (row->>10)::float8 "
    "FROM stored WHERE type = 'vitals'"
)
_WAVEFORMS_INSERT = (
    f"INSERT INTO {WaveformSegment._meta.db_table} "
    "(casualty_id, signal, unit, t0, hz, recorded_by, journal_seq, samples) "
    "SELECT (row->>0)::uuid, row->>1, row->>2, (row->>3)::timestamptz, (row->>4)::float8, "
    "row->>5, seq, ARRAY(SELECT sample::float8 FROM "
    "jsonb_array_elements_text(data->'samples') WITH ORDINALITY AS s(sample, n) ORDER BY n) "
    "FROM stored WHERE type = 'waveform'"
)


def _record_row(frame: RecordFrame) -> list[Any]:
    payload = frame.payload
    if isinstance(payload, Vitals):
        return [frame.casualty_id, payload.t.isoformat(), frame.terminal.name,
                *(getattr(payload, name) for name in VITAL_FIELDS)]
    return [frame.casualty_id, payload.signal, payload.unit, payload.t0.isoformat(),
            payload.hz, frame.terminal.name]


def casualty_records_store_many(*, frames: list[RecordFrame]) -> list[StoredMessage]:
    """Store vitals and waveform frames (group commit): the messages and their rows in one
    statement, whatever their number and mix.

    Runs inside the caller's transaction; returns the messages in the frames' order.
    """
    kinds = {type(frame.payload) for frame in frames}
    return journal_append_many(
        drafts=[
            JournalDraft(topic=f"casualty:{frame.casualty_id}",
                         type="vitals" if isinstance(frame.payload, Vitals) else "waveform",
                         data=frame.payload.wire(), terminal=frame.terminal,
                         client_id=frame.client_id, row=_record_row(frame))
            for frame in frames
        ],
        # Only the inserts this batch needs: an empty one would still cost its CTE.
        row_writes=tuple(insert for kind, insert in ((Vitals, _VITALS_INSERT),
                                                      (Waveform, _WAVEFORMS_INSERT))
                          if kind in kinds),
    )


def casualty_record_store(
    *, terminal: Terminal, casualty_id: str, client_id: str, payload: Vitals | Waveform
) -> StoredMessage:
    """One vitals or waveform frame, alone (a batch of one of casualty_records_store_many)."""
    # Called inside apply_once's transaction on the busiest path: a savepoint would cost two
    # round trips per frame and buys nothing, since any error aborts the whole frame.
    with transaction.atomic(savepoint=False):
        [message] = casualty_records_store_many(frames=[RecordFrame(
            terminal=terminal, casualty_id=casualty_id, client_id=client_id, payload=payload)])
    return message


def casualty_note_add(
    *, casualty_id: str, author: str, text: str, journal_seq: int, written_at: datetime
) -> None:
    CasualtyNote.objects.create(
        casualty_id=casualty_id, text=text, author=author, written_at=written_at,
        journal_seq=journal_seq,
    )


def casualty_media_attach(
    *, casualty_id: str, media: MediaFile, caption: str, attached_by: str, journal_seq: int,
    attached_at: datetime,
) -> None:
    if not Casualty.objects.filter(pk=casualty_id).exists():
        raise Forbidden("topic: not readable")
    CasualtyMedia.objects.create(
        casualty_id=casualty_id, media=media, caption=caption, attached_by=attached_by,
        attached_at=attached_at, journal_seq=journal_seq,
    )
