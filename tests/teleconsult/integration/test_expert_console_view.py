"""/expert/ is the console of expert terminals only, with its queue and strings in the page."""

import json
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from field_terminal.schemas import CasualtyReport
from field_terminal.services import casualty_report
from hub.models import Terminal
from teleconsult.models import ExpertSpecialty
from teleconsult.schemas import ConsultEnd, ConsultJoin, ConsultRequest
from teleconsult.services import consult_end, consult_join, consult_request
from tests.conftest import casualty_report_data


def _client_for(terminal_name: str) -> Client:
    user = User.objects.create_user(f"user-{terminal_name}", password="x" * 12)
    Terminal.objects.filter(name=terminal_name).update(user=user)
    client = Client()
    client.force_login(user)
    return client


def _consult(*, urgency: str, specialty: str = "trauma") -> str:
    """A consult requested by medic-1 through the services, as the consumer would."""
    medic = Terminal.objects.get(name="medic-1")
    report = casualty_report_data()
    casualty_report(terminal=medic, event_slug="wic-test", client_id=str(uuid.uuid4()),
                    payload=CasualtyReport.model_validate(report))
    consult = str(uuid.uuid4())
    consult_request(terminal=medic, casualty_id=str(report["casualty"]),
                    client_id=str(uuid.uuid4()), payload=ConsultRequest.model_validate(
                        {"consult": consult, "specialty": specialty, "urgency": urgency}))
    return consult


def _page_json(html: str, element_id: str) -> Any:
    start = html.index(f'id="{element_id}"')
    body = html[html.index(">", start) + 1:html.index("</script>", start)]
    return json.loads(body)


@pytest.mark.parametrize("terminal_name", ["medic-1", "amb-WZ01", "screen-TX1", "command-1"])
def test_only_an_expert_terminal_gets_the_console(roles, terminal_name):
    response = _client_for(terminal_name).get("/expert/", headers={"accept-language": "en"})
    assert response.status_code == 403
    assert "not a remote expert terminal" in response.content.decode()


def test_the_console_lists_the_experts_open_requests_most_urgent_first(roles):
    ExpertSpecialty.objects.create(terminal=Terminal.objects.get(name="expert-1"),
                                   specialty="trauma")
    routine = _consult(urgency="routine")
    immediate = _consult(urgency="immediate")
    _consult(urgency="immediate", specialty="burns")
    response = _client_for("expert-1").get("/expert/", headers={"accept-language": "zh-Hans"})
    assert response.status_code == 200
    html = response.content.decode()
    state = _page_json(html, "console-state")
    assert [row["consult"] for row in state["queue"]] == [immediate, routine]
    assert (state["terminal"], state["topic"]) == ("expert-1", "terminal:expert-1")
    strings = _page_json(html, "console-strings")
    assert strings["join"] == "加入"
    assert strings["specialties"]["trauma"] == "创伤外科"
    assert "远程专家会诊台" in html and "Remote expert console" not in html


def test_the_console_page_names_the_open_consult_its_expert_sits_in_until_it_ends(roles):
    expert = Terminal.objects.get(name="expert-1")
    ExpertSpecialty.objects.create(terminal=expert, specialty="trauma")
    consult = _consult(urgency="urgent")
    client = _client_for("expert-1")

    def page_state() -> Any:
        return _page_json(client.get("/expert/").content.decode(), "console-state")

    assert page_state()["seat"] is None
    consult_join(terminal=expert, consult_id=consult, client_id=str(uuid.uuid4()),
                 payload=ConsultJoin.model_validate({}))
    state = page_state()
    assert state["seat"] == consult
    assert [row["consult"] for row in state["queue"]] == [consult]
    consult_end(terminal=expert, consult_id=consult, client_id=str(uuid.uuid4()),
                payload=ConsultEnd.model_validate({}))
    assert page_state()["seat"] is None
