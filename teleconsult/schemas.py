"""Payloads of the teleconsult message types: the consult lifecycle and WebRTC signalling."""

from typing import Annotated

from hub.payloads import CATEGORIES, Payload, boolean, integer, one_of, text, uuid_text

SPECIALTIES = (
    "emergency", "trauma", "burns", "cardiology", "neurology", "pediatrics", "toxicology",
)
URGENCIES = ("immediate", "urgent", "routine")
# Why an offer leaves the experts' queues: one expert took a consult that needs only one (not
# fan-out), it ended after an expert had joined, or its requester ended it before any did.
WITHDRAWAL_REASONS = ("taken", "ended", "cancelled")
# An SDP of a two-track call is a few kilobytes; the bound keeps a frame far below 1 MiB.
MAX_SDP = 100_000
TERMINAL_NAME = text(100)


class ConsultRequest(Payload):
    consult: Annotated[str, uuid_text]
    specialty: Annotated[str, one_of(*SPECIALTIES)]
    urgency: Annotated[str, one_of(*URGENCIES)]
    reason: Annotated[str | None, text(500)] = None
    record: Annotated[bool | None, boolean] = None
    fanout: Annotated[bool | None, boolean] = None


class ConsultJoin(Payload):
    role: Annotated[str | None, one_of("participant", "bridge")] = None


class ConsultEnd(Payload):
    summary: Annotated[str | None, text(2000)] = None


class SessionDescription(Payload):
    sdp: Annotated[str, text(MAX_SDP)]
    to: Annotated[str, TERMINAL_NAME]


class IceCandidate(Payload):
    # An empty candidate is the end-of-candidates marker of RTCPeerConnection.
    candidate: Annotated[str, text(2000, min_length=0)]
    sdpMid: Annotated[str | None, text(64, min_length=0)] = None
    sdpMLineIndex: Annotated[int | None, integer(0, 64)] = None
    to: Annotated[str, TERMINAL_NAME]


class Advice(Payload):
    text: Annotated[str, text(4000)]


# What the hub makes, declared here like what terminals send (hub/protocol.py HUB_MADE_TYPES).

class ConsultOffered(Payload):
    consult: Annotated[str, uuid_text]
    casualty: Annotated[str, uuid_text]
    specialty: Annotated[str, one_of(*SPECIALTIES)]
    urgency: Annotated[str, one_of(*URGENCIES)]
    category: Annotated[str, one_of(*CATEGORIES)]
    requested_by: Annotated[str, TERMINAL_NAME]
    # The casualty belongs to an exercise event (a drill): never to be taken for a real one.
    exercise: Annotated[bool, boolean]
    reason: Annotated[str | None, text(500)] = None
    record: Annotated[bool | None, boolean] = None
    fanout: Annotated[bool | None, boolean] = None


class ConsultWithdrawn(Payload):
    consult: Annotated[str, uuid_text]
    reason: Annotated[str, one_of(*WITHDRAWAL_REASONS)]
    by: Annotated[str, TERMINAL_NAME]
