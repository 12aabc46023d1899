"""`manage.py terminal_token`: prints the token alone, rotates, revokes, stores only a hash."""

import io

import pytest
from django.core.management import CommandError, call_command

from hub.models import AuditEntry, Terminal
from hub.selectors import terminal_for_token


def _token(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("terminal_token", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_token_is_printed_alone_and_stored_hashed(roles):
    printed = _token("field", "medic-9", "--event", "wic-test")
    assert printed.endswith("\n") and printed.count("\n") == 1
    token = printed.strip()
    assert len(token) >= 40 and " " not in token
    terminal = Terminal.objects.get(name="medic-9")
    assert terminal.token_hash is not None and token not in terminal.token_hash
    assert terminal_for_token(token=token) == terminal


def test_running_it_again_rotates_the_token(roles):
    first = _token("hospital", "screen-9", "--hospital", "TX1").strip()
    second = _token("hospital", "screen-9").strip()
    assert first != second
    assert terminal_for_token(token=first) is None
    rotated = terminal_for_token(token=second)
    assert rotated is not None and rotated.hospital is not None
    assert rotated.hospital.code == "TX1"
    assert AuditEntry.objects.filter(target="terminal:screen-9", action="token.rotate").exists()


def test_revoke_makes_the_token_useless(roles):
    token = _token("ambulance", "amb-9", "--unit", "WZ02").strip()
    assert _token("ambulance", "amb-9", "--revoke") == ""
    assert terminal_for_token(token=token) is None
    assert Terminal.objects.get(name="amb-9").revoked_at is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [(("ambulance", "amb-x"), "--unit"), (("hospital", "h-x"), "--hospital"),
     (("field", "f-x", "--event", "nope"), "--event"), (("field", "medic-1"), None)],
)
def test_bad_arguments_name_the_option(roles, args, message):
    if message is None:
        with pytest.raises(CommandError, match=r"KIND|is a field"):
            call_command("terminal_token", "command", "medic-1", stdout=io.StringIO())
        return
    with pytest.raises(CommandError, match=message):
        call_command("terminal_token", *args, stdout=io.StringIO())
