"""Every word the teleconsult scripts show, translated on the server and handed to the pages
with json_script: the expert console and the consult panel of the field and ambulance pages."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from hub.screen_strings import TRIAGE_CATEGORY_STRINGS
from teleconsult.schemas import SPECIALTIES, URGENCIES

SPECIALTY_LABELS = {
    "emergency": _("emergency medicine"), "trauma": _("trauma surgery"), "burns": _("burns"),
    "cardiology": _("cardiology"), "neurology": _("neurology"),
    "pediatrics": _("pediatrics"), "toxicology": _("toxicology"),
}
URGENCY_LABELS = {
    "immediate": _("immediate"), "urgent": _("urgent"), "routine": _("routine"),
}
assert set(SPECIALTY_LABELS) == set(SPECIALTIES) and set(URGENCY_LABELS) == set(URGENCIES)

# Shared by both screens: the call, its states and what the peer connection does.
_CALL_STRINGS = {
    "status.requested": _("requested, no expert of this specialty is on duty"),
    "status.offered": _("offered to the experts, waiting for one to join"),
    "status.joined": _("an expert has joined"), "status.ended": _("ended"),
    "peer.none": _("No video link yet"), "peer.new": _("Setting up the video link…"),
    "peer.connecting": _("Connecting the video…"), "peer.connected": _("Video connected"),
    "peer.disconnected": _("Video interrupted, retrying…"), "peer.failed": _("Video link failed"),
    "peer.closed": _("Video link closed"),
    "hub.connecting": _("Connecting…"), "hub.open": _("Hub: live"),
    "hub.reconnecting": _("Hub: reconnecting…"), "hub.closed": _("Hub: offline"),
    "media.refused": _("Camera and microphone were refused: allow them in the browser's site "
                       "settings and reload. The consult goes on without your picture and "
                       "voice."),
    "media.missing": _("No camera or microphone was found. The consult goes on without your "
                       "picture and voice."),
    "media.unsupported": _("This browser cannot use a camera here (a secure https connection "
                           "is needed). The consult goes on without your picture and voice."),
    "media.failed": _("The camera or microphone could not be started ({detail}). The consult "
                      "goes on without your picture and voice."),
    "mic.off": _("Mute microphone"), "mic.on": _("Unmute microphone"),
    "camera.off": _("Turn camera off"), "camera.on": _("Turn camera on"),
    "received": _("{kb} kB received · {width}×{height}"),
    "refused": _("Refused ({code}): {message}"),
    "advice.from": _("Advice from {who}"),
    "image": _("shared image"), "ended_by": _("Ended by {who}"),
    "summary": _("Summary: {text}"),
    "recording": _("● Recording into the casualty's record (consented)"),
}

PANEL_STRINGS: dict[str, Any] = {
    **_CALL_STRINGS,
    "no_casualty": _("Open a casualty to ask for an expert."),
    "for_casualty": _("Consult on casualty {casualty}"),
    "requesting": _("Sending the request…"),
    "expert_joined": _("{expert} joined: the video starts by itself."),
}

CONSOLE_STRINGS: dict[str, Any] = {
    **_CALL_STRINGS,
    "queue.none": _("No open requests for your specialties."),
    "age": _("{minutes} min ago"), "age.now": _("just now"),
    "requested_by": _("from {who}"), "join": _("Join"),
    "new_request": _("New {urgency} request: {specialty}"),
    "joining": _("Joining…"),
    **TRIAGE_CATEGORY_STRINGS,
    "vitals.none": _("No vitals yet"), "vitals.hr": _("HR"), "vitals.spo2": _("SpO₂"),
    "vitals.rr": _("RR"), "vitals.sbp": _("SBP"), "vitals.dbp": _("DBP"),
    "vitals.temp": _("Temp"), "vitals.gcs": _("GCS"), "vitals.etco2": _("EtCO₂"),
    "triage": _("Triage: {category}"),
    "ended.back": _("The consult has ended. Pick the next request from the queue."),
    "rejoining": _("Rejoining the consult you were in…"),
    "withdrawn.taken": _("{who} took the {specialty} request."),
    "withdrawn.ended": _("The {specialty} consult was ended by {who}."),
    "withdrawn.cancelled": _("The {specialty} request was cancelled by {who}."),
    "exercise": _("EXERCISE"),
    "exercise.call": _("EXERCISE: a drill casualty, not a real patient"),
    "image.uploading": _("Uploading the image…"),
    "image.shared": _("Image shared with the crew and added to the record."),
    "image.failed": _("Upload failed: {error}"),
    "image.offline": _("The image could not be uploaded: no network. Try again when online."),
}


def strings_for_page(strings: dict[str, Any]) -> dict[str, Any]:
    """Resolve the lazy translations in the request's language, labels included."""
    resolved: dict[str, Any] = {key: str(value) for key, value in strings.items()}
    resolved["specialties"] = {key: str(value) for key, value in SPECIALTY_LABELS.items()}
    resolved["urgencies"] = {key: str(value) for key, value in URGENCY_LABELS.items()}
    return resolved
