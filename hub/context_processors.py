"""Template context every page gets."""

from typing import Any

from django.http import HttpRequest

from command_center.drills.selectors import terminal_exercise
from hub.selectors import terminal_for_user


def exercise(request: HttpRequest) -> dict[str, Any]:
    """`exercise_event`: set on every page of a user whose terminal works in an exercise, so
    base.html marks the screen as a drill (never to be taken for a real operation)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.pk is None:
        return {}
    terminal = terminal_for_user(user_id=user.pk)
    if terminal is None:
        return {}
    return {"exercise_event": terminal_exercise(terminal=terminal)}
