"""The drill timeline file: strict checks naming the field, and the plan it gives."""

import copy
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from command_center.drills.physiology import Patient
from command_center.drills.timeline import DrillError, drill_plan, drill_read

SCENARIOS = Path(__file__).resolve().parents[3] / "deploy" / "scenarios"
WUZHEN_DRILL = SCENARIOS / "wuzhen-drill.json"


def _write(tmp_path: Path, document: dict) -> Path:
    (tmp_path / "wuzhen-wic.json").write_text((SCENARIOS / "wuzhen-wic.json").read_text())
    path = tmp_path / "drill.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def document() -> dict:
    return json.loads(WUZHEN_DRILL.read_text())


def test_the_wuzhen_drill_is_a_crush_of_60_in_15_minutes_then_a_hotel_fire_40_minutes_later():
    drill = drill_read(WUZHEN_DRILL)
    crush, fire = drill.incidents
    assert (crush.casualties, crush.at_minute, crush.over_minutes) == (60, 0, 15)
    assert fire.at_minute == 40
    assert all("burns" in injury.needs for category in ("red", "yellow")
               for injury in fire.injuries[category])
    plan = drill_plan(drill, seed=1, run="wic-2019-drill-1")
    crush_times = [c.at_seconds for c in plan if c.incident == "crush"]
    assert max(crush_times) < 15 * 60
    assert min(c.at_seconds for c in plan if c.incident == "hotel-fire") == 40 * 60


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.update(format="mci-drill/0"), "drill.format"),
    (lambda d: d.pop("exercise"), "drill.exercise"),
    (lambda d: d["exercise"].update(slug="Has Spaces"), "drill.exercise.slug"),
    (lambda d: d["exercise"].update(prefix="ex-1"), "drill.exercise.prefix"),
    (lambda d: d.update(incidents=[]), "drill.incidents"),
    (lambda d: d["incidents"][1].update(medical_posts=["MP9"]), "incidents[1].medical_posts[0]"),
    (lambda d: d["incidents"][0]["triage"].update(red=-1), "incidents[0].triage.red"),
    (lambda d: d["incidents"][0]["triage"].update(red=True), "incidents[0].triage.red"),
    (lambda d: d["incidents"][0]["triage"].update(blue=3), "incidents[0].triage.blue"),
    (lambda d: d["incidents"][0].update(at_minute="soon"), "incidents[0].at_minute"),
    (lambda d: d["incidents"][0]["location"].update(lat=95), "incidents[0].location.lat"),
    (lambda d: d["incidents"][1]["injuries"].update(red=[]), "incidents[1].injuries.red"),
    (lambda d: d["incidents"][1]["injuries"]["red"][0].update(needs=["magic"]),
     "incidents[1].injuries.red[0].needs[0]"),
    (lambda d: d["incidents"][0].update(surprise=1), "incidents[0].surprise"),
    (lambda d: d["incidents"][1].update(code="crush"), "incidents[1].code"),
    (lambda d: d.update(scenario="missing.json"), "drill.scenario"),
])
def test_a_bad_drill_file_is_refused_naming_the_field(tmp_path, document, change, field):
    bad = copy.deepcopy(document)
    change(bad)
    with pytest.raises(DrillError) as refusal:
        drill_read(_write(tmp_path, bad))
    assert str(refusal.value).startswith(f"{field}:"), str(refusal.value)


def test_the_plan_has_the_declared_triage_mix_and_the_same_seed_gives_the_same_plan():
    drill = drill_read(WUZHEN_DRILL)
    plan = drill_plan(drill, seed=7, run="run-a")
    for incident in drill.incidents:
        mix = Counter(c.category for c in plan if c.incident == incident.code)
        assert {k: mix[k] for k in incident.triage} == incident.triage
    assert plan == drill_plan(drill, seed=7, run="run-a")
    other_run = drill_plan(drill, seed=7, run="run-b")
    assert not {c.casualty for c in plan} & {c.casualty for c in other_run}
    reseeded = drill_plan(drill, seed=8, run="run-a")
    assert [c.category for c in plan] != [c.category for c in reseeded]


def test_untreated_casualties_worsen_by_category_and_care_slows_it():
    def systolic_after(category: str, minutes: float, in_care: bool = False) -> float:
        # The same seed each time: the same offsets and noise, so only time and care differ.
        patient = Patient.admit(category, 0.0, random.Random(3))
        patient.in_care = in_care
        return patient.vitals(minutes * 60)["sbp"]

    red_drop = systolic_after("red", 0) - systolic_after("red", 10)
    yellow_drop = systolic_after("yellow", 0) - systolic_after("yellow", 10)
    assert red_drop > 2 * yellow_drop > 0
    assert systolic_after("green", 0) == systolic_after("green", 60)
    assert systolic_after("red", 10, in_care=True) > systolic_after("red", 10)


def test_a_delayed_casualty_whose_pressure_falls_is_flagged_immediate():
    patient = Patient.admit("yellow", 0.0, random.Random(5))
    assert patient.now_immediate(patient.vitals(0.0)) is None
    vitals = patient.vitals(4 * 3600.0)
    assert vitals["sbp"] < 90
    assert (patient.now_immediate(vitals) or "").startswith("deteriorated")
