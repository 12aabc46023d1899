"""Parse and validate an `mci-dispatch/1` instance into typed, immutable records.

Validation is strict because the instance is built from live state by another process: a bad
field must be reported by name (``casualties[3].survival.b1: must be > 0``) instead of
surfacing later as a wrong plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

INSTANCE_FORMAT = "mci-dispatch/1"
CATEGORIES = ("red", "yellow", "green", "black")
PLACE_KINDS = ("site", "hospital", "station", "point")
LEVELS = ("ALS", "BLS")


class InstanceError(ValueError):
    """An instance that breaks the contract; the message is one line starting with the field."""


@dataclass(frozen=True)
class Survival:
    model: str
    b0: float = 0.0
    b1: float = 1.0
    b2: float = 1.0
    p: float = 0.0

    def probability(self, minutes_since_injury: float) -> float:
        if self.model == "constant":
            return self.p
        t = max(0.0, minutes_since_injury)
        return self.b0 / (1.0 + (t / self.b1) ** self.b2)


@dataclass(frozen=True)
class Place:
    id: str
    kind: str
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class Casualty:
    id: str
    place: str
    category: str
    injured_at: float
    reported_at: float
    needs: frozenset[str]
    needs_als: bool
    survival: Survival | None


@dataclass(frozen=True)
class Ambulance:
    id: str
    place: str
    available_at: float
    capacity: int
    level: str


@dataclass(frozen=True)
class Hospital:
    id: str
    place: str
    beds: dict[str, int]
    capabilities: frozenset[str]

    def beds_of(self, category: str) -> int:
        # DISPATCH.md: a category missing from `beds` means 0 beds of that category.
        return self.beds.get(category, 0)


@dataclass(frozen=True)
class Instance:
    now: float
    horizon: float
    load_minutes: float
    unload_minutes: float
    places: dict[str, Place]
    travel_minutes: dict[str, dict[str, float]]
    casualties: tuple[Casualty, ...]
    ambulances: tuple[Ambulance, ...]
    hospitals: tuple[Hospital, ...]

    def travel(self, origin: str, destination: str) -> float | None:
        """Driving minutes, 0 from a place to itself, None when the matrix lacks the pair."""
        if origin == destination:
            return 0.0
        return self.travel_minutes.get(origin, {}).get(destination)


def _fail(field: str, problem: str) -> InstanceError:
    return InstanceError(f"{field}: {problem}")


def _path(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(field, "must be an object")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(field, "must be a list")
    return value


def _number(
    container: dict[str, Any], key: str, field: str, *, required: bool = True
) -> float | None:
    if key not in container:
        if required:
            raise _fail(_path(field, key), "is required")
        return None
    value = container[key]
    # bool is an int subclass in Python; `true` is not a number in the contract.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(_path(field, key), "must be a finite number")
    return float(value)


def _required_number(container: dict[str, Any], key: str, field: str) -> float:
    value = _number(container, key, field)
    assert value is not None
    return value


def _text(container: dict[str, Any], key: str, field: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise _fail(_path(field, key), "must be a non-empty string")
    return value


def _choice(container: dict[str, Any], key: str, field: str, allowed: tuple[str, ...]) -> str:
    value = container.get(key)
    if value not in allowed:
        raise _fail(_path(field, key), f"must be one of {', '.join(allowed)}")
    return value


def _strings(container: dict[str, Any], key: str, field: str) -> frozenset[str]:
    values = _list(container.get(key, []), _path(field, key))
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise _fail(f"{field}.{key}[{index}]", "must be a non-empty string")
    return frozenset(values)


def _unique_id(container: dict[str, Any], field: str, seen: set[str]) -> str:
    identifier = _text(container, "id", field)
    if identifier in seen:
        raise _fail(f"{field}.id", f"duplicate id {identifier!r}")
    seen.add(identifier)
    return identifier


def _known_place(container: dict[str, Any], field: str, places: dict[str, Place]) -> str:
    place = _text(container, "place", field)
    if place not in places:
        raise _fail(f"{field}.place", f"unknown place {place!r}")
    return place


def _survival(value: Any, field: str) -> Survival:
    survival = _object(value, field)
    model = _choice(survival, "model", field, ("loglogistic", "constant"))
    if model == "constant":
        p = _required_number(survival, "p", field)
        if not 0.0 <= p <= 1.0:
            raise _fail(f"{field}.p", "must be between 0 and 1")
        return Survival(model="constant", p=p)
    b0 = _required_number(survival, "b0", field)
    b1 = _required_number(survival, "b1", field)
    b2 = _required_number(survival, "b2", field)
    if not 0.0 <= b0 <= 1.0:
        raise _fail(f"{field}.b0", "must be between 0 and 1")
    if b1 <= 0.0:
        raise _fail(f"{field}.b1", "must be > 0")
    if b2 <= 0.0:
        raise _fail(f"{field}.b2", "must be > 0")
    return Survival(model="loglogistic", b0=b0, b1=b1, b2=b2)


def _places(raw: dict[str, Any]) -> dict[str, Place]:
    places: dict[str, Place] = {}
    seen: set[str] = set()
    for index, value in enumerate(_list(raw.get("places"), "places")):
        field = f"places[{index}]"
        entry = _object(value, field)
        identifier = _unique_id(entry, field, seen)
        kind = _choice(entry, "kind", field, PLACE_KINDS)
        lat = _number(entry, "lat", field, required=False)
        lon = _number(entry, "lon", field, required=False)
        if lat is not None and not -90.0 <= lat <= 90.0:
            raise _fail(f"{field}.lat", "must be between -90 and 90")
        if lon is not None and not -180.0 <= lon <= 180.0:
            raise _fail(f"{field}.lon", "must be between -180 and 180")
        places[identifier] = Place(id=identifier, kind=kind, lat=lat, lon=lon)
    return places


def _travel(raw: dict[str, Any], places: dict[str, Place]) -> dict[str, dict[str, float]]:
    matrix = _object(raw.get("travel_minutes"), "travel_minutes")
    travel: dict[str, dict[str, float]] = {}
    for origin, row in matrix.items():
        if origin not in places:
            raise _fail(f"travel_minutes.{origin}", "unknown place")
        row = _object(row, f"travel_minutes.{origin}")
        travel[origin] = {}
        for destination in row:
            field = f"travel_minutes.{origin}"
            if destination not in places:
                raise _fail(f"{field}.{destination}", "unknown place")
            minutes = _required_number(row, destination, field)
            if minutes < 0.0:
                raise _fail(f"{field}.{destination}", "must be >= 0")
            travel[origin][destination] = minutes
    return travel


def _casualties(raw: dict[str, Any], places: dict[str, Place]) -> tuple[Casualty, ...]:
    casualties = []
    seen: set[str] = set()
    for index, value in enumerate(_list(raw.get("casualties"), "casualties")):
        field = f"casualties[{index}]"
        entry = _object(value, field)
        identifier = _unique_id(entry, field, seen)
        place = _known_place(entry, field, places)
        category = _choice(entry, "category", field, CATEGORIES)
        injured_at = _required_number(entry, "injured_at", field)
        reported_at = _required_number(entry, "reported_at", field)
        needs = _strings(entry, "needs", field)
        needs_als = entry.get("needs_als", False)
        if not isinstance(needs_als, bool):
            raise _fail(f"{field}.needs_als", "must be true or false")
        # A black casualty is never transported, so its survival curve is never read.
        if "survival" in entry or category != "black":
            survival: Survival | None = _survival(entry.get("survival"), f"{field}.survival")
        else:
            survival = None
        casualties.append(
            Casualty(
                id=identifier,
                place=place,
                category=category,
                injured_at=injured_at,
                reported_at=reported_at,
                needs=needs,
                needs_als=needs_als,
                survival=survival,
            )
        )
    return tuple(casualties)


def _ambulances(raw: dict[str, Any], places: dict[str, Place]) -> tuple[Ambulance, ...]:
    ambulances = []
    seen: set[str] = set()
    for index, value in enumerate(_list(raw.get("ambulances"), "ambulances")):
        field = f"ambulances[{index}]"
        entry = _object(value, field)
        identifier = _unique_id(entry, field, seen)
        place = _known_place(entry, field, places)
        available_at = _required_number(entry, "available_at", field)
        capacity = entry.get("capacity")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise _fail(f"{field}.capacity", "must be an integer >= 1")
        level = _choice(entry, "level", field, LEVELS)
        ambulances.append(
            Ambulance(
                id=identifier,
                place=place,
                available_at=available_at,
                capacity=capacity,
                level=level,
            )
        )
    return tuple(ambulances)


def _hospitals(raw: dict[str, Any], places: dict[str, Place]) -> tuple[Hospital, ...]:
    hospitals = []
    seen: set[str] = set()
    for index, value in enumerate(_list(raw.get("hospitals"), "hospitals")):
        field = f"hospitals[{index}]"
        entry = _object(value, field)
        identifier = _unique_id(entry, field, seen)
        place = _known_place(entry, field, places)
        raw_beds = _object(entry.get("beds", {}), f"{field}.beds")
        beds: dict[str, int] = {}
        for category, count in raw_beds.items():
            if category not in CATEGORIES:
                raise _fail(f"{field}.beds.{category}", f"must be one of {', '.join(CATEGORIES)}")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise _fail(f"{field}.beds.{category}", "must be an integer >= 0")
            beds[category] = count
        capabilities = _strings(entry, "capabilities", field)
        hospitals.append(Hospital(id=identifier, place=place, beds=beds, capabilities=capabilities))
    return tuple(hospitals)


def parse_instance(obj: Any) -> Instance:
    """Validate a decoded JSON instance; raise InstanceError naming the first bad field."""
    raw = _object(obj, "instance")
    if raw.get("format") != INSTANCE_FORMAT:
        raise _fail("format", f"must be {INSTANCE_FORMAT!r}")
    now = _required_number(raw, "now", "")
    horizon = _number(raw, "horizon", "", required=False)
    service = _object(raw.get("service_minutes"), "service_minutes")
    load = _required_number(service, "load", "service_minutes")
    unload = _required_number(service, "unload", "service_minutes")
    if load < 0.0:
        raise _fail("service_minutes.load", "must be >= 0")
    if unload < 0.0:
        raise _fail("service_minutes.unload", "must be >= 0")
    places = _places(raw)
    return Instance(
        now=now,
        horizon=horizon if horizon is not None else math.inf,
        load_minutes=load,
        unload_minutes=unload,
        places=places,
        travel_minutes=_travel(raw, places),
        casualties=_casualties(raw, places),
        ambulances=_ambulances(raw, places),
        hospitals=_hospitals(raw, places),
    )
