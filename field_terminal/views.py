"""The field medic tablet: the page, its service worker and its web app manifest."""

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from field_terminal.selectors import event_map_layers, vitals_field_ranges
from hub.selectors import terminal_for_user

# What the service worker keeps for offline use; the page's own URL is added to it.
OFFLINE_ASSETS = (
    "hub/css/hub.css", "hub/js/protocol-client.js", "field_terminal/css/field.css",
    "field_terminal/js/field.js", "field_terminal/js/triage.js", "field_terminal/js/map.js",
    "field_terminal/js/upload.js", "field_terminal/icon.svg", "leaflet/dist/leaflet.js",
    "leaflet/dist/leaflet.css",
)


VITAL_LABELS = {
    "hr": gettext_lazy("Heart rate"), "spo2": gettext_lazy("SpO2"),
    "rr": gettext_lazy("Respiratory rate"), "sbp": gettext_lazy("Systolic BP"),
    "dbp": gettext_lazy("Diastolic BP"), "temp": gettext_lazy("Temperature"),
    "gcs": gettext_lazy("GCS"), "etco2": gettext_lazy("EtCO2"),
}
NEED_LABELS = {
    "trauma": gettext_lazy("trauma"), "burns": gettext_lazy("burns"),
    "pediatric": gettext_lazy("pediatric"), "cardiac": gettext_lazy("cardiac"),
    "stroke": gettext_lazy("stroke"),
}


def _questions() -> dict[str, dict[str, str]]:
    def question(text: str, hint: str = "") -> dict[str, str]:
        return {"text": text, "hint": hint}

    return {
        "walks": question(_("Can the casualty walk?"),
                          _("Children who cannot walk yet for their age: answer No.")),
        "breathing": question(_("Breathing?"), _(
            "If not, open the airway (head tilt, chin lift) before the next question.")),
        "breathing_after_airway": question(_("Breathing after opening the airway?"), _(
            "SALT: do the lifesaving interventions first: control major haemorrhage, open "
            "the airway (2 rescue breaths for a child), chest decompression, auto-injector "
            "antidotes.")),
        "rr_over_30": question(_("Respiratory rate over 30 /min?")),
        "poor_perfusion": question(_("Radial pulse absent, or capillary refill over 2 s?")),
        "obeys_commands": question(_("Obeys simple commands?")),
        "pulse_while_apneic": question(_("Palpable peripheral pulse?"), _(
            "If there is a pulse, give 5 rescue breaths before the next question.")),
        "breathing_after_rescue_breaths": question(_("Breathing after 5 rescue breaths?")),
        "child_rr": question(_("Respiratory rate per minute?"),
                             _("Irregular breathing counts as abnormal.")),
        "peripheral_pulse": question(_("Palpable peripheral pulse?")),
        "avpu": question(_("Responsiveness (AVPU)?")),
        "obeys_or_purposeful": question(_("Obeys commands or makes purposeful movements?")),
        "no_respiratory_distress": question(_("Free of respiratory distress?")),
        "hemorrhage_controlled": question(_("Major haemorrhage controlled?")),
        "likely_to_survive": question(_("Likely to survive with the resources at hand?")),
        "minor_injuries_only": question(_("Minor injuries only?")),
    }


