"""TURN credentials follow coturn's shared-secret scheme, so coturn accepts them unaided."""

import base64
import hashlib
import hmac

from django.test import override_settings

from teleconsult.selectors import ice_servers


@override_settings(TELECONSULT_STUN_URLS=["stun:turn.example:3478"],
                   TELECONSULT_TURN_URLS=["turn:turn.example:3478?transport=udp"],
                   TELECONSULT_TURN_SECRET="s3cret", TELECONSULT_TURN_TTL_SECONDS=600)
def test_turn_credentials_are_hmac_of_expiry_and_name() -> None:
    servers = ice_servers(terminal_name="expert-1", now=1_700_000_000)
    stun, turn = servers["iceServers"]
    assert stun == {"urls": ["stun:turn.example:3478"]}
    assert turn["username"] == "1700000600:expert-1"
    expected = base64.b64encode(
        hmac.new(b"s3cret", b"1700000600:expert-1", hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected
    assert servers["ttl"] == 600


@override_settings(TELECONSULT_STUN_URLS=[], TELECONSULT_TURN_URLS=["turn:t.example"],
                   TELECONSULT_TURN_SECRET="")
def test_no_turn_server_is_offered_without_a_secret() -> None:
    assert ice_servers(terminal_name="expert-1")["iceServers"] == []
