"""PROTOCOL.md, Connecting and Frames: hello, credentials, envelopes, bad frames."""

import asyncio
import json
import uuid

import pytest
import requests
import websockets

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import RawTerminal, connect_terminal

pytestmark = pytest.mark.asyncio

PASSWORD = "correct horse battery"


async def test_token_hello_is_welcomed_with_the_terminal_and_event(live_hub, roles):
    terminal = await RawTerminal.open(live_hub.ws_url)
    welcome = await terminal.hello(roles.ambulance)
    assert welcome["type"] == "welcome"
    assert welcome["data"]["terminal"] == {"kind": "ambulance", "name": "amb-WZ01",
                                           "unit": "WZ01", "hospital": None}
    assert welcome["data"]["event"] == "wic-test"
    assert welcome["data"]["server_time"].endswith("Z")
    assert len(welcome["data"]["server_time"].split(".")[1]) == 4  # three digits and Z
    await terminal.close()


async def test_bad_token_closes_with_4401(live_hub, roles):
    terminal = await RawTerminal.open(live_hub.ws_url)
    await terminal.send_raw(json.dumps({"type": "hello", "id": "h", "data": {"token": "nope"}}))
    assert await terminal.wait_closed() == 4401


async def test_first_frame_that_is_not_hello_closes_with_4401(live_hub, roles):
    terminal = await RawTerminal.open(live_hub.ws_url)
    await terminal.send_raw(json.dumps({"type": "ping", "id": "p"}))
    assert await terminal.wait_closed() == 4401


async def test_silence_after_opening_closes_with_4401_after_ten_seconds(live_hub, roles):
    terminal = await RawTerminal.open(live_hub.ws_url)
    started = asyncio.get_running_loop().time()
    assert await terminal.wait_closed(timeout=20) == 4401
    assert 9.5 <= asyncio.get_running_loop().time() - started <= 13


async def test_session_hello_without_origin_is_refused(live_hub, roles):
    terminal = await RawTerminal.open(live_hub.ws_url)
    await terminal.send_raw(json.dumps({"type": "hello", "id": "h"}))
    assert await terminal.wait_closed() == 4401


def _user_for_terminal_of(token: str) -> tuple[str, str]:
    """A user bound to the terminal of `token`: its user name, its terminal's name."""
    from django.contrib.auth.models import User

    from hub.models import Terminal
    from hub.services import token_hash

    user = User.objects.create_user(f"user-{uuid.uuid4().hex[:8]}", password=PASSWORD)
    terminal = Terminal.objects.get(token_hash=token_hash(token))
    terminal.user = user
    terminal.save(update_fields=["user"])
    return user.username, terminal.name


def _logged_in_session(hub, username: str) -> str:
    """The session cookie the hub's own login page sets (its SECRET_KEY signs the session)."""
    session = requests.Session()
    session.get(f"{hub.http_url}/login/", timeout=5)
    session.post(f"{hub.http_url}/login/", timeout=5, data={
        "username": username, "password": PASSWORD,
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
    }, headers={"Referer": f"{hub.http_url}/login/"})
    cookie = session.cookies.get("sessionid")
    assert cookie is not None, "the hub's login page did not log the user in"
    return cookie


async def test_a_logged_in_browser_says_hello_with_its_session_and_is_welcomed(live_hub, roles):
    username, name = await in_db(_user_for_terminal_of, roles.command)
    session_key = await asyncio.to_thread(_logged_in_session, live_hub, username)
    terminal = await RawTerminal.open(live_hub.ws_url, origin=live_hub.http_url,
                                      headers={"Cookie": f"sessionid={session_key}"})
    welcome = await terminal.hello(None)
    assert welcome["type"] == "welcome"
    assert welcome["data"]["terminal"]["name"] == name
    # The socket lives on after hello, sends and all, on the session read at connect.
    assert (await terminal.request({"type": "ping", "id": "p"}))["type"] == "pong"
    await terminal.close()


async def test_a_session_cookie_that_names_no_session_closes_with_4401(live_hub, roles):
    terminal = await RawTerminal.open(live_hub.ws_url, origin=live_hub.http_url,
                                      headers={"Cookie": "sessionid=no-such-session"})
    await terminal.send_raw(json.dumps({"type": "hello", "id": "h"}))
    assert await terminal.wait_closed() == 4401


async def test_foreign_origin_is_refused_at_the_handshake(live_hub, roles):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await RawTerminal.open(live_hub.ws_url, origin="https://evil.example")
    assert refused.value.response.status_code == 403


async def test_allowed_origin_with_token_is_welcomed(live_hub, roles):
    terminal = await RawTerminal.open(live_hub.ws_url, origin=live_hub.http_url)
    assert (await terminal.hello(roles.command))["type"] == "welcome"
    await terminal.close()


