"""The hospital receiving screen: inbound patients, pre-arrival notices, capacity."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from hospital_intake.selectors import receiving_screen_state
from hub.screen_strings import TRIAGE_CATEGORY_STRINGS
from hub.selectors import terminal_for_user

# The page's script builds its cards from data; every word it shows comes from here.
SCREEN_STRINGS = {
    **TRIAGE_CATEGORY_STRINGS,
    "age.adult": _("adult"), "age.child": _("child"), "age.infant": _("infant"),
    "need.trauma": _("trauma"), "need.burns": _("burns"), "need.pediatric": _("pediatric"),
    "need.cardiac": _("cardiac"), "need.stroke": _("stroke"),
    "notice.sent": _("sent"), "notice.received": _("received"),
    "notice.acknowledged": _("acknowledged"), "notice.arrived": _("arrived"),
    "notice.handed_over": _("handed over"),
    "connection.connecting": _("Connecting…"), "connection.open": _("Live"),
    "connection.reconnecting": _("Reconnecting…"), "connection.closed": _("Offline"),
    "eta.in": _("ETA {time} · in {countdown}"),
    "eta.overdue": _("ETA {time} · due {countdown} ago"),
    "eta.none": _("no ETA yet"), "arrived_at": _("arrived {time}"),
    "acknowledge": _("Acknowledge"),
    "accept_handover": _("Accept handover"), "unit": _("Unit {unit}"),
    "inbound.none": _("No inbound patients"),
    "published": _("Published at {time}"), "refused": _("Refused ({code}): {message}"),
    "atmist.age": _("Age"), "atmist.time": _("Time of incident"),
    "atmist.mechanism": _("Mechanism"), "atmist.injuries": _("Injuries"),
    "atmist.signs": _("Signs"), "atmist.treatment": _("Treatment"),
    "atmist.none": _("No handover summary yet"), "vitals.none": _("No vitals yet"),
    "vitals.hr": _("HR"), "vitals.spo2": _("SpO₂"), "vitals.rr": _("RR"),
    "vitals.sbp": _("SBP"), "vitals.dbp": _("DBP"), "vitals.temp": _("Temp"),
    "vitals.gcs": _("GCS"), "vitals.etco2": _("EtCO₂"),
    "new_notice": _("New pre-arrival notice: {category} patient, {unit}"),
    "ecg": _("ECG"), "photo": _("photo"),
}


@login_required
def receiving_screen(request: HttpRequest) -> HttpResponse:
    assert request.user.pk is not None  # login_required
    terminal = terminal_for_user(user_id=request.user.pk)
    if terminal is None or terminal.kind != "hospital" or terminal.hospital is None:
        return render(request, "hospital_intake/unavailable.html", status=403)
    return render(request, "hospital_intake/receiving.html", {
        "hospital": terminal.hospital,
        "state": receiving_screen_state(hospital=terminal.hospital),
        "strings": {key: str(value) for key, value in SCREEN_STRINGS.items()},
    })
