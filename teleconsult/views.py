"""The remote expert console: the queue of consult requests, the call, the casualty's live
record beside it, advice into the record."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hub.models import TerminalKind
from hub.selectors import terminal_for_user, topic_heads
from teleconsult.screen_strings import CONSOLE_STRINGS, SPECIALTY_LABELS, strings_for_page
from teleconsult.selectors import expert_queue, expert_seat, expert_specialties


@login_required
def expert_console(request: HttpRequest) -> HttpResponse:
    assert request.user.pk is not None  # login_required
    terminal = terminal_for_user(user_id=request.user.pk)
    if terminal is None or terminal.kind != TerminalKind.EXPERT:
        return render(request, "teleconsult/unavailable.html", status=403)
    # New requests arrive on the terminal's own topic from its head on; the queue so far
    # comes from the consults themselves.
    head = topic_heads(topics=[terminal.topic]).get(terminal.topic, 0)
    state = {
        "terminal": terminal.name, "topic": terminal.topic, "since": head,
        "queue": expert_queue(terminal=terminal),
        # The open consult it sits in, which the page rejoins (its row is in the queue).
        "seat": expert_seat(terminal=terminal),
    }
    return render(request, "teleconsult/console.html", {
        "terminal": terminal, "state": state,
        "specialties": [(code, SPECIALTY_LABELS.get(code, code))
                        for code in expert_specialties(terminal=terminal)],
        "strings": strings_for_page(CONSOLE_STRINGS),
    })
