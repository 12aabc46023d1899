"""Writes of teleconsult: the consult lifecycle, signalling relay, advice into the record.

Every message runs in one transaction with its journal entry; what the hub derives from it
(offers to experts, the participant list, entries in the casualty's record) is appended in
that same transaction, so a consult is never half requested or half ended.
"""

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from field_terminal.models import Casualty
from field_terminal.services import casualty_media_attach, casualty_note_add
from hub.errors import Conflict, Forbidden, Invalid
from hub.journal import JournalDraft, StoredMessage, journal_append, journal_append_many
from hub.models import MediaFile, Terminal
from teleconsult.models import Consult, ConsultOffer, ConsultParticipant
from teleconsult.schemas import (
    Advice,
    ConsultEnd,
    ConsultJoin,
    ConsultOffered,
    ConsultRequest,
    ConsultWithdrawn,
)
from teleconsult.selectors import (
    consult_holder,
    consult_participant_names,
    consult_queue_holders,
    experts_for_specialty,
)


def _consult_state(consult: Consult) -> None:
    """The hub-made participant list, in join order: what peers decide who offers to whom by."""
    participants = [
        {"terminal": name, "role": role}
        for name, role in ConsultParticipant.objects.filter(
            consult=consult, left_at__isnull=True
        ).order_by("joined_at", "pk").values_list("terminal__name", "role")
    ]
    journal_append(
        topic=consult.topic, type="consult.state", terminal=None,
        data={"status": consult.status, "casualty": str(consult.casualty_id),
              "specialty": consult.specialty, "urgency": consult.urgency,
              "record": consult.record, "fanout": consult.fanout,
              "participants": participants},
    )


def _offers_withdraw(*, consult: Consult, reason: str, by: Terminal) -> None:
    """Tell every expert whose queue shows the consult that it left it (broadcast after the
    commit, like every journal entry), so no queue waits for its REST refresh."""
    data = ConsultWithdrawn.model_validate(
        {"consult": str(consult.pk), "reason": reason, "by": by.name}
    ).wire()
    journal_append_many(drafts=[
        JournalDraft(topic=expert.topic, type="consult.withdrawn", data=data, terminal=None)
        for expert in consult_queue_holders(consult=consult)
    ])


