"""An invalid instance raises InstanceError whose one-line message names the field."""

import copy

import pytest

from command_center.dispatch import InstanceError, generate_instance, parse_instance


@pytest.fixture(scope="module")
def good():
    return generate_instance(family="multi-site", casualties=12, seed=3, units=3, hospitals=3)


def test_generated_instance_parses(good):
    instance = parse_instance(good)
    assert len(instance.casualties) == 12 and len(instance.hospitals) == 3


def test_black_casualty_may_omit_its_survival_curve(good):
    raw = copy.deepcopy(good)
    raw["casualties"][0]["category"] = "black"
    del raw["casualties"][0]["survival"]
    assert parse_instance(raw).casualties[0].survival is None


def _set(path, value):
    def mutate(raw):
        target = raw
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_set(["format"], "mci-dispatch/2"), "format:"),
        (_set(["now"], "soon"), "now:"),
        (_set(["service_minutes", "load"], -1), "service_minutes.load:"),
        (_set(["places", 1, "kind"], "mall"), "places[1].kind:"),
        (_set(["places", 1, "id"], "S1"), "places[1].id:"),
        (_set(["places", 0, "lat"], 123.0), "places[0].lat:"),
        (_set(["travel_minutes", "S1", "H1"], -3), "travel_minutes.S1.H1:"),
        (_set(["travel_minutes", "S1", "NOWHERE"], 3), "travel_minutes.S1.NOWHERE:"),
        (_set(["casualties", 3, "survival", "b1"], 0), "casualties[3].survival.b1: must be > 0"),
        (_set(["casualties", 3, "survival", "b2"], -1), "casualties[3].survival.b2:"),
        (
            _set(["casualties", 3, "survival"], {"model": "weibull"}),
            "casualties[3].survival.model:",
        ),
        (
            _set(["casualties", 3, "survival"], {"model": "constant", "p": 1.5}),
            "casualties[3].survival.p:",
        ),
        (
            _set(["casualties", 3, "survival"], KeyError),
            "casualties[3].survival: must be an object",
        ),
        (_set(["casualties", 2, "category"], "blue"), "casualties[2].category:"),
        (_set(["casualties", 2, "place"], "MOON"), "casualties[2].place:"),
        (_set(["casualties", 2, "reported_at"], None), "casualties[2].reported_at:"),
        (_set(["casualties", 2, "needs_als"], "yes"), "casualties[2].needs_als:"),
        (_set(["casualties", 2, "needs"], "trauma"), "casualties[2].needs:"),
        (_set(["casualties", 2, "id"], "C1"), "casualties[2].id:"),
        (_set(["ambulances", 1, "capacity"], 0), "ambulances[1].capacity:"),
        (_set(["ambulances", 1, "capacity"], True), "ambulances[1].capacity:"),
        (_set(["ambulances", 1, "level"], "MICU"), "ambulances[1].level:"),
        (_set(["ambulances", 1, "available_at"], float("nan")), "ambulances[1].available_at:"),
        (_set(["hospitals", 0, "beds"], {"red": -1}), "hospitals[0].beds.red:"),
        (_set(["hospitals", 0, "beds"], {"purple": 1}), "hospitals[0].beds.purple:"),
        (_set(["hospitals", 0, "capabilities"], [""]), "hospitals[0].capabilities[0]:"),
        (_set(["hospitals"], {}), "hospitals: must be a list"),
    ],
)
def test_invalid_field_is_named_in_a_one_line_message(good, mutate, field):
    raw = copy.deepcopy(good)
    mutate(raw)
    with pytest.raises(InstanceError) as raised:
        parse_instance(raw)
    message = str(raised.value)
    assert message.startswith(field) and "\n" not in message


def test_instance_that_is_not_an_object_is_rejected():
    with pytest.raises(InstanceError, match=r"^instance: must be an object"):
        parse_instance([])
