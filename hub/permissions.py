"""Who may read and write which topic: PROTOCOL.md's Topics table, in one place.

Every answer comes from the database at the moment of asking (a hospital reads a casualty only
while a transport to it is accepted), so the consumer asks on every subscribe and every frame.
A topic that does not exist is simply not readable: existence is not revealed.
"""

from django.db.models import Q

from ambulance.models import Transport, Unit
from command_center.models import MassEvent
from field_terminal.models import Casualty
from hospital_intake.models import Hospital
from hospital_intake.scope import hospitals_serving_filter
from hub.models import Terminal, TerminalKind
from hub.sql import binary_cursor, json_text
from hub.topics import TopicRef
from teleconsult.models import Consult, ConsultParticipant

# The crew keeps the record from assignment until the hospital has taken the handover.
UNIT_HOLDS_CASUALTY = ("assigned", "on_scene", "departed", "arrived")


def _command_scope_matches(terminal: Terminal, event_id: int | None) -> bool:
    # A command terminal bound to an event commands that event; an unbound one (a regional
    # centre) commands every event.
    return terminal.event_id is None or terminal.event_id == event_id


def casualty_readable_filter(terminal: Terminal) -> Q:
    """Casualties this terminal may read, as a filter (used by the API and by the socket)."""
    if terminal.kind == TerminalKind.COMMAND:
        return Q() if terminal.event_id is None else Q(event_id=terminal.event_id)
    if terminal.kind == TerminalKind.FIELD:
        return Q(reported_by=terminal)
    if terminal.kind == TerminalKind.AMBULANCE:
        return Q(reported_by=terminal) | Q(
            transports__unit_id=terminal.unit_id, transports__status__in=UNIT_HOLDS_CASUALTY
        )
    if terminal.kind == TerminalKind.HOSPITAL:
        return Q(
            transports__hospital_id=terminal.hospital_id,
            transports__status__in=Transport.INBOUND_OR_AT_STATUSES,
        )
    if terminal.kind == TerminalKind.EXPERT:
        return Q(
            consults__participants__terminal=terminal,
            consults__participants__left_at__isnull=True,
        ) & ~Q(consults__status=Consult.Status.ENDED)
    return Q(pk__in=[])


def casualty_is_held_by_unit(casualty_id: str, unit_id: int | None) -> bool:
    return unit_id is not None and Transport.objects.filter(
        casualty_id=casualty_id, unit_id=unit_id, status__in=UNIT_HOLDS_CASUALTY
    ).exists()


def _may_read_casualty(terminal: Terminal, casualty_id: str) -> bool:
    return (
        Casualty.objects.filter(pk=casualty_id)
        .filter(casualty_readable_filter(terminal))
        .exists()
    )


def unit_readable_filter(terminal: Terminal) -> Q:
    if terminal.kind == TerminalKind.COMMAND:
        if terminal.event_id is None:
            return Q()
        return Q(event_id__isnull=True) | Q(event_id=terminal.event_id)
    if terminal.kind == TerminalKind.AMBULANCE:
        return Q(pk=terminal.unit_id)
    if terminal.kind == TerminalKind.HOSPITAL:
        return Q(
            transports__hospital_id=terminal.hospital_id,
            transports__status__in=Transport.ACTIVE_STATUSES,
        )
    return Q(pk__in=[])


def _may_read_unit(terminal: Terminal, callsign: str) -> bool:
    return Unit.objects.filter(callsign=callsign).filter(unit_readable_filter(terminal)).exists()


def hospital_readable_filter(terminal: Terminal) -> Q:
    if terminal.kind == TerminalKind.COMMAND:
        # The hospitals serving its event: an exercise's console sees only the exercise's
        # copies, every other console only the real hospitals.
        exercise = terminal.event_id is not None and MassEvent.objects.filter(
            pk=terminal.event_id, is_exercise=True).exists()
        return hospitals_serving_filter(event_id=terminal.event_id, is_exercise=exercise)
    if terminal.kind == TerminalKind.HOSPITAL:
        return Q(pk=terminal.hospital_id)
    return Q(pk__in=[])


def _may_read_hospital(terminal: Terminal, code: str) -> bool:
    return Hospital.objects.filter(code=code).filter(hospital_readable_filter(terminal)).exists()


def _may_read_consult(terminal: Terminal, consult_id: str) -> bool:
    consult = Consult.objects.filter(pk=consult_id).select_related("casualty").first()
    if consult is None:
        return False
    if terminal.kind == TerminalKind.COMMAND:
        return _command_scope_matches(terminal, consult.casualty.event_id)
    return ConsultParticipant.objects.filter(
        consult=consult, terminal=terminal, left_at__isnull=True
    ).exists()


def _may_read_event(terminal: Terminal, slug: str) -> bool:
    event = MassEvent.objects.filter(slug=slug).only("id").first()
    return (
        event is not None
        and terminal.kind == TerminalKind.COMMAND
        and _command_scope_matches(terminal, event.pk)
    )


def may_read(terminal: Terminal, topic: TopicRef) -> bool:
    if topic.kind == "event":
        return _may_read_event(terminal, topic.key)
    if topic.kind == "casualty":
        return _may_read_casualty(terminal, topic.key)
    if topic.kind == "unit":
        return _may_read_unit(terminal, topic.key)
    if topic.kind == "hospital":
        return _may_read_hospital(terminal, topic.key)
    if topic.kind == "consult":
        return _may_read_consult(terminal, topic.key)
    if topic.kind == "terminal":
        return terminal.name == topic.key
    return False


