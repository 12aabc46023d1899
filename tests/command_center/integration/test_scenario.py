"""The Wuzhen scenario loads, and loading it again changes nothing."""

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ambulance.models import Station, Unit
from command_center.models import MassEvent, MedicalPost
from hospital_intake.models import Hospital

SCENARIO = Path(__file__).resolve().parents[3] / "deploy" / "scenarios" / "wuzhen-wic.json"


def _snapshot():
    return {
        "events": list(MassEvent.objects.values_list("slug", "name", "status")),
        "posts": sorted(MedicalPost.objects.values_list("code", "name")),
        "stations": sorted(Station.objects.values_list("code", "name")),
        "units": sorted(Unit.objects.values_list("callsign", "level", "capacity",
                                                 "station__code")),
        "hospitals": sorted(Hospital.objects.values_list("code", "name", "beds_red",
                                                         "beds_yellow", "beds_green")),
        "ids": sorted(Unit.objects.values_list("id", flat=True)),
    }


@pytest.mark.django_db
def test_loading_the_scenario_twice_gives_the_same_rows():
    call_command("load_scenario", str(SCENARIO))
    first = _snapshot()
    call_command("load_scenario", str(SCENARIO))
    assert _snapshot() == first


@pytest.mark.django_db
def test_the_wuzhen_scenario_has_the_issue_s_shape():
    call_command("load_scenario", str(SCENARIO))
    event = MassEvent.objects.get(slug="wic-2019")
    assert event.venue_area is not None and event.venue_area.contains(
        MedicalPost.objects.get(code="MP1").location)
    assert MedicalPost.objects.filter(event=event).count() == 3
    assert set(Station.objects.values_list("code", flat=True)) == {"ST-WZ", "ST-TX", "ST-JX"}
    assert 20 <= Unit.objects.count() <= 30
    assert set(Unit.objects.values_list("level", flat=True)) == {"ALS", "BLS"}
    assert 6 <= Hospital.objects.count() <= 10
    document = json.loads(SCENARIO.read_text())
    assert "ILLUSTRATIVE" in document["note"]
    cities = {h["code"][:2] for h in document["hospitals"]}
    assert {"TX", "JX", "HZ"} <= cities


@pytest.mark.django_db
def test_a_broken_scenario_names_the_field(tmp_path):
    document = json.loads(SCENARIO.read_text())
    document["units"][3]["level"] = "XLS"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    with pytest.raises(CommandError, match=r"units\[3\]\.level: must be ALS or BLS"):
        call_command("load_scenario", str(broken))
    assert not Unit.objects.exists()  # nothing half-loaded