def _strings() -> dict[str, Any]:
    return {
        "questions": _questions(),
        "options": {
            "yes": _("Yes"), "no": _("No"), "under_15": _("Under 15"), "15_to_45": _("15 to 45"),
            "over_45": _("Over 45"), "A": _("Alert"), "V": _("Responds to voice"),
            "P_appropriate": _("Pain: localises or withdraws"),
            "P_inappropriate": _("Pain: posturing or noise only"), "U": _("Unresponsive"),
        },
        "reasons": {
            "walking_wounded": _("walking wounded"),
            "breathes_after_airway": _("breathes only after the airway was opened"),
            "apneic_after_airway": _("not breathing after the airway was opened"),
            "rr_over_30": _("respiratory rate over 30"),
            "poor_perfusion": _("no radial pulse or capillary refill over 2 s"),
            "does_not_obey": _("does not obey simple commands"),
            "delayed": _("breathing, perfused and responsive"),
            "apneic_pulseless": _("not breathing, no pulse"),
            "breathes_after_rescue_breaths": _("breathes after rescue breaths"),
            "apneic_after_rescue_breaths": _("not breathing after rescue breaths"),
            "child_rr_abnormal": _("respiratory rate under 15 or over 45"),
            "no_peripheral_pulse": _("no palpable peripheral pulse"),
            "avpu_p_or_u": _("unresponsive or inappropriate response to pain"),
            "salt_dead": _("SALT: dead, not breathing after the airway was opened"),
            "salt_immediate": _("SALT: immediate, likely to survive"),
            "salt_expectant": _("SALT: expectant, unlikely to survive with the resources at hand"),
            "salt_minimal": _("SALT: minimal, minor injuries only"),
            "salt_delayed": _("SALT: delayed"),
            "override": _("category set by the medic"),
        },
        "categories": {"red": _("Immediate (red)"), "yellow": _("Delayed (yellow)"),
                       "green": _("Minor (green)"), "black": _("Expectant / dead (black)")},
        "statuses": {
            "reported": _("reported"), "awaiting_transport": _("awaiting transport"),
            "assigned": _("assigned"), "en_route": _("en route"), "arrived": _("arrived"),
            "handed_over": _("handed over"), "treated_on_scene": _("treated on scene"),
            "deceased": _("deceased"),
        },
        "saved": _("saved on the hub"), "pending": _("waiting to send"),
        "refused": _("refused by the hub"),
        "connection": {"open": _("Online"), "connecting": _("Connecting…"),
                       "reconnecting": _("Offline: frames wait on this tablet"),
                       "closed": _("Disconnected")},
        "location_gps": _("Device position (±{accuracy} m)"),
        "location_map": _("Tapped on the map"), "location_post": _("Medical post: {name}"),
        "location_none": _("No position yet: tap the map or pick a medical post."),
        "kinds": {"casualty.report": _("report"), "triage.update": _("re-triage"),
                  "vitals": _("vitals"), "note": _("note"), "media": _("photo")},
        "unit_hospital": _("Unit {unit} → {hospital}"), "eta": _("ETA {time}"),
        "no_casualties": _("No casualties registered on this tablet yet."),
        "upload_failed": _("Upload failed: {error}"), "uploaded": _("Uploaded"),
        "upload_offline": _("Photos need the network: try again when online."),
        "vitals_range": _("{name}: {min} to {max}"),
        "vitals_empty": _("Enter at least one vital sign."),
        "scan_failed": _("The camera could not be used: {error}"),
        "untagged": _("untagged"),
        "send_report": _("Send report"), "send_update": _("Send re-triage"),
        "choose_category": _("Choose a category"),
    }


@login_required
def tablet(request: HttpRequest) -> HttpResponse:
    assert request.user.pk is not None  # login_required
    terminal = terminal_for_user(user_id=request.user.pk)
    if terminal is None or terminal.kind != "field":
        return HttpResponseForbidden(_("This page is for field medic terminals."))
    vitals = [{**spec, "label": VITAL_LABELS[spec["name"]]} for spec in vitals_field_ranges()]
    config = {
        "terminal": terminal.name,
        "event": terminal.event.slug if terminal.event else None,
        "vitals": vitals,
        "tiles": {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION},
        "serviceWorker": "/field/sw.js",
        **event_map_layers(event_id=terminal.event_id),
    }
    return render(request, "field_terminal/tablet.html", {
        "terminal": terminal, "config": config, "strings": _strings(),
        "vitals": vitals, "needs": NEED_LABELS.items(),
    })


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    # Served from /field/ rather than /static/ so that its default scope is the tablet's
    # path; no-cache makes the browser look for a new version on every start.
    assets = ["/field/", "/field/manifest.webmanifest", *(static(path) for path in OFFLINE_ASSETS)]
    script = render_to_string("field_terminal/sw.js", {"assets": json.dumps(assets)})
    response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        "name": _("Field medic tablet"), "short_name": _("Field"),
        "start_url": "/field/", "scope": "/field/", "display": "standalone",
        "orientation": "any", "background_color": "#101820", "theme_color": "#0d2436",
        "icons": [{"src": static("field_terminal/icon.svg"), "sizes": "any",
                   "type": "image/svg+xml", "purpose": "any"}],
    }, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False})
