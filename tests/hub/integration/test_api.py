"""REST API against the live hub: visibility per the Topics table, GeoJSON, media upload."""

import hashlib
import struct
import zlib

import pytest
import requests

from tests.conftest import casualty_report_data


def _png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _get(hub, path, token):
    return requests.get(f"{hub.http_url}{path}", headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


@pytest.fixture
def reported_and_assigned(roles):
    from ambulance.services import transport_assign
    from field_terminal.schemas import CasualtyReport
    from field_terminal.services import casualty_report
    from hub.models import Terminal

    medic = Terminal.objects.get(name="medic-1")
    assigned = casualty_report_data()
    waiting = casualty_report_data(category="yellow")
    for n, data in enumerate((assigned, waiting)):
        casualty_report(terminal=medic, event_slug="wic-test", client_id=f"r{n}",
                        payload=CasualtyReport.model_validate(data))
    transport_assign(casualty_id=assigned["casualty"], callsign="WZ01", hospital_code="TX1",
                     assigned_by="command-1")
    return assigned["casualty"], waiting["casualty"]


@pytest.mark.parametrize(
    ("kind_token", "visible"),
    [("command", {"assigned", "waiting"}), ("field", {"assigned", "waiting"}),
     ("ambulance", {"assigned"}), ("hospital_screen", {"assigned"}), ("expert", set()),
     ("other_field", set()), ("other_hospital_screen", set()), ("other_ambulance", set())],
)
def test_casualties_are_listed_only_to_terminals_that_may_read_them(
        live_hub, roles, reported_and_assigned, kind_token, visible):
    assigned, waiting = reported_and_assigned
    response = _get(live_hub, "/api/v1/casualties/", getattr(roles, kind_token))
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    ids = {feature["id"] for feature in body["features"]}
    expected = {{"assigned": assigned, "waiting": waiting}[name] for name in visible}
    assert ids == expected
    for feature in body["features"]:
        assert feature["geometry"]["type"] == "Point"


def test_a_casualty_outside_ones_rights_is_not_found(live_hub, roles, reported_and_assigned):
    _, waiting = reported_and_assigned
    assert _get(live_hub, f"/api/v1/casualties/{waiting}/", roles.hospital_screen).status_code == 404
    assert _get(live_hub, f"/api/v1/casualties/{waiting}/", roles.command).status_code == 200


def test_hospitals_and_units_follow_the_topics_table(live_hub, roles, reported_and_assigned):
    codes = {f["properties"]["code"] for f in _get(live_hub, "/api/v1/hospitals/",
                                                   roles.hospital_screen).json()["features"]}
    assert codes == {"TX1"}
    assert len(_get(live_hub, "/api/v1/hospitals/", roles.command).json()["features"]) == 2
    units = {f["properties"]["callsign"] for f in _get(live_hub, "/api/v1/units/",
                                                       roles.hospital_screen).json()["features"]}
    assert units == {"WZ01"}  # the unit bringing it a patient
    assert _get(live_hub, "/api/v1/units/", roles.field).json()["features"] == []


def test_api_without_a_credential_is_refused(live_hub, roles):
    assert requests.get(f"{live_hub.http_url}/api/v1/casualties/", timeout=10).status_code in (401, 403)
    assert _get(live_hub, "/api/v1/casualties/", "bad-token").status_code == 401


def test_media_upload_checks_type_keeps_sha256_and_serves_it_back(live_hub, roles):
    png = _png()
    response = requests.post(f"{live_hub.http_url}/api/v1/media/",
                             headers={"Authorization": f"Bearer {roles.field}"},
                             files={"file": ("wound.png", png, "image/png")}, timeout=10)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["sha256"] == hashlib.sha256(png).hexdigest()
    assert body["kind"] == "image" and body["content_type"] == "image/png"
    fetched = _get(live_hub, body["url"], roles.field)
    assert fetched.status_code == 200 and fetched.content == png
    assert _get(live_hub, body["url"], roles.other_field).status_code == 404


@pytest.mark.parametrize(
    ("payload", "name", "status", "message"),
    [(b"MZ\x90\x00 not an image", "photo.jpg", 400, "file: is not an accepted"),
     (b"", "empty.png", 400, "file"),
     (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "x.png", 400, "kind: the file is image/png")],
)
def test_media_upload_refuses_what_it_cannot_accept(live_hub, roles, payload, name, status, message):
    data = {"kind": "video"} if "kind" in message else {}
    response = requests.post(f"{live_hub.http_url}/api/v1/media/",
                             headers={"Authorization": f"Bearer {roles.field}"},
                             files={"file": (name, payload, "image/jpeg")}, data=data, timeout=10)
    assert response.status_code == status
    assert response.json()["error"].startswith(message) or message in response.text


def test_media_over_the_size_limit_is_refused_with_413(hub_env, roles):
    from tests.support.hubs import DaphneProcess

    small = DaphneProcess(env={**hub_env, "MEDIA_MAX_BYTES": "1000"}).start()
    try:
        response = requests.post(f"{small.http_url}/api/v1/media/",
                                 headers={"Authorization": f"Bearer {roles.field}"},
                                 files={"file": ("big.png", _png(64, 64) + b"\x00" * 2000)},
                                 timeout=10)
        assert response.status_code == 413
        assert "limit is 1000" in response.json()["error"]
    finally:
        small.stop()


def test_openapi_schema_and_docs_are_served(live_hub, roles):
    schema = requests.get(f"{live_hub.http_url}/api/schema/?format=json",
                          headers={"Authorization": f"Bearer {roles.command}"}, timeout=10)
    assert schema.status_code == 200
    assert "/api/v1/media/" in schema.json()["paths"]
    docs = requests.get(f"{live_hub.http_url}/api/docs/",
                        headers={"Authorization": f"Bearer {roles.command}"}, timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
