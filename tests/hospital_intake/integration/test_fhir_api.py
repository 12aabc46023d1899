"""GET /api/v1/casualties/<id>/fhir on the live hub: visibility, content type, audit, and the
snapshot kept at handover acceptance."""

import requests
from fhir.resources.R4B.bundle import Bundle

from tests.hospital_intake.conftest import arrive


def _get(hub, path, token):
    return requests.get(f"{hub.http_url}{path}", headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def test_the_hospital_reads_the_record_as_fhir_and_the_read_is_audited(
        live_hub, roles, full_record):
    from hub.models import AuditEntry

    response = _get(live_hub, f"/api/v1/casualties/{full_record}/fhir", roles.hospital_screen)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json"
    Bundle.model_validate(response.json())
    entry = AuditEntry.objects.filter(action="casualty.read", actor="screen-TX1").get()
    assert (entry.target, entry.detail) == (f"casualty:{full_record}", {"via": "fhir"})


def test_terminals_without_the_record_get_404_and_leave_no_read(live_hub, roles, full_record):
    from hub.models import AuditEntry

    for token in (roles.other_hospital_screen, roles.expert, roles.other_ambulance):
        assert _get(live_hub, f"/api/v1/casualties/{full_record}/fhir", token).status_code == 404
    assert not AuditEntry.objects.filter(action="casualty.read").exists()


def test_accepting_the_handover_keeps_the_bundle_for_the_hospital(live_hub, roles, full_record):
    from hospital_intake.models import HandoverBundle
    from hospital_intake.schemas import HandoverAccept
    from hospital_intake.services import handover_accept
    from hub.models import Terminal

    path = f"/api/v1/casualties/{full_record}/fhir/handover"
    assert _get(live_hub, path, roles.hospital_screen).status_code == 404
    arrive()
    handover_accept(terminal=Terminal.objects.get(name="screen-TX1"), code="TX1", client_id="h1",
                    payload=HandoverAccept.model_validate({"casualty": full_record}))
    snapshot = HandoverBundle.objects.get(casualty_id=full_record)
    assert snapshot.accepted_by == "screen-TX1"
    response = _get(live_hub, path, roles.hospital_screen)
    assert response.status_code == 200
    body = response.json()
    Bundle.model_validate(body)
    (encounter,) = [e["resource"] for e in body["entry"]
                    if e["resource"]["resourceType"] == "Encounter"]
    assert encounter["status"] == "finished"
    (media,) = [e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == "Media"]
    assert media["content"]["url"].startswith("/api/v1/media/")
