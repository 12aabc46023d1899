"""Reads about exercises: which exercise, if any, a terminal is working in."""

from command_center.models import MassEvent
from hub.models import Terminal, TerminalKind
from teleconsult.models import Consult, ConsultParticipant


def terminal_exercise(*, terminal: Terminal) -> MassEvent | None:
    """The exercise event whose data this terminal's screens show, or None for real work.

    A terminal bound to an event (field, command, an ambulance's unit) works in that event; a
    hospital screen in the exercise its hospital copy belongs to; an expert, bound to no event,
    while it sits in an open consult on an exercise's casualty.
    """
    event: MassEvent | None = terminal.event
    if event is None and terminal.unit is not None:
        event = terminal.unit.event
    if event is None and terminal.hospital is not None:
        event = terminal.hospital.exercise_event
    if event is None and terminal.kind == TerminalKind.EXPERT:
        seat = (
            ConsultParticipant.objects.filter(
                terminal=terminal, left_at__isnull=True,
                consult__casualty__event__is_exercise=True,
            ).exclude(consult__status=Consult.Status.ENDED)
            .select_related("consult__casualty__event").first()
        )
        event = seat.consult.casualty.event if seat is not None else None
    return event if event is not None and event.is_exercise else None
