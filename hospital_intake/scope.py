"""Which hospitals serve which event, as a filter: kept free of other imports because the
permission rules, the dispatch snapshot and the screens all need it."""

from django.db.models import Q


def hospitals_serving_filter(*, event_id: int | None, is_exercise: bool) -> Q:
    """The hospitals an event sends patients to: a real event (or none) the real hospitals,
    an exercise event only its own copies."""
    if is_exercise:
        return Q(exercise_event_id=event_id)
    return Q(exercise_event__isnull=True)
