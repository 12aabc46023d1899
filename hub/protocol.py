"""The message types terminals may send, each declared once: payload, topic, senders, service.

The consumer validates with these declarations, docs/protocol.md is generated from them
(`manage.py protocol_reference`), and a test keeps the two equal.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ambulance.schemas import Position, UnitStatus
from ambulance.services import (
    PositionFrame,
    unit_position_record,
    unit_position_record_many,
    unit_status_change,
    units_lock,
)
from command_center.schemas import DispatchAccept, DispatchOverride, DispatchRelease
from command_center.services import dispatch_override, dispatch_release, recommendation_accept
from field_terminal.schemas import CasualtyReport, TriageUpdate, Vitals, Waveform
from field_terminal.services import (
    RecordFrame,
    casualty_record_store,
    casualty_records_store_many,
    casualty_report,
    casualty_triage_update,
)
from hospital_intake.schemas import Capacity, HandoverAccept, HandoverGive, PrearrivalAck
from hospital_intake.services import (
    handover_accept,
    handover_give,
    hospital_capacity_update,
    prearrival_ack,
)
from hub import permissions
from hub.errors import Invalid
from hub.journal import StoredMessage
from hub.models import Terminal
from hub.payloads import Payload
from hub.schemas import Media, Note
from hub.services import media_share, note_post
from hub.topics import TopicRef, parse_topic
from teleconsult.schemas import (
    Advice,
    ConsultEnd,
    ConsultJoin,
    ConsultOffered,
    ConsultRequest,
    ConsultWithdrawn,
    IceCandidate,
    SessionDescription,
)
from teleconsult.selectors import consult_is_participant, consult_may_advise, consult_may_join
from teleconsult.services import (
    consult_advise,
    consult_end,
    consult_join,
    consult_request,
    consult_signal,
)

MAX_ID_LENGTH = 64
CONTROL_TYPES = ("hello", "ping", "subscribe", "unsubscribe")
HUB_ONLY_TYPES = (
    "welcome", "pong", "ack", "error", "subscription.ended", "casualty.status",
    "triage.changed", "unit.changed", "order.assigned", "transport.assigned",
    "transport.cancelled", "transport.eta", "dispatch.recommendation", "prearrival.notice",
    "prearrival.state", "consult.offered", "consult.withdrawn", "consult.state", "consult.note",
    "consult.media", "consult.ended",
)


@dataclass(frozen=True)
class Submission:
    terminal: Terminal
    topic: TopicRef
    client_id: str
    payload: Any


PayloadClass = type[Payload]


@dataclass(frozen=True)
class MessageType:
    type: str
    payload: PayloadClass
    topic_kinds: tuple[str, ...]
    senders: str
    summary: str
    may_send: Callable[[Terminal, TopicRef], bool]
    store: Callable[[Submission], StoredMessage]
    # Stored together with other frames in one transaction (hub/group_commit.py): for the
    # busy types, whose services lock little beyond their own topic's row.
    group_commit: bool = False
    # The service that stores many such frames at once (a statement per table); without
    # one, a group-commit transaction calls `store` for each frame.
    store_many: Callable[[list[Submission]], list[StoredMessage]] | None = None
    # may_send for many frames at once, in a query or two instead of one a frame.
    may_send_many: Callable[[list[Submission]], list[bool]] | None = None
    # Row locks store_many takes, taken first for a group-commit batch: rows come before
    # topics in the hub's lock order (docs/architecture.md), and a batch locks its topics
    # before it stores anything.
    lock_rows_many: Callable[[list[Submission]], None] | None = None


@dataclass(frozen=True)
class HubMadeType:
    """A message only the hub makes, with its payload declared like those terminals send:
    the service builds its data through the payload, and docs/protocol.md lists its fields."""

    type: str
    payload: PayloadClass
    topic_kinds: tuple[str, ...]
    summary: str


HUB_MADE_TYPES: dict[str, HubMadeType] = {
    entry.type: entry
    for entry in [
        HubMadeType(
            "consult.offered", ConsultOffered, ("terminal",),
            "A consult offered to an expert of its specialty, on the expert's own topic (and "
            "to the media bridge, with `record` and `fanout`, when either is true). "
            "`exercise` is true when the casualty belongs to an exercise event (a drill).",
        ),
        HubMadeType(
            "consult.withdrawn", ConsultWithdrawn, ("terminal",),
            "The offer leaves the queue of every expert it was offered to (and of the "
            "specialty's experts now): `taken` when an expert joined a consult that is not "
            "fan-out (`by` that expert; only it may then join), `ended` when it ended after "
            "an expert had joined, `cancelled` when it ended before any did (`by` who ended "
            "it). Sent after the commit of the join or end.",
        ),
    ]
}


def _record_frames(submissions: list[Submission]) -> list[RecordFrame]:
    return [RecordFrame(terminal=s.terminal, casualty_id=s.topic.key, client_id=s.client_id,
                        payload=s.payload) for s in submissions]


def _store_casualty_record(submission: Submission) -> StoredMessage:
    return casualty_record_store(terminal=submission.terminal, casualty_id=submission.topic.key,
                                 client_id=submission.client_id, payload=submission.payload)


def _store_casualty_records(submissions: list[Submission]) -> list[StoredMessage]:
    # One function for vitals and waveforms: a batch stores frames that share a store_many
    # in one call, so a batch of both shares the journal's statements.
    return casualty_records_store_many(frames=_record_frames(submissions))


def _may_write_records(submissions: list[Submission]) -> list[bool]:
    return permissions.casualty_record_writers([(s.terminal, s.topic.key) for s in submissions])


def _position_frames(submissions: list[Submission]) -> list[PositionFrame]:
    return [PositionFrame(terminal=s.terminal, callsign=s.topic.key, client_id=s.client_id,
                          payload=s.payload) for s in submissions]


def _lock_units_of_positions(submissions: list[Submission]) -> None:
    units_lock(callsigns={s.topic.key for s in submissions})


def _may_publish_positions(submissions: list[Submission]) -> list[bool]:
    return permissions.position_publishers([(s.terminal, s.topic.key) for s in submissions])


def _reader(terminal: Terminal, topic: TopicRef) -> bool:
    return permissions.may_read(terminal, topic)


MESSAGE_TYPES: dict[str, MessageType] = {
    entry.type: entry
    for entry in [
        MessageType(
            "casualty.report", CasualtyReport, ("event",),
            "field, ambulance, command of the topic's event",
            "Report a new casualty; creates the record and its topic.",
            lambda t, topic: permissions.may_report_in_event(t, topic.key),
            lambda s: casualty_report(
                terminal=s.terminal, event_slug=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "triage.update", TriageUpdate, ("casualty",),
            "the reporting field terminal, the assigned unit, command",
            "Re-triage: new category and method; the casualty queue follows.",
            lambda t, topic: permissions.may_triage(t, topic.key),
            lambda s: casualty_triage_update(
                terminal=s.terminal, casualty_id=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "vitals", Vitals, ("casualty",),
            "the reporting field terminal, the assigned unit",
            "One set of vital signs with the time of measurement.",
            lambda t, topic: permissions.may_write_casualty_record(t, topic.key),
            _store_casualty_record,
            group_commit=True,
            store_many=_store_casualty_records,
            may_send_many=_may_write_records,
        ),
        MessageType(
            "waveform", Waveform, ("casualty",),
            "the reporting field terminal, the assigned unit",
            "A segment of a sampled signal (ECG, pleth, resp, CO2).",
            lambda t, topic: permissions.may_write_casualty_record(t, topic.key),
            _store_casualty_record,
            group_commit=True,
            store_many=_store_casualty_records,
            may_send_many=_may_write_records,
        ),
        MessageType(
            "note", Note, ("event", "casualty", "unit", "hospital", "consult", "terminal"),
            "any terminal that may read the topic",
            "Free text; on a casualty it joins the record.",
            _reader,
            lambda s: note_post(
                terminal=s.terminal, topic=s.topic, client_id=s.client_id, payload=s.payload
            ),
        ),
        MessageType(
            "media", Media, ("casualty", "consult"),
            "any terminal that may read the topic (and uploaded the file)",
            "Refers to a file uploaded with POST /api/v1/media/.",
            _reader,
            lambda s: media_share(
                terminal=s.terminal, topic=s.topic, client_id=s.client_id, payload=s.payload
            ),
        ),
        MessageType(
            "position", Position, ("unit",),
            "that unit's terminals",
            "A position fix; moves the unit and joins its history.",
            lambda t, topic: permissions.may_publish_position(t, topic.key),
            lambda s: unit_position_record(
                terminal=s.terminal, callsign=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
            group_commit=True,
            store_many=lambda submissions: unit_position_record_many(
                frames=_position_frames(submissions)),
            may_send_many=_may_publish_positions,
            lock_rows_many=_lock_units_of_positions,
        ),
        MessageType(
            "unit.status", UnitStatus, ("unit",),
            "that unit's terminals, command",
            "A move along the unit lifecycle; illegal moves are `conflict`.",
            lambda t, topic: permissions.may_change_unit_status(t, topic.key),
            lambda s: unit_status_change(
                terminal=s.terminal, callsign=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "capacity", Capacity, ("hospital",),
            "that hospital's terminals, command",
            "Free beds by triage category and diversion.",
            lambda t, topic: permissions.may_publish_capacity(t, topic.key),
            lambda s: hospital_capacity_update(
                terminal=s.terminal, code=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "dispatch.accept", DispatchAccept, ("event",),
            "command of the topic's event",
            "Accept a recommendation: all of it that can be carried out now (each free unit's "
            "next trip), or the listed casualties; all or none. Creates the transports, the "
            "orders and the pre-arrival notices.",
            lambda t, topic: permissions.may_command_event(t, topic.key),
            lambda s: recommendation_accept(
                terminal=s.terminal, event_slug=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "dispatch.override", DispatchOverride, ("event",),
            "command of the topic's event",
            "Send this casualty in this unit to this hospital instead (re-assigning it if its "
            "unit is not yet on scene). `conflict` says why not: no free bed of its category, a "
            "missing capability, an ALS need, the unit's state, diversion.",
            lambda t, topic: permissions.may_command_event(t, topic.key),
            lambda s: dispatch_override(
                terminal=s.terminal, event_slug=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "dispatch.release", DispatchRelease, ("event",),
            "command of the topic's event",
            "Cancel an accepted transport whose unit is not yet on scene; the casualty returns "
            "to the queue and the next recommendation may plan it anew.",
            lambda t, topic: permissions.may_command_event(t, topic.key),
            lambda s: dispatch_release(
                terminal=s.terminal, event_slug=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "prearrival.ack", PrearrivalAck, ("hospital",),
            "that hospital's terminals",
            "The screen showed the notice (`received`) or staff acknowledged it; a state "
            "already reached is acknowledged without change.",
            lambda t, topic: permissions.may_act_for_hospital(t, topic.key),
            lambda s: prearrival_ack(
                terminal=s.terminal, code=s.topic.key, client_id=s.client_id, payload=s.payload
            ),
        ),
        MessageType(
            "handover", HandoverGive, ("casualty",),
            "the unit carrying the casualty",
            "The crew's ATMIST handover, stored with the record.",
            lambda t, topic: permissions.may_give_handover(t, topic.key),
            lambda s: handover_give(
                terminal=s.terminal, casualty_id=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "handover.accept", HandoverAccept, ("hospital",),
            "that hospital's terminals",
            "The hospital has taken the patient (after the unit reported `at_hospital`): "
            "transport, casualty and notice become `handed_over`.",
            lambda t, topic: permissions.may_act_for_hospital(t, topic.key),
            lambda s: handover_accept(
                terminal=s.terminal, code=s.topic.key, client_id=s.client_id, payload=s.payload
            ),
        ),
        MessageType(
            "consult.request", ConsultRequest, ("casualty",),
            "the reporting field terminal, the assigned unit",
            "Ask for a remote expert: creates the consult (its uuid made by the client, twice "
            "is `conflict`) with the requester as first participant; the hub offers it with "
            "`consult.offered` on `terminal:<name>` of every expert of the specialty (and of "
            "the media bridge when `record` or `fanout` is true).",
            lambda t, topic: permissions.may_write_casualty_record(t, topic.key),
            lambda s: consult_request(
                terminal=s.terminal, casualty_id=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "consult.join", ConsultJoin, ("consult",),
            "experts of its specialty, the casualty's crew, command; `role: bridge` only the "
            "media bridge",
            "Take a seat in an open consult; from then the terminal reads the consult (and, "
            "for an expert, the casualty). The hub follows with `consult.state`.",
            lambda t, topic: consult_may_join(terminal=t, consult_id=topic.key),
            lambda s: consult_join(
                terminal=s.terminal, consult_id=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        MessageType(
            "consult.end", ConsultEnd, ("consult",),
            "its participants, command",
            "End the consult for everyone; an optional summary joins the casualty's notes.",
            lambda t, topic: consult_is_participant(consult_id=topic.key, terminal=t)
            or (t.kind == "command" and permissions.may_read(t, topic)),
            lambda s: consult_end(
                terminal=s.terminal, consult_id=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
        *[
            MessageType(
                kind, payload_class, ("consult",),
                "its participants, to another participant (`to`)",
                summary,
                lambda t, topic: consult_is_participant(consult_id=topic.key, terminal=t),
                lambda s, kind=kind: consult_signal(  # type: ignore[misc]
                    terminal=s.terminal, consult_id=s.topic.key, client_id=s.client_id,
                    type=kind, data=s.payload.wire(),
                ),
            )
            for kind, payload_class, summary in (
                ("rtc.offer", SessionDescription, "WebRTC SDP offer to the participant `to`."),
                ("rtc.answer", SessionDescription, "WebRTC SDP answer to the participant `to`."),
                ("rtc.ice", IceCandidate,
                 "A trickled ICE candidate for the participant `to`; an empty `candidate` "
                 "ends the candidates."),
            )
        ],
        MessageType(
            "advice", Advice, ("consult",),
            "an expert participant",
            "The expert's advice; it also joins the casualty's notes (hub-made "
            "`consult.note` on the casualty topic).",
            lambda t, topic: consult_may_advise(terminal=t, consult_id=topic.key),
            lambda s: consult_advise(
                terminal=s.terminal, consult_id=s.topic.key, client_id=s.client_id,
                payload=s.payload,
            ),
        ),
    ]
}


@dataclass(frozen=True)
class Frame:
    type: str
    id: str
    raw: dict[str, Any]


class FrameError(Exception):
    """A frame that cannot be processed; `frame_id` is its id when that id was valid."""

    def __init__(self, code: str, message: str, frame_id: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _valid_id(value: object) -> str | None:
    if isinstance(value, str) and 1 <= len(value) <= MAX_ID_LENGTH:
        return value
    return None


def parse_frame(text: str) -> Frame:
    """The envelope: a JSON object with a known `type` and a valid `id`."""
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise FrameError("invalid", f"frame: not JSON ({exc})", None) from None
    if not isinstance(raw, dict):
        raise FrameError("invalid", "frame: must be a JSON object", None)
    frame_id = _valid_id(raw.get("id"))
    if "id" not in raw:
        raise FrameError("invalid", "id: is required", None)
    if frame_id is None:
        raise FrameError("invalid", f"id: must be a string of 1..{MAX_ID_LENGTH} characters",
                         None)
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise FrameError("invalid", "type: is required and must be a string", frame_id)
    if kind not in MESSAGE_TYPES and kind not in CONTROL_TYPES:
        raise FrameError("unknown_type", f"type: the hub does not accept '{kind[:64]}'", frame_id)
    return Frame(type=kind, id=frame_id, raw=raw)


def _null_path(value: Any, path: str) -> str | None:
    if value is None:
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _null_path(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _null_path(item, f"{path}.{index}")
            if found:
                return found
    return None


def describe_validation_error(error: ValidationError, prefix: str = "data") -> str:
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in (prefix, *first["loc"]))
    if first["type"] == "missing":
        return f"{location}: is required"
    if first["type"] == "extra_forbidden":
        return f"{location}: is not a field of this message"
    if first["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"{location}: must be an object"
    return f"{location}: {first['msg']}"


def validate_payload(message_type: MessageType, raw: dict[str, Any]) -> Payload:
    data = raw.get("data", {})
    null_at = _null_path(data, "data")
    if null_at is not None:
        raise Invalid(f"{null_at}: null is not a value")
    if not isinstance(data, dict):
        raise Invalid("data: must be an object")
    try:
        return message_type.payload.model_validate(data)
    except ValidationError as exc:
        raise Invalid(describe_validation_error(exc)) from None


def frame_topic(raw: dict[str, Any]) -> TopicRef:
    if "topic" not in raw:
        raise Invalid("topic: is required")
    return parse_topic(raw["topic"])


def topic_allowed_for(message_type: MessageType, topic: TopicRef) -> None:
    if topic.kind not in message_type.topic_kinds:
        allowed = ", ".join(f"{kind}:" for kind in message_type.topic_kinds)
        raise Invalid(f"topic: {message_type.type} goes to {allowed} topics")
