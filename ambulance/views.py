"""The ambulance onboard app: one page, fed by the unit's and its casualty's topics."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.utils.translation import gettext as _

from ambulance.lifecycles import UNIT_LIFECYCLE
from ambulance.selectors import unit_onboard_state
from hub.selectors import terminal_for_user, topic_heads

# The order in which a crew walks the lifecycle, so the next expected move comes first.
STATUS_ORDER = ("available", "dispatched", "on_scene", "transporting", "at_hospital",
                "returning", "out_of_service")


def _strings() -> dict[str, Any]:
    return {
        "statuses": {
            "available": _("Available"), "dispatched": _("Dispatched"), "on_scene": _("On scene"),
            "transporting": _("Transporting"), "at_hospital": _("At hospital"),
            "returning": _("Returning"), "out_of_service": _("Out of service"),
        },
        "categories": {"red": _("Immediate (red)"), "yellow": _("Delayed (yellow)"),
                       "green": _("Minor (green)"), "black": _("Expectant / dead (black)")},
        "age_groups": {"adult": _("adult"), "child": _("child"), "infant": _("infant")},
        "sexes": {"female": _("female"), "male": _("male"), "unknown": _("sex unknown")},
        "connection": {"open": _("Online"), "connecting": _("Connecting…"),
                       "reconnecting": _("Offline: frames wait on this device"),
                       "closed": _("Disconnected")},
        "no_order": _("No current order."),
        "eta": _("Arrival at hospital {time}"), "pickup_eta": _("Pick-up {time}"),
        "reported_at": _("reported {time}"),
        "status_refused": _("Status not accepted: {error}"),
        "handover_sent": _("Handover sent to the hospital"),
        "handover_saved": _("Handover stored on the hub"),
        "handover_refused": _("Handover refused: {error}"),
        "handover_missing": _("Fill in every ATMIST field."),
        "monitor_running": _("Simulated monitor running (drill)"),
        "gps_error": _("No device position: {error}"),
        "gps_ok": _("Position sent {time} (±{accuracy} m)"),
        "signs_from_monitor": _("HR {hr}/min, SpO2 {spo2}%, BP {sbp}/{dbp} mmHg, RR {rr}/min"),
        "field_vitals": _("on scene {time}: {values}"),
    }


@login_required
def onboard(request: HttpRequest) -> HttpResponse:
    assert request.user.pk is not None  # login_required
    terminal = terminal_for_user(user_id=request.user.pk)
    if terminal is None or terminal.kind != "ambulance" or terminal.unit_id is None:
        return HttpResponseForbidden(_("This page is for ambulance terminals."))
    unit = unit_onboard_state(unit_id=terminal.unit_id)
    # Positions stream at about one a second: the page follows the unit's topic from now on
    # and reads the current order from the API, instead of replaying a shift of positions.
    head = topic_heads(topics=[unit.topic]).get(unit.topic, 0)
    config = {
        "terminal": terminal.name, "unit": unit.callsign, "status": unit.status,
        "unitTopicHead": head,
        "moves": {state: sorted(UNIT_LIFECYCLE.moves[state], key=STATUS_ORDER.index)
                  for state in STATUS_ORDER},
    }
    return render(request, "ambulance/onboard.html", {
        "terminal": terminal, "unit": unit, "config": config, "strings": _strings(),
    })