async def test_second_hello_is_invalid_and_keeps_the_connection(live_hub, roles):
    terminal = await connect_terminal(live_hub.ws_url, roles.field)
    reply = await terminal.request({"type": "hello", "id": "again", "data": {"token": roles.field}})
    assert reply == {"type": "error", "id": "again", "code": "invalid",
                     "message": "type: this connection already said hello"}
    assert (await terminal.request({"type": "ping", "id": "p"}))["type"] == "pong"
    await terminal.close()


@pytest.mark.parametrize(
    ("frame", "reply_id", "code", "names"),
    [
        ("not json", None, "invalid", "frame"),
        ('{"type": "ping", "id": "x", "n": NaN}', None, "invalid", "frame"),
        ("[1, 2]", None, "invalid", "frame"),
        ('{"type": "ping"}', None, "invalid", "id"),
        ('{"type": "ping", "id": ""}', None, "invalid", "id"),
        ('{"type": "ping", "id": 7}', None, "invalid", "id"),
        (json.dumps({"type": "ping", "id": "x" * 65}), None, "invalid", "id"),
        ('{"type": "teleport", "id": "t1", "topic": "event:wic-test"}', "t1", "unknown_type",
         "type"),
        ('{"type": "ack", "id": "t2", "topic": "event:wic-test"}', "t2", "unknown_type", "type"),
        ('{"id": "t3"}', "t3", "invalid", "type"),
        ('{"type": "note", "id": "t4", "data": {"text": "hi"}}', "t4", "invalid", "topic"),
        ('{"type": "note", "id": "t5", "topic": "moon:1", "data": {"text": "hi"}}', "t5",
         "invalid", "topic"),
    ],
)
async def test_bad_frames_get_one_error_naming_the_field(live_hub, roles, frame, reply_id, code,
                                                        names):
    terminal = await connect_terminal(live_hub.ws_url, roles.field)
    reply = await terminal.request(frame, reply_id=reply_id)
    assert reply["type"] == "error" and reply["code"] == code and reply["id"] == reply_id
    assert reply["message"].startswith(names)
    assert (await terminal.request({"type": "ping", "id": "still-open"}))["type"] == "pong"
    await terminal.close()


async def test_binary_frame_is_invalid_with_null_id(live_hub, roles):
    terminal = await connect_terminal(live_hub.ws_url, roles.field)
    reply = await terminal.request(b"\x00\x01", reply_id=None)
    assert reply["code"] == "invalid" and reply["id"] is None
    await terminal.close()


async def test_frame_over_one_mebibyte_closes_with_1009(live_hub, roles):
    terminal = await connect_terminal(live_hub.ws_url, roles.field)
    await terminal.send_raw(json.dumps({"type": "note", "id": "big", "topic": "event:wic-test",
                                        "data": {"text": "x" * (1024 * 1024)}}))
    assert await terminal.wait_closed() == 1009


async def test_frame_of_exactly_one_mebibyte_is_answered_not_refused(live_hub, roles):
    terminal = await connect_terminal(live_hub.ws_url, roles.field)
    head = '{"type": "note", "id": "edge", "topic": "event:wic-test", "data": {"text": "'
    tail = '"}}'
    text = head + "x" * (1024 * 1024 - len(head) - len(tail)) + tail
    assert len(text.encode()) == 1024 * 1024
    reply = await terminal.request(text, reply_id="edge")
    assert reply["code"] in ("invalid", "forbidden")  # answered for its content, not its size
    await terminal.close()


async def test_ping_is_answered_with_pong_and_server_time(live_hub, roles):
    terminal = await connect_terminal(live_hub.ws_url, roles.field)
    reply = await terminal.request({"type": "ping", "id": "p1"})
    assert reply["type"] == "pong" and reply["id"] == "p1"
    assert reply["data"]["server_time"].endswith("Z")
    await terminal.close()


async def test_report_is_acked_after_storage_and_a_repeat_gets_the_same_seq(live_hub, roles):
    from hub.models import JournalEntry

    terminal = await connect_terminal(live_hub.ws_url, roles.field)
    frame_id = str(uuid.uuid4())
    data = casualty_report_data()
    first = await terminal.send("casualty.report", "event:wic-test", data, id=frame_id)
    assert first["type"] == "ack" and first["topic"] == "event:wic-test"
    stored = await in_db(JournalEntry.objects.get, client_id=frame_id)
    assert stored.seq == first["seq"] and stored.data == data
    # Same id, other data: acknowledged again with the original seq, not stored again.
    again = await terminal.send("casualty.report", "event:wic-test",
                                casualty_report_data(), id=frame_id)
    assert again == first
    assert await in_db(JournalEntry.objects.filter(client_id=frame_id).count) == 1
    await terminal.close()
