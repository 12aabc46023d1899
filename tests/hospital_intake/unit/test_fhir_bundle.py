"""The casualty Bundle against FHIR R4 (validated with fhir.resources' R4B models, 4.3.0:
the package has no 4.0.1 set, and every element used here is unchanged between them)."""

import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.hospital_intake.conftest import ECG


def _bundle(casualty_id):
    from field_terminal.models import Casualty
    from hospital_intake.fhir import casualty_bundle

    body = casualty_bundle(Casualty.objects.get(pk=casualty_id), base_url="https://hub.test")
    Bundle.model_validate(body)  # raises on any structural or datatype error
    return body


def _resources(body, kind):
    return [e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == kind]


def _by_loinc(body, code):
    return [r for r in _resources(body, "Observation")
            if any(c["code"] == code for c in r["code"]["coding"])]


@pytest.mark.django_db(transaction=True)
def test_the_bundle_is_valid_fhir_and_every_reference_resolves_inside_it(full_record):
    body = _bundle(full_record)
    assert body["type"] == "collection"
    full_urls = {entry["fullUrl"] for entry in body["entry"]}
    assert len(full_urls) == len(body["entry"])

    def refs(node):
        if isinstance(node, dict):
            if "reference" in node:
                yield node["reference"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(body["entry"]))
    assert found and set(found) <= full_urls


@pytest.mark.django_db(transaction=True)
def test_the_patient_is_unidentified_with_the_triage_tag_as_identifier(full_record):
    (patient,) = _resources(_bundle(full_record), "Patient")
    assert "name" not in patient
    assert {"system": "urn:mcihub:triage-tag", "value": "T-0042", "use": "temp",
            "type": {"text": "triage tag"}} in patient["identifier"]
    assert patient["gender"] == "female"


@pytest.mark.parametrize(("code", "value", "unit"), [
    ("8867-4", 112, "/min"), ("59408-5", 94, "%"), ("2708-6", 94, "%"),
    ("9279-1", 22, "/min"), ("8310-5", 36.4, "Cel"), ("9269-2", 14, "{score}"),
    ("19889-5", 33, "mm[Hg]"),
])
@pytest.mark.django_db(transaction=True)
def test_each_vital_is_an_observation_with_its_loinc_code_and_ucum_unit(
        full_record, code, value, unit):
    (observation,) = _by_loinc(_bundle(full_record), code)
    assert observation["valueQuantity"] == {"value": value, "unit": unit,
                                            "system": "http://unitsofmeasure.org", "code": unit}


@pytest.mark.django_db(transaction=True)
def test_blood_pressure_is_a_panel_with_the_components_that_were_measured(full_record):
    panels = _by_loinc(_bundle(full_record), "85354-9")
    parts = [{c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
              for c in panel["component"]} for panel in panels]
    assert parts == [{"8480-6": 98, "8462-4": 61}, {"8480-6": 101}]
    assert all(c["valueQuantity"]["code"] == "mm[Hg]" for p in panels for c in p["component"])


@pytest.mark.django_db(transaction=True)
def test_ecg_lead_ii_is_sampled_data_and_other_waveforms_stay_out(full_record):
    body = _bundle(full_record)
    (ecg,) = [r for r in _resources(body, "Observation") if "valueSampledData" in r]
    assert ecg["code"]["coding"][0] == {"system": "urn:oid:2.16.840.1.113883.6.24",
                                        "code": "131330", "display": "MDC_ECG_ELEC_POTL_II"}
    sampled = ecg["valueSampledData"]
    assert sampled["period"] == 4.0  # 250 Hz
    assert sampled["dimensions"] == 1
    assert sampled["origin"]["code"] == "mV"
    assert [float(x) for x in sampled["data"].split(" ")] == ECG


@pytest.mark.django_db(transaction=True)
def test_triage_history_media_and_transport_locations(full_record):
    body = _bundle(full_record)
    triage = [r for r in _resources(body, "Observation")
              if r["code"]["coding"][0]["system"] == "urn:mcihub:codesystem:triage-category"]
    assert [t["valueCodeableConcept"]["coding"][0]["code"] for t in triage] == ["red", "yellow"]
    (media,) = _resources(body, "Media")
    assert media["content"]["url"].startswith("https://hub.test/api/v1/media/")
    assert media["content"]["contentType"] == "image/png"
    (encounter,) = _resources(body, "Encounter")
    assert encounter["class"]["code"] == "EMER"
    locations = {f"urn:uuid:{r['id']}": r for r in _resources(body, "Location")}
    assert locations[encounter["hospitalization"]["destination"]["reference"]]["identifier"][0][
        "value"] == "TX1"
    pickup = locations[encounter["hospitalization"]["origin"]["reference"]]
    assert pickup["position"] == {"longitude": 120.4870, "latitude": 30.7431}


@pytest.mark.django_db(transaction=True)
def test_two_exports_name_the_resources_alike(full_record):
    first, second = _bundle(full_record), _bundle(full_record)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
