"""The evaluator on hand-worked instances: times and survival computed by hand in comments."""

import pytest

from command_center.dispatch import evaluate_plan, parse_instance

LOAD, UNLOAD = 5, 10


def tiny_instance():
    # Station ST1 -10-> S1 -20-> H1 (and -30-> H2); back from H1 to S1 takes 20, from H2 30.
    return {
        "format": "mci-dispatch/1",
        "now": 0,
        "horizon": 480,
        "service_minutes": {"load": LOAD, "unload": UNLOAD},
        "places": [
            {"id": "S1", "kind": "site", "lat": 30.74, "lon": 120.48},
            {"id": "S2", "kind": "site", "lat": 30.75, "lon": 120.49},
            {"id": "H1", "kind": "hospital", "lat": 30.80, "lon": 120.50},
            {"id": "H2", "kind": "hospital", "lat": 30.70, "lon": 120.40},
            {"id": "ST1", "kind": "station", "lat": 30.73, "lon": 120.47},
        ],
        "travel_minutes": {
            "ST1": {"S1": 10, "S2": 12},
            "S1": {"H1": 20, "H2": 30},
            "S2": {"H1": 25},
            "H1": {"S1": 20, "S2": 25},
            "H2": {"S1": 30},
        },
        "casualties": [
            {
                "id": "C1",
                "place": "S1",
                "category": "red",
                "injured_at": 0,
                "reported_at": 0,
                "needs": ["trauma"],
                "needs_als": True,
                "survival": {"model": "loglogistic", "b0": 0.4, "b1": 30, "b2": 2},
            },
            {
                "id": "C2",
                "place": "S1",
                "category": "green",
                "injured_at": 0,
                "reported_at": 40,
                "needs": [],
                "needs_als": False,
                "survival": {"model": "constant", "p": 0.9},
            },
            {
                "id": "C3",
                "place": "S1",
                "category": "yellow",
                "injured_at": 0,
                "reported_at": 0,
                "needs": [],
                "needs_als": False,
                "survival": {"model": "loglogistic", "b0": 0.9, "b1": 100, "b2": 1},
            },
            {
                "id": "C4",
                "place": "S1",
                "category": "black",
                "injured_at": 0,
                "reported_at": 0,
                "needs": [],
                "needs_als": False,
            },
            {
                "id": "C5",
                "place": "S2",
                "category": "green",
                "injured_at": 0,
                "reported_at": 0,
                "needs": [],
                "needs_als": False,
                "survival": {"model": "constant", "p": 0.95},
            },
        ],
        "ambulances": [
            {"id": "A1", "place": "ST1", "available_at": 0, "capacity": 1, "level": "ALS"},
            {"id": "A2", "place": "ST1", "available_at": 3, "capacity": 2, "level": "BLS"},
        ],
        "hospitals": [
            {
                "id": "H1",
                "place": "H1",
                "beds": {"red": 1, "yellow": 2, "green": 3},
                "capabilities": ["trauma"],
            },
            {"id": "H2", "place": "H2", "beds": {"yellow": 1}, "capabilities": []},
        ],
    }


def plan(*trips):
    return {
        "format": "mci-dispatch-plan/1",
        "trips": [{"ambulance": a, "casualties": list(c), "hospital": h} for a, c, h in trips],
    }


def evaluate(trips, instance=None):
    return evaluate_plan(parse_instance(instance or tiny_instance()), plan(*trips))


def test_two_trips_of_one_unit_run_in_order_and_wait_for_the_report():
    # A1 leaves ST1 at 0, at S1 at 10, loads 10-15, reaches H1 at 35:
    #   C1 p = 0.4 / (1 + (35/30)^2) = 0.4 / 2.361111 = 0.169412. A1 free at H1 at 45.
    # Then 45 + 20 = 65 at S1 (C2 reported at 40), loads 65-70, H1 at 90: C2 p = 0.9.
    result = evaluate([("A1", ["C1"], "H1"), ("A1", ["C2"], "H1")])
    assert result.valid, result.reason
    assert result.arrivals == {"C1": 35, "C2": 90}
    assert result.objective == pytest.approx(0.4 / (1 + (35 / 30) ** 2) + 0.9)
    assert result.last_arrival == 90


def test_unit_waits_at_the_place_until_the_casualty_is_reported():
    instance = tiny_instance()
    instance["casualties"][1]["reported_at"] = 100
    # A2 free at 3, at S1 at 13, waits for the report at 100, loads to 105, H1 at 125.
    result = evaluate([("A2", ["C2"], "H1")], instance)
    assert result.arrivals == {"C2": 125}
    assert result.objective == pytest.approx(0.9)


def test_one_load_per_trip_for_two_casualties():
    # A2 free at 3 -> S1 at 13; C2 reported at 40, so loads 40-45; H1 at 65.
    # C3 p = 0.9 / (1 + 65/100) = 0.545455; C2 p = 0.9; one load only, not two.
    result = evaluate([("A2", ["C3", "C2"], "H1")])
    assert result.valid, result.reason
    assert result.arrivals == {"C3": 65, "C2": 65}
    assert result.objective == pytest.approx(0.9 / 1.65 + 0.9)


