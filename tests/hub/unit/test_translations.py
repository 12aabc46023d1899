"""The zh-Hans catalogue is complete and pages in zh-Hans show no English source strings."""

from pathlib import Path

import polib
import pytest
from django.test import Client

CATALOGUE = Path(__file__).resolve().parents[3] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _entries() -> list[polib.POEntry]:
    return [entry for entry in polib.pofile(str(CATALOGUE)) if not entry.obsolete]


def test_every_message_has_a_checked_chinese_translation():
    entries = _entries()
    assert len(entries) > 100
    assert [e.msgid for e in entries if not e.translated()] == []
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []


def test_the_compiled_catalogue_is_current():
    compiled = CATALOGUE.with_suffix(".mo")
    assert compiled.stat().st_mtime >= CATALOGUE.stat().st_mtime, "run manage.py compilemessages"


@pytest.mark.django_db
def test_the_login_page_in_chinese_shows_no_english_key_string():
    html = Client().get("/login/", headers={"accept-language": "zh-Hans"}).content.decode()
    assert "登录" in html
    for english in ("Log in", "User name", "Password", "MCI dispatch hub", "Language"):
        assert english not in html
