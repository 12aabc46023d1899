"""Reads of teleconsult: who may join or signal into a consult, the expert queue, ICE servers."""

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from hub import permissions
from hub.models import Terminal, TerminalKind
from hub.topics import TopicRef
from teleconsult.models import Consult, ConsultParticipant, ExpertSpecialty

OPEN_STATUSES = (Consult.Status.REQUESTED, Consult.Status.OFFERED, Consult.Status.JOINED)


def consult_open(*, consult_id: str) -> Consult | None:
    return (
        Consult.objects.select_related("casualty", "requested_by")
        .filter(pk=consult_id, status__in=OPEN_STATUSES)
        .first()
    )


def consult_is_participant(*, consult_id: str, terminal: Terminal) -> bool:
    return ConsultParticipant.objects.filter(
        consult_id=consult_id, terminal=terminal, left_at__isnull=True,
        consult__status__in=OPEN_STATUSES,
    ).exists()


def consult_may_join(*, terminal: Terminal, consult_id: str) -> bool:
    """Experts of the consult's specialty, the casualty's own crew, and command (which is how
    the media bridge authenticates) may join an open consult."""
    consult = consult_open(consult_id=consult_id)
    if consult is None:
        return False
    if terminal.kind == TerminalKind.EXPERT:
        return ExpertSpecialty.objects.filter(
            terminal=terminal, specialty=consult.specialty
        ).exists()
    if terminal.kind == TerminalKind.COMMAND:
        return permissions.may_read(terminal, consult_topic(consult))
    return permissions.may_write_casualty_record(terminal, str(consult.casualty_id))


def consult_topic(consult: Consult) -> TopicRef:
    return TopicRef("consult", str(consult.pk))


def consult_may_advise(*, terminal: Terminal, consult_id: str) -> bool:
    return terminal.kind == TerminalKind.EXPERT and consult_is_participant(
        consult_id=consult_id, terminal=terminal
    )


def consult_participant_names(*, consult_id: str) -> list[str]:
    return list(
        ConsultParticipant.objects.filter(consult_id=consult_id, left_at__isnull=True)
        .order_by("joined_at")
        .values_list("terminal__name", flat=True)
    )


def consult_holder(*, consult: Consult, terminal: Terminal) -> str | None:
    """The other expert seated in a consult that needs only one (not fan-out): it has taken
    it, and nobody else may. None when the consult is free for this terminal."""
    if consult.fanout:
        return None
    return (
        ConsultParticipant.objects.filter(
            consult=consult, left_at__isnull=True, terminal__kind=TerminalKind.EXPERT
        ).exclude(terminal=terminal).values_list("terminal__name", flat=True).first()
    )


def consult_queue_holders(*, consult: Consult) -> list[Terminal]:
    """Every expert whose queue may show this consult: those it was offered to, and those of
    its specialty now (given the specialty after the request, they read it over REST)."""
    return list(
        Terminal.objects.filter(
            Q(consult_offers__consult=consult)
            | Q(kind=TerminalKind.EXPERT, revoked_at__isnull=True,
                specialties__specialty=consult.specialty)
        ).distinct().order_by("name")
    )


def expert_seat(*, terminal: Terminal) -> str | None:
    """The open consult this expert sits in (the latest joined): its console rejoins it after
    a reload."""
    consult = (
        ConsultParticipant.objects.filter(
            terminal=terminal, left_at__isnull=True, consult__status__in=OPEN_STATUSES
        ).order_by("-joined_at").values_list("consult_id", flat=True).first()
    )
    return str(consult) if consult is not None else None


def experts_for_specialty(*, specialty: str) -> list[Terminal]:
    return list(
        Terminal.objects.filter(
            kind=TerminalKind.EXPERT, revoked_at__isnull=True, specialties__specialty=specialty
        ).order_by("name")
    )


def expert_specialties(*, terminal: Terminal) -> list[str]:
    return list(ExpertSpecialty.objects.filter(terminal=terminal).order_by("specialty")
                .values_list("specialty", flat=True))


def expert_queue(*, terminal: Terminal) -> list[dict[str, Any]]:
    """Open consults of this expert's specialties, most urgent first, then oldest first;
    without those another expert has taken (one expert each, unless fan-out)."""
    specialties = ExpertSpecialty.objects.filter(terminal=terminal).values("specialty")
    rank = {"immediate": 0, "urgent": 1, "routine": 2}
    other_expert_seated = ConsultParticipant.objects.filter(
        consult=OuterRef("pk"), left_at__isnull=True, terminal__kind=TerminalKind.EXPERT
    ).exclude(terminal=terminal)
    consults = (
        Consult.objects.select_related("casualty__event", "requested_by")
        .filter(status__in=OPEN_STATUSES, specialty__in=specialties)
        .annotate(taken=Exists(other_expert_seated))
        .exclude(fanout=False, taken=True)
        .order_by("requested_at")
    )
    rows = [
        {
            "consult": str(consult.pk), "casualty": str(consult.casualty_id),
            "specialty": consult.specialty, "urgency": consult.urgency,
            "reason": consult.reason, "status": consult.status,
            "category": consult.casualty.category, "requested_by": consult.requested_by.name,
            "requested_at": consult.requested_at.isoformat(),
            "exercise": consult.casualty.event.is_exercise,
        }
        for consult in consults
    ]
    return sorted(rows, key=lambda row: rank.get(row["urgency"], 3))


def ice_servers(*, terminal_name: str, now: float | None = None) -> dict[str, Any]:
    """STUN and TURN servers for RTCPeerConnection, with TURN credentials of coturn's
    shared-secret scheme (`use-auth-secret`): the username is `<expiry>:<name>` and the
    password is base64(HMAC-SHA1(secret, username)), so coturn checks it without a database
    and it stops working by itself at the expiry."""
    servers: list[dict[str, Any]] = []
    if settings.TELECONSULT_STUN_URLS:
        servers.append({"urls": list(settings.TELECONSULT_STUN_URLS)})
    ttl = settings.TELECONSULT_TURN_TTL_SECONDS
    if settings.TELECONSULT_TURN_URLS and settings.TELECONSULT_TURN_SECRET:
        expiry = int(now if now is not None else time.time()) + ttl
        username = f"{expiry}:{terminal_name}"
        digest = hmac.new(
            settings.TELECONSULT_TURN_SECRET.encode(), username.encode(), hashlib.sha1
        ).digest()
        servers.append({
            "urls": list(settings.TELECONSULT_TURN_URLS), "username": username,
            "credential": base64.b64encode(digest).decode(),
        })
    return {"iceServers": servers, "ttl": ttl}
