"""The payload declarations enforce PROTOCOL.md's ranges and types, naming the field."""

import pytest

from ambulance.schemas import Position
from field_terminal.schemas import CasualtyReport, Vitals, Waveform
from hospital_intake.schemas import Capacity
from hub.errors import Invalid
from hub.protocol import MESSAGE_TYPES, validate_payload

T = "2019-10-20T09:00:00Z"


def error_for(type_name, data):
    with pytest.raises(Invalid) as refused:
        validate_payload(MESSAGE_TYPES[type_name], {"data": data})
    return refused.value.message


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [("hr", 0, 300), ("spo2", 0, 100), ("rr", 0, 80), ("sbp", 0, 300), ("dbp", 0, 200),
     ("temp", 25, 45), ("etco2", 0, 150)],
)
def test_vital_ranges_are_inclusive_and_named(field, low, high):
    assert getattr(Vitals.model_validate({"t": T, field: low}), field) == low
    assert getattr(Vitals.model_validate({"t": T, field: high}), field) == high
    assert error_for("vitals", {"t": T, field: high + 0.5}) == f"data.{field}: must be {low}..{high}"
    assert error_for("vitals", {"t": T, field: low - 0.5}) == f"data.{field}: must be {low}..{high}"


@pytest.mark.parametrize("value", [True, "80", [80], {"v": 80}])
def test_a_boolean_or_a_string_is_not_a_number(value):
    assert error_for("vitals", {"t": T, "hr": value}) == "data.hr: must be a number"


def test_gcs_must_be_an_integer():
    assert Vitals.model_validate({"t": T, "gcs": 15}).gcs == 15
    assert error_for("vitals", {"t": T, "gcs": 14.5}) == "data.gcs: must be an integer"
    assert error_for("vitals", {"t": T, "gcs": 2}) == "data.gcs: must be 3..15"


def test_vitals_need_a_zoned_time_and_one_measurement():
    assert error_for("vitals", {"hr": 80}) == "data.t: is required"
    assert error_for("vitals", {"t": "2019-10-20T09:00:00", "hr": 80}).startswith("data.t:")
    assert error_for("vitals", {"t": 1571562000, "hr": 80}).startswith("data.t:")
    assert "at least one of" in error_for("vitals", {"t": T})


def test_null_is_not_a_value_and_unknown_fields_are_invalid():
    assert error_for("vitals", {"t": T, "hr": None}) == "data.hr: null is not a value"
    assert error_for("vitals", {"t": T, "hr": 80, "pulse": 80}) == (
        "data.pulse: is not a field of this message")


def test_report_checks_nested_location_and_choices():
    base = {"casualty": "9b2e0c4e-8f9e-4a43-9d4a-5e1f7f0f6a11", "location": {"lat": 30.7, "lon": 120.4},
            "category": "red", "method": "START"}
    assert CasualtyReport.model_validate(base).category == "red"
    assert error_for("casualty.report", {**base, "location": {"lat": 91, "lon": 0}}) == (
        "data.location.lat: must be -90..90")
    assert error_for("casualty.report", {**base, "category": "blue"}) == (
        "data.category: must be one of red, yellow, green, black")
    assert error_for("casualty.report", {**base, "casualty": "not-a-uuid"}) == (
        "data.casualty: must be a UUID string")
    assert error_for("casualty.report", {**base, "needs": ["trauma", "magic"]}).startswith(
        "data.needs:")
    assert error_for("casualty.report", {**base, "complaint": ""}) == (
        "data.complaint: must be text of 1..500 characters")


def test_text_length_counts_code_points_not_bytes():
    base = {"casualty": "9b2e0c4e-8f9e-4a43-9d4a-5e1f7f0f6a11", "location": {"lat": 30.7, "lon": 120.4},
            "category": "red", "method": "START"}
    chinese = "胸" * 500  # 1500 bytes of UTF-8, 500 code points
    assert CasualtyReport.model_validate({**base, "complaint": chinese}).complaint == chinese
    assert error_for("casualty.report", {**base, "complaint": chinese + "痛"}).startswith(
        "data.complaint:")


def test_waveform_sample_count_and_rate():
    base = {"t0": T, "hz": 250, "signal": "ecg_ii", "unit": "mV", "samples": [0.1] * 4000}
    assert len(Waveform.model_validate(base).samples) == 4000
    assert error_for("waveform", {**base, "samples": [0.1] * 4001}) == (
        "data.samples: must have 1..4000 numbers")
    assert error_for("waveform", {**base, "samples": []}) == "data.samples: must have 1..4000 numbers"
    assert error_for("waveform", {**base, "samples": [0.1, "x"]}) == (
        "data.samples: item 1 must be a number")
    assert error_for("waveform", {**base, "hz": 0}) == "data.hz: must be 1..2000"


def test_position_and_capacity_ranges():
    assert Position.model_validate({"t": T, "lat": 0, "lon": 0, "heading": 360}).heading == 360
    assert error_for("position", {"t": T, "lat": 0, "lon": 0, "speed": 101}) == (
        "data.speed: must be 0..100")
    capacity = {"beds": {"red": 0, "yellow": 10000, "green": 3}, "diversion": True}
    assert Capacity.model_validate(capacity).beds.yellow == 10000
    assert error_for("capacity", {**capacity, "diversion": "yes"}) == (
        "data.diversion: must be true or false")
    assert error_for("capacity", {**capacity, "beds": {"red": -1, "yellow": 0, "green": 0}}) == (
        "data.beds.red: must be 0..10000")


def test_the_journal_keeps_the_data_exactly_as_sent():
    sent = {"t": "2019-10-20T17:00:00+08:00", "hr": 72}
    assert Vitals.model_validate(sent).wire() == sent
