"""Reads for the ambulance onboard app."""

from ambulance.models import Unit


def unit_onboard_state(*, unit_id: int) -> Unit:
    """The unit as its onboard app starts: callsign and status; the order comes over the socket."""
    return Unit.objects.only("callsign", "status", "level").get(pk=unit_id)