def may_write_casualty_record(terminal: Terminal, casualty_id: str) -> bool:
    """Vitals and waveforms: the field terminal that reported it and the unit assigned to it."""
    if terminal.kind == TerminalKind.FIELD:
        return Casualty.objects.filter(pk=casualty_id, reported_by=terminal).exists()
    if terminal.kind == TerminalKind.AMBULANCE:
        return Casualty.objects.filter(
            pk=casualty_id, reported_by=terminal
        ).exists() or casualty_is_held_by_unit(casualty_id, terminal.unit_id)
    return False


def casualty_record_writers(pairs: list[tuple[Terminal, str]]) -> list[bool]:
    """may_write_casualty_record for many (terminal, casualty) pairs in at most two queries."""
    # Raw statements: this runs once per group-commit batch, where the ORM's compiling of
    # its two queries cost more than the rest of the check (docs/performance.md).
    casualty_ids = sorted({casualty_id for _, casualty_id in pairs})
    unit_ids = sorted({t.unit_id for t, _ in pairs
                       if t.kind == TerminalKind.AMBULANCE and t.unit_id})
    held: set[tuple[str, int]] = set()
    with binary_cursor() as cursor:
        cursor.execute(
            f"SELECT id::text, reported_by_id FROM {Casualty._meta.db_table} "
            "WHERE id IN (SELECT jsonb_array_elements_text(%b::jsonb)::uuid)",
            [json_text(casualty_ids)],
        )
        reporters = dict(cursor.fetchall())
        if unit_ids:
            cursor.execute(
                f"SELECT casualty_id::text, unit_id FROM {Transport._meta.db_table} "
                "WHERE casualty_id IN (SELECT jsonb_array_elements_text(%b::jsonb)::uuid) "
                "AND unit_id IN (SELECT jsonb_array_elements_text(%b::jsonb)::bigint) "
                "AND status IN (SELECT jsonb_array_elements_text(%b::jsonb))",
                [json_text(casualty_ids), json_text(unit_ids), json_text(UNIT_HOLDS_CASUALTY)],
            )
            held = {(casualty_id, unit_id) for casualty_id, unit_id in cursor.fetchall()}
    answers = []
    for terminal, casualty_id in pairs:
        reported = reporters.get(casualty_id) == terminal.pk
        if terminal.kind == TerminalKind.FIELD:
            answers.append(reported)
        elif terminal.kind == TerminalKind.AMBULANCE:
            answers.append(reported or (casualty_id, terminal.unit_id) in held)
        else:
            answers.append(False)
    return answers


def may_triage(terminal: Terminal, casualty_id: str) -> bool:
    if terminal.kind == TerminalKind.COMMAND:
        return _may_read_casualty(terminal, casualty_id)
    return may_write_casualty_record(terminal, casualty_id)


def may_report_in_event(terminal: Terminal, slug: str) -> bool:
    if terminal.kind not in (TerminalKind.FIELD, TerminalKind.AMBULANCE, TerminalKind.COMMAND):
        return False
    event = MassEvent.objects.filter(slug=slug).only("id").first()
    if event is None:
        return False
    if terminal.kind == TerminalKind.COMMAND:
        return _command_scope_matches(terminal, event.pk)
    return terminal.event_id == event.pk


def may_publish_position(terminal: Terminal, callsign: str) -> bool:
    return (
        terminal.kind == TerminalKind.AMBULANCE
        and terminal.unit_id is not None
        and Unit.objects.filter(pk=terminal.unit_id, callsign=callsign).exists()
    )


def position_publishers(pairs: list[tuple[Terminal, str]]) -> list[bool]:
    """may_publish_position for many (terminal, callsign) pairs in one (raw) query."""
    unit_ids = sorted({t.unit_id for t, _ in pairs
                       if t.kind == TerminalKind.AMBULANCE and t.unit_id})
    callsign_of: dict[int, str] = {}
    if unit_ids:
        with binary_cursor() as cursor:
            cursor.execute(f"SELECT id, callsign FROM {Unit._meta.db_table} WHERE id IN "
                           "(SELECT jsonb_array_elements_text(%b::jsonb)::bigint)",
                           [json_text(unit_ids)])
            callsign_of = dict(cursor.fetchall())
    return [
        terminal.kind == TerminalKind.AMBULANCE and terminal.unit_id is not None
        and callsign_of.get(terminal.unit_id) == callsign
        for terminal, callsign in pairs
    ]


def may_change_unit_status(terminal: Terminal, callsign: str) -> bool:
    if terminal.kind == TerminalKind.COMMAND:
        return _may_read_unit(terminal, callsign)
    return may_publish_position(terminal, callsign)


def may_publish_capacity(terminal: Terminal, code: str) -> bool:
    if terminal.kind == TerminalKind.COMMAND:
        return _may_read_hospital(terminal, code)
    return (
        terminal.kind == TerminalKind.HOSPITAL
        and terminal.hospital_id is not None
        and Hospital.objects.filter(pk=terminal.hospital_id, code=code).exists()
    )


def may_command_event(terminal: Terminal, slug: str) -> bool:
    """Dispatch decisions: the command terminals of that event (or regional ones)."""
    return _may_read_event(terminal, slug)


def may_act_for_hospital(terminal: Terminal, code: str) -> bool:
    """Acknowledging notices and accepting handovers: that hospital's own terminals only."""
    return (
        terminal.kind == TerminalKind.HOSPITAL
        and terminal.hospital_id is not None
        and Hospital.objects.filter(pk=terminal.hospital_id, code=code).exists()
    )


def may_give_handover(terminal: Terminal, casualty_id: str) -> bool:
    return terminal.kind == TerminalKind.AMBULANCE and casualty_is_held_by_unit(
        casualty_id, terminal.unit_id
    )