def test_unit_is_free_at_the_hospital_after_unloading():
    # A1: S1 at 10, H2 at 10+5+30 = 45 (C3 p = 0.9/1.45), free 55 at H2;
    # H2 -> S1 30: at 85, load 90, H1 at 110 (C2 p = 0.9).
    result = evaluate([("A1", ["C3"], "H2"), ("A1", ["C2"], "H1")])
    assert result.arrivals == {"C3": 45, "C2": 110}
    assert result.objective == pytest.approx(0.9 / 1.45 + 0.9)


def test_unit_leaves_no_earlier_than_now():
    instance = tiny_instance()
    instance["now"] = 20
    # A1 available at 0 but the snapshot is at 20: S1 at 30, H1 at 55.
    result = evaluate([("A1", ["C1"], "H1")], instance)
    assert result.arrivals == {"C1": 55}


def test_survival_time_is_clamped_at_zero():
    instance = tiny_instance()
    instance["casualties"][0]["injured_at"] = 100
    # Arrival 35 is before the recorded injury at 100: t clamps to 0, p = b0 = 0.4.
    result = evaluate([("A1", ["C1"], "H1")], instance)
    assert result.objective == pytest.approx(0.4)


def test_empty_plan_is_valid_and_scores_zero():
    result = evaluate([])
    assert result.valid and result.objective == 0 and result.last_arrival is None


def test_later_last_arrival_loses_a_tie():
    # A1: S2 at 12, load to 17, H1 at 42.  A2 (free at 3): S2 at 15, H1 at 45. Both p = 0.95.
    early = evaluate([("A1", ["C5"], "H1")])
    late = evaluate([("A2", ["C5"], "H1")])
    assert early.objective == late.objective == pytest.approx(0.95)
    assert (early.last_arrival, late.last_arrival) == (42, 45)
    assert early.better_than(late) and not late.better_than(early)


@pytest.mark.parametrize(
    ("trips", "reason"),
    [
        ([("A1", ["C3", "C2"], "H1")], "capacity"),
        ([("A2", ["C2", "C5"], "H1")], "more than one place"),
        ([("A1", ["C1"], "H2")], "lacks trauma"),
        ([("A2", ["C1"], "H1")], "needs ALS"),
        ([("A1", ["C2"], "H2")], "0 green beds"),
        ([("A1", ["C3"], "H2"), ("A2", ["C3"], "H2")], "transported twice"),
        ([("A2", ["C3", "C3"], "H1")], "transported twice"),
        ([("A2", ["C3"], "H2"), ("A1", ["C2"], "H2")], "0 green beds"),
        ([("A1", ["C4"], "H1")], "black casualty C4 is never transported"),
        ([("A9", ["C1"], "H1")], "unknown ambulance"),
        ([("A1", ["C9"], "H1")], "unknown casualty"),
        ([("A1", ["C1"], "H9")], "unknown hospital"),
        ([("A1", [], "H1")], "no casualties"),
    ],
)
def test_each_broken_rule_scores_zero_with_a_reason(trips, reason):
    result = evaluate(trips)
    assert not result.valid
    assert result.objective == 0
    assert reason in result.reason


def test_second_bed_of_a_category_over_the_count_is_invalid():
    instance = tiny_instance()
    instance["casualties"][2]["category"] = "red"
    # H1 has one red bed; C1 takes it, C3 (now red) is one too many.
    result = evaluate([("A1", ["C1"], "H1"), ("A2", ["C3"], "H1")], instance)
    assert not result.valid and "1 red beds" in result.reason


def test_missing_travel_pair_from_a_hospital_is_invalid():
    # A1 ends at H2 after C3; the matrix has no H2 -> S2 leg for the next pick-up of C5.
    result = evaluate([("A1", ["C3"], "H2"), ("A1", ["C5"], "H1")])
    assert not result.valid and "no travel time H2 -> S2" in result.reason


def test_missing_travel_pair_to_a_hospital_is_invalid():
    instance = tiny_instance()
    instance["casualties"][4]["category"] = "yellow"
    # H2 has a yellow bed, but the matrix has no S2 -> H2 leg.
    result = evaluate([("A2", ["C5"], "H2")], instance)
    assert not result.valid and "no travel time S2 -> H2" in result.reason


@pytest.mark.parametrize(
    "bad_plan",
    [
        None,
        [],
        {"trips": []},
        {"format": "mci-dispatch-plan/1"},
        {"format": "mci-dispatch-plan/1", "trips": [1]},
    ],
)
def test_malformed_plan_is_invalid(bad_plan):
    result = evaluate_plan(parse_instance(tiny_instance()), bad_plan)
    assert not result.valid and result.objective == 0
