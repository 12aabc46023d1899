"""Encoding and decoding of the protocol's JSON frames."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from hub.client.errors import FrameTooLarge

Frame = dict[str, Any]

# PROTOCOL.md: a message over 1 MiB of UTF-8 closes the connection with 1009.
MAX_FRAME_BYTES = 1_048_576

# Types that answer one of this client's frames, matched to it by id. A delivered message also
# carries an id (its sender's), so only these types may be taken as replies.
REPLY_TYPES = frozenset({"ack", "error", "welcome", "pong"})

RETRYABLE_ERROR_CODES = frozenset({"rate_limited", "unavailable"})


@dataclass(frozen=True)
class Ack:
    id: str
    topic: str | None
    seq: int | None


def new_id() -> str:
    return str(uuid.uuid4())


def encode(frame: Frame) -> str:
    """JSON text of the frame; raises ValueError for NaN/Infinity (not JSON) and
    FrameTooLarge past the hub's limit."""
    text = json.dumps(frame, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    size = len(text.encode("utf-8"))
    if size > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"frame {frame.get('id')!r} is {size} bytes, over {MAX_FRAME_BYTES}")
    return text


def decode(text: str | bytes) -> Frame | None:
    """The frame, or None for anything that is not a JSON object (the hub never sends one)."""
    try:
        frame = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return frame if isinstance(frame, dict) else None


def ack_from(frame: Frame) -> Ack:
    seq = frame.get("seq")
    return Ack(id=frame["id"], topic=frame.get("topic"), seq=seq if isinstance(seq, int) else None)


def sequenced(frame: Frame) -> tuple[str, int] | None:
    """(topic, seq) of a delivered topic message, None for any other frame."""
    topic, seq = frame.get("topic"), frame.get("seq")
    if frame.get("type") in REPLY_TYPES or not isinstance(topic, str):
        return None
    if not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return topic, seq
