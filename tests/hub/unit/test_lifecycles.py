"""Every legal and every illegal move of each lifecycle, through the services' own check."""

import itertools

import pytest

from ambulance.lifecycles import TRANSPORT_LIFECYCLE, UNIT_LIFECYCLE
from command_center.lifecycles import EVENT_LIFECYCLE
from field_terminal.lifecycles import CASUALTY_LIFECYCLE
from hub.lifecycle import IllegalTransition

UNIT_LEGAL = {
    ("available", "dispatched"), ("dispatched", "on_scene"), ("on_scene", "transporting"),
    ("transporting", "at_hospital"), ("at_hospital", "returning"), ("at_hospital", "available"),
    ("dispatched", "available"), ("returning", "available"), ("returning", "dispatched"),
    ("out_of_service", "available"),
    *{(state, "out_of_service") for state in ("available", "dispatched", "on_scene",
                                             "transporting", "at_hospital", "returning")},
}
CASUALTY_LEGAL = {
    ("reported", "awaiting_transport"), ("reported", "treated_on_scene"),
    ("reported", "deceased"), ("awaiting_transport", "assigned"),
    ("awaiting_transport", "reported"), ("awaiting_transport", "treated_on_scene"),
    ("awaiting_transport", "deceased"), ("assigned", "awaiting_transport"),
    ("assigned", "en_route"), ("assigned", "deceased"), ("en_route", "arrived"),
    ("en_route", "deceased"), ("arrived", "handed_over"), ("arrived", "deceased"),
    ("treated_on_scene", "awaiting_transport"), ("treated_on_scene", "deceased"),
}
TRANSPORT_LEGAL = {
    ("assigned", "on_scene"), ("assigned", "cancelled"), ("on_scene", "departed"),
    ("on_scene", "cancelled"), ("departed", "arrived"), ("arrived", "handed_over"),
}
EVENT_LEGAL = {("planned", "active"), ("planned", "closed"), ("active", "closed")}

CASES = [
    (lifecycle, legal, current, requested)
    for lifecycle, legal in [(UNIT_LIFECYCLE, UNIT_LEGAL), (CASUALTY_LIFECYCLE, CASUALTY_LEGAL),
                             (TRANSPORT_LIFECYCLE, TRANSPORT_LEGAL), (EVENT_LIFECYCLE, EVENT_LEGAL)]
    for current, requested in itertools.product(sorted(lifecycle.states), repeat=2)
]


@pytest.mark.parametrize(("lifecycle", "legal", "current", "requested"), CASES,
                         ids=[f"{c[0].name}:{c[2]}->{c[3]}" for c in CASES])
def test_lifecycle_allows_exactly_the_documented_moves(lifecycle, legal, current, requested):
    if (current, requested) in legal:
        lifecycle.check(current, requested)
    else:
        with pytest.raises(IllegalTransition) as refused:
            lifecycle.check(current, requested)
        assert f"'{current}'" in str(refused.value) and f"'{requested}'" in str(refused.value)


def test_unit_states_are_exactly_the_protocol_statuses():
    from ambulance.schemas import UNIT_STATUSES

    assert UNIT_LIFECYCLE.states == frozenset(UNIT_STATUSES)


def test_unknown_state_is_a_value_error_not_a_transition():
    with pytest.raises(ValueError, match="unknown state 'flying'"):
        UNIT_LIFECYCLE.check("available", "flying")
