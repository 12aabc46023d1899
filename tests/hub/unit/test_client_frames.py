import json

import pytest

from hub.client import MAX_FRAME_BYTES, FrameTooLarge
from hub.client.frames import ack_from, decode, encode, sequenced


def note_of_bytes(total_bytes: int, character: str) -> dict[str, object]:
    """A note frame whose encoding is exactly `total_bytes` of UTF-8."""
    empty = encode({"type": "note", "id": "n", "topic": "t", "data": {"text": ""}})
    per_character = len(character.encode())
    room = total_bytes - len(empty.encode())
    assert room % per_character == 0
    return {
        "type": "note",
        "id": "n",
        "topic": "t",
        "data": {"text": character * (room // per_character)},
    }


def test_a_frame_of_exactly_one_mebibyte_is_sent() -> None:
    frame = note_of_bytes(MAX_FRAME_BYTES, "a")
    assert len(encode(frame).encode()) == MAX_FRAME_BYTES


def test_a_frame_over_one_mebibyte_of_utf8_is_refused_before_sending() -> None:
    with pytest.raises(FrameTooLarge):
        encode(note_of_bytes(MAX_FRAME_BYTES + 1, "a"))


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    # 2-byte characters: under the limit in characters, over it in bytes.
    frame = note_of_bytes(MAX_FRAME_BYTES + 1, "é")
    assert len(encode_unchecked(frame)) < MAX_FRAME_BYTES
    with pytest.raises(FrameTooLarge):
        encode(frame)


def encode_unchecked(frame: dict[str, object]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_numbers_that_are_not_json_are_refused(value: float) -> None:
    with pytest.raises(ValueError):
        encode({"type": "vitals", "id": "v", "topic": "t", "data": {"hr": value}})


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"hello"', b"\xff\xfe"])
def test_anything_but_a_json_object_decodes_to_none(text: str | bytes) -> None:
    assert decode(text) is None


def test_a_delivered_message_is_sequenced_by_topic_and_seq() -> None:
    message = {"type": "vitals", "topic": "casualty:c1", "seq": 7, "id": "x", "data": {}}
    assert sequenced(message) == ("casualty:c1", 7)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "ack", "id": "x", "topic": "casualty:c1", "seq": 7},
        {"type": "subscription.ended", "topic": "casualty:c1"},
        {"type": "vitals", "topic": "casualty:c1", "seq": True},
        {"type": "vitals", "topic": "casualty:c1", "seq": "7"},
    ],
)
def test_replies_and_frames_without_an_integer_seq_are_not_sequenced(
    frame: dict[str, object],
) -> None:
    assert sequenced(frame) is None


def test_an_ack_without_seq_reads_as_none() -> None:
    ack = ack_from({"type": "ack", "id": "u1", "topic": "casualty:c1"})
    assert (ack.id, ack.topic, ack.seq) == ("u1", "casualty:c1", None)