def consult_request(
    *, terminal: Terminal, casualty_id: str, client_id: str, payload: ConsultRequest
) -> StoredMessage:
    now = timezone.now()
    with transaction.atomic():
        if Consult.objects.filter(pk=payload.consult).exists():
            raise Conflict(f"data.consult: {payload.consult} is already requested")
        casualty = Casualty.objects.select_related("event").get(pk=casualty_id)
        try:
            with transaction.atomic():
                consult = Consult.objects.create(
                    id=payload.consult, casualty=casualty, urgency=payload.urgency,
                    specialty=payload.specialty, reason=payload.reason or "",
                    record=bool(payload.record), fanout=bool(payload.fanout),
                    requested_by=terminal, requested_at=now,
                )
        except IntegrityError:
            raise Conflict(f"data.consult: {payload.consult} is already requested") from None
        ConsultParticipant.objects.create(
            consult=consult, terminal=terminal, role="requester", joined_at=now
        )
        message = journal_append(
            topic=f"casualty:{casualty_id}", type="consult.request", data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
        offer: dict[str, Any] = {
            "consult": str(consult.pk), "casualty": casualty_id,
            "specialty": consult.specialty, "urgency": consult.urgency,
            "category": casualty.category, "requested_by": terminal.name,
            "exercise": casualty.event.is_exercise,
        }
        if consult.reason:
            offer["reason"] = consult.reason
        offered = ConsultOffered.model_validate(offer).wire()
        experts = experts_for_specialty(specialty=consult.specialty)
        ConsultOffer.objects.bulk_create(
            ConsultOffer(consult=consult, terminal=expert, offered_at=now) for expert in experts
        )
        for expert in experts:
            journal_append(topic=expert.topic, type="consult.offered", data=offered,
                           terminal=None)
        if consult.record or consult.fanout:
            journal_append(
                topic=f"terminal:{settings.TELECONSULT_BRIDGE_TERMINAL}", type="consult.offered",
                data=ConsultOffered.model_validate(
                    {**offer, "record": consult.record, "fanout": consult.fanout}).wire(),
                terminal=None,
            )
        if experts:
            consult.status = Consult.Status.OFFERED
            consult.save(update_fields=["status"])
        _consult_state(consult)
        return message


def consult_join(
    *, terminal: Terminal, consult_id: str, client_id: str, payload: ConsultJoin
) -> StoredMessage:
    role = payload.role or "participant"
    if role == "bridge" and terminal.name != settings.TELECONSULT_BRIDGE_TERMINAL:
        raise Forbidden("data.role: only the media bridge joins as bridge")
    now = timezone.now()
    with transaction.atomic():
        consult = Consult.objects.select_for_update().get(pk=consult_id)
        if consult.status == Consult.Status.ENDED:
            raise Conflict("consult status: the consult has ended")
        if role == "bridge" and not (consult.record or consult.fanout):
            raise Conflict("data.role: the requester asked for neither recording nor fan-out")
        holder = (consult_holder(consult=consult, terminal=terminal)
                  if terminal.kind == "expert" else None)
        if holder is not None:
            raise Conflict(f"consult status: {holder} has taken this consult")
        seat, created = ConsultParticipant.objects.get_or_create(
            consult=consult, terminal=terminal, defaults={"role": role, "joined_at": now}
        )
        if not created:
            # A terminal that left and comes back takes a fresh place in the join order.
            seat.role, seat.joined_at, seat.left_at = role, now, None
            seat.save(update_fields=["role", "joined_at", "left_at"])
        message = journal_append(
            topic=consult.topic, type="consult.join", data=payload.wire(), terminal=terminal,
            client_id=client_id,
        )
        if terminal.kind == "expert" and consult.status != Consult.Status.JOINED:
            consult.status = Consult.Status.JOINED
            consult.save(update_fields=["status"])
            if not consult.fanout:
                _offers_withdraw(consult=consult, reason="taken", by=terminal)
        _consult_state(consult)
        return message


def consult_end(
    *, terminal: Terminal, consult_id: str, client_id: str, payload: ConsultEnd
) -> StoredMessage:
    now = timezone.now()
    with transaction.atomic():
        consult = Consult.objects.select_for_update().get(pk=consult_id)
        if consult.status == Consult.Status.ENDED:
            raise Conflict("consult status: the consult has already ended")
        message = journal_append(
            topic=consult.topic, type="consult.end", data=payload.wire(), terminal=terminal,
            client_id=client_id,
        )
        expert_joined = consult.status == Consult.Status.JOINED
        consult.status, consult.ended_at = Consult.Status.ENDED, now
        consult.save(update_fields=["status", "ended_at"])
        ConsultParticipant.objects.filter(consult=consult, left_at__isnull=True).update(
            left_at=now
        )
        ended: dict[str, Any] = {"consult": str(consult.pk), "ended_by": terminal.name}
        if payload.summary:
            ended["summary"] = payload.summary
        record_entry = journal_append(
            topic=f"casualty:{consult.casualty_id}", type="consult.ended", data=ended,
            terminal=None,
        )
        if payload.summary:
            casualty_note_add(
                casualty_id=str(consult.casualty_id), author=terminal.name,
                text=payload.summary, journal_seq=record_entry.seq,
                written_at=record_entry.stored_at,
            )
        # After the casualty topic, as consult_request appends (casualty, then the experts'
        # topics), so the two never take those topic locks in opposite orders.
        _offers_withdraw(consult=consult, reason="ended" if expert_joined else "cancelled",
                         by=terminal)
        _consult_state(consult)
        return message


def consult_signal(
    *, terminal: Terminal, consult_id: str, client_id: str, type: str, data: dict[str, Any]
) -> StoredMessage:
    """rtc.offer, rtc.answer, rtc.ice: stored and relayed like any message, addressed by
    `to` to one participant; every participant sees it and the others ignore it."""
    if data["to"] == terminal.name:
        raise Invalid("data.to: a terminal does not signal to itself")
    if data["to"] not in consult_participant_names(consult_id=consult_id):
        raise Invalid(f"data.to: {data['to']} is not in this consult")
    with transaction.atomic():
        return journal_append(
            topic=f"consult:{consult_id}", type=type, data=data, terminal=terminal,
            client_id=client_id,
        )


def consult_advise(
    *, terminal: Terminal, consult_id: str, client_id: str, payload: Advice
) -> StoredMessage:
    with transaction.atomic():
        consult = Consult.objects.get(pk=consult_id)
        message = journal_append(
            topic=consult.topic, type="advice", data=payload.wire(), terminal=terminal,
            client_id=client_id,
        )
        _record_note(consult=consult, author=terminal.name, text=payload.text, kind="advice")
        return message


def _record_note(*, consult: Consult, author: str, text: str, kind: str) -> None:
    entry = journal_append(
        topic=f"casualty:{consult.casualty_id}", type="consult.note", terminal=None,
        data={"consult": str(consult.pk), "kind": kind, "author": author, "text": text},
    )
    casualty_note_add(
        casualty_id=str(consult.casualty_id), author=author, text=text,
        journal_seq=entry.seq, written_at=entry.stored_at,
    )


def consult_chat_to_record(*, consult_id: str, author: str, text: str) -> None:
    """A chat line of the consult also joins the casualty's record (called in the note's
    transaction)."""
    _record_note(consult=Consult.objects.get(pk=consult_id), author=author, text=text,
                 kind="chat")


def consult_media_to_record(*, consult_id: str, media: MediaFile, caption: str,
                            author: str) -> None:
    """An image shared in the consult is attached to the casualty's record as well."""
    consult = Consult.objects.get(pk=consult_id)
    entry = journal_append(
        topic=f"casualty:{consult.casualty_id}", type="consult.media", terminal=None,
        data={"consult": str(consult.pk), "media": str(media.pk), "kind": media.kind,
              "author": author, "url": f"/api/v1/media/{media.pk}"},
    )
    casualty_media_attach(
        casualty_id=str(consult.casualty_id), media=media, caption=caption,
        attached_by=author, journal_seq=entry.seq, attached_at=entry.stored_at,
    )
