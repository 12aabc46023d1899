"""The command console page: server-rendered shell, the event's picture, live from then on."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from command_center.screen_selectors import console_event, console_state
from hub.screen_strings import TRIAGE_CATEGORY_STRINGS
from hub.selectors import terminal_for_user

# The page's script builds its rows from data; every word it shows comes from here.
CONSOLE_STRINGS = {
    **TRIAGE_CATEGORY_STRINGS,
    "short.red": _("R"), "short.yellow": _("Y"), "short.green": _("G"), "short.black": _("B"),
    "status.reported": _("reported"), "status.awaiting_transport": _("awaiting transport"),
    "status.assigned": _("assigned"), "status.en_route": _("en route"),
    "status.arrived": _("arrived"), "status.handed_over": _("handed over"),
    "status.treated_on_scene": _("treated on scene"), "status.deceased": _("deceased"),
    "unit.available": _("available"), "unit.dispatched": _("dispatched"),
    "unit.on_scene": _("on scene"), "unit.transporting": _("transporting"),
    "unit.at_hospital": _("at hospital"), "unit.returning": _("returning"),
    "unit.out_of_service": _("out of service"),
    "notice.sent": _("notice sent"), "notice.received": _("notice received"),
    "notice.acknowledged": _("acknowledged"), "notice.arrived": _("arrived"),
    "notice.handed_over": _("handed over"),
    "connection.connecting": _("Connecting…"), "connection.open": _("Live"),
    "connection.reconnecting": _("Reconnecting…"), "connection.closed": _("Offline"),
    "alert.red_waiting": _("Red casualty {tag} untransported for {minutes} min"),
    "alert.hospital_full": _("{hospital}: {beds} free {category} bed(s)"),
    "alert.hospital_diversion": _("{hospital} is on diversion"),
    "alert.unit_stale": _("{unit} ({status}): no position for {minutes} min"),
    "alert.unit_no_position": _("{unit} ({status}): no position reported"),
    "alert.console_offline": _("This console is offline since {time}: the picture is not live"),
    "alerts.none": _("No alerts"),
    "minutes": _("{minutes} min"), "never": _("never"), "diversion": _("DIVERSION"),
    "accept": _("Accept"), "accept_all": _("Accept all"), "override": _("Override"),
    "send_override": _("Send override"), "cancel": _("Cancel"), "release": _("Release"),
    "accepted": _("accepted"), "unassigned": _("Not assigned: {list}"),
    "refused": _("Refused ({code}): {message}"), "done": _("Sent: {what}"),
    "recommendation.summary": _(
        "Recommendation #{id} at {time}: {objective} expected survivors "
        "(without optimizer {baseline}), solved in {ms} ms"),
    "recommendation.none": _("No recommendation yet"),
    "pickup": _("pickup {time}"), "arrival": _("arrival {time}"),
    "survival": _("survival {percent}%"), "unit": _("Unit"), "hospital": _("Hospital"),
    "beds": _("beds"),
    "drawer.reported": _("reported by {by}: {category} ({method})"),
    "drawer.triage": _("{category} by {by} ({method})"),
    "vitals.hr": _("HR"), "vitals.spo2": _("SpO₂"), "vitals.rr": _("RR"),
    "vitals.sbp": _("SBP"), "vitals.dbp": _("DBP"), "vitals.temp": _("Temp"),
    "vitals.gcs": _("GCS"), "vitals.etco2": _("EtCO₂"),
    "type.casualty.report": _("reported"), "type.triage.update": _("re-triaged"),
    "type.vitals": _("vitals"), "type.waveform": _("waveform"), "type.note": _("note"),
    "type.media": _("photo or clip"), "type.handover": _("handover"),
    "type.transport.assigned": _("transport assigned"),
}


@login_required
def console(request: HttpRequest) -> HttpResponse:
    assert request.user.pk is not None  # login_required
    terminal = terminal_for_user(user_id=request.user.pk)
    if terminal is None or terminal.kind != "command":
        return render(request, "command_center/unavailable.html", {
            "message": _("This account's terminal is not a command console."),
        }, status=403)
    event = console_event(terminal=terminal)
    if event is None:
        return render(request, "command_center/unavailable.html", {
            "message": _("There is no active event to command."),
        }, status=404)
    return render(request, "command_center/console.html", {
        "event": event,
        "state": console_state(terminal=terminal, event=event),
        "strings": {key: str(value) for key, value in CONSOLE_STRINGS.items()},
        "tiles": {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION},
    })
