"""The audit chain: reads via API and socket are recorded, and tampering with any stored row
breaks verification at that row (function, management command and admin view)."""

import csv
import io

import pytest
import requests
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.db import connection

from tests.support.db import in_db
from tests.support.protocol import connect_terminal


def _chain(n):
    from hub.services import audit_record

    return [audit_record(actor=f"a{i}", action="casualty.read", target=f"casualty:{i}",
                         detail={"via": "api", "n": i}).pk for i in range(n)]


@pytest.mark.django_db(transaction=True)
def test_an_untouched_chain_verifies():
    from hub.audit import audit_chain_verify

    _chain(5)
    report = audit_chain_verify(chunk_size=2)
    assert (report.ok, report.checked) == (True, 5)
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "intact: 5 entries" in out.getvalue()


@pytest.mark.parametrize("sql", [
    "UPDATE hub_auditentry SET actor = 'someone-else' WHERE id = %s",
    "UPDATE hub_auditentry SET detail = '{\"via\": \"ws\", \"n\": 2}' WHERE id = %s",
    "UPDATE hub_auditentry SET at = at + interval '1 second' WHERE id = %s",
])
@pytest.mark.django_db(transaction=True)
def test_editing_a_row_breaks_verification_at_that_row(sql):
    from hub.audit import audit_chain_verify

    ids = _chain(5)
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids[2]])
    report = audit_chain_verify()
    assert (report.ok, report.broken_id, report.checked) == (False, ids[2], 2)
    assert "edited" in report.reason
    with pytest.raises(CommandError, match=f"broken at entry {ids[2]}"):
        call_command("audit_verify")


@pytest.mark.django_db(transaction=True)
def test_removing_a_row_breaks_verification_at_the_next():
    from hub.audit import audit_chain_verify
    from hub.models import AuditEntry

    ids = _chain(4)
    AuditEntry.objects.filter(pk=ids[1]).delete()
    report = audit_chain_verify()
    assert (report.broken_id, report.checked) == (ids[2], 1)
    assert "removed" in report.reason


@pytest.mark.django_db(transaction=True)
def test_staff_see_the_verification_and_export_csv():
    from django.contrib.auth.models import User
    from django.test import Client

    from hub.models import AuditEntry

    ids = _chain(3)
    client = Client()
    client.force_login(User.objects.create_superuser("auditor", password="x"))
    page = client.get("/admin/hub/auditentry/verify/")
    assert page.status_code == 200 and b"The chain is intact: 3 entries" in page.content
    AuditEntry.objects.filter(pk=ids[0]).update(target="casualty:other")
    page = client.get("/admin/hub/auditentry/verify/")
    assert f"broken at entry {ids[0]}".encode() in page.content
    export = client.get("/admin/hub/auditentry/export.csv?target=casualty:1")
    assert export["Content-Type"] == "text/csv"
    content = b"".join(export.streaming_content)  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert [(r["id"], r["actor"], r["target"]) for r in rows] == [
        (str(ids[1]), "a1", "casualty:1")]
    assert AuditEntry.objects.filter(action="audit.export", actor="auditor").exists()
    action = client.post("/admin/hub/auditentry/", {"action": "export_csv",
                                                   "_selected_action": [ids[2]]})
    assert action["Content-Type"] == "text/csv"
    assert Client().get("/admin/hub/auditentry/export.csv").status_code == 302  # to login


@pytest.mark.asyncio
async def test_reads_by_api_fhir_and_subscription_are_chained(live_hub, roles):
    from ambulance.services import transport_assign
    from field_terminal.schemas import CasualtyReport
    from field_terminal.services import casualty_report
    from hub.audit import audit_chain_verify
    from hub.models import AuditEntry, Terminal
    from tests.conftest import casualty_report_data

    def scene():
        data = casualty_report_data()
        casualty_report(terminal=Terminal.objects.get(name="medic-1"), event_slug="wic-test",
                        client_id="r1", payload=CasualtyReport.model_validate(data))
        transport_assign(casualty_id=data["casualty"], callsign="WZ01", hospital_code="TX1",
                         assigned_by="command-1")
        return data["casualty"]

    casualty = await in_db(scene)
    headers = {"Authorization": f"Bearer {roles.hospital_screen}"}
    for path in (f"/api/v1/casualties/{casualty}/", f"/api/v1/casualties/{casualty}/fhir"):
        response = await sync_to_async(requests.get)(f"{live_hub.http_url}{path}",
                                                     headers=headers, timeout=10)
        assert response.status_code == 200
    screen = await connect_terminal(live_hub.ws_url, roles.hospital_screen)
    assert (await screen.subscribe(f"casualty:{casualty}"))["type"] == "ack"
    await screen.close()
    reads = await in_db(lambda: list(AuditEntry.objects.filter(
        target=f"casualty:{casualty}").values_list("actor", "action", "detail")))
    assert reads == [("screen-TX1", "casualty.read", {"via": "api"}),
                     ("screen-TX1", "casualty.read", {"via": "fhir"}),
                     ("screen-TX1", "casualty.subscribe", {"kind": "hospital"})]
    assert (await in_db(audit_chain_verify)).ok
