"""Writes of the command centre: loading an event's scenario."""

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point
from django.db import transaction

from ambulance.models import Station, Unit
from command_center.models import MassEvent, MedicalPost
from hospital_intake.models import CAPABILITIES, Hospital

SCENARIO_FORMAT = "mci-scenario/1"


class ScenarioError(ValueError):
    """A scenario file that cannot be loaded; the message names the field."""


@dataclass(frozen=True)
class ScenarioCounts:
    medical_posts: int
    stations: int
    units: int
    hospitals: int


def _require(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise ScenarioError(f"{where}.{key}: is required")
    return obj[key]


def _point(obj: dict[str, Any], where: str) -> Point:
    lat, lon = _require(obj, "lat", where), _require(obj, "lon", where)
    if not isinstance(lat, int | float) or not -90 <= lat <= 90:
        raise ScenarioError(f"{where}.lat: must be -90..90")
    if not isinstance(lon, int | float) or not -180 <= lon <= 180:
        raise ScenarioError(f"{where}.lon: must be -180..180")
    return Point(lon, lat, srid=4326)


def scenario_load(*, path: Path) -> tuple[MassEvent, ScenarioCounts]:
    """Create or update everything a scenario file describes, keyed by natural keys.

    Loading the same file twice leaves the same rows: nothing is duplicated, and changed
    values in the file overwrite the stored ones.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ScenarioError(f"{path}: cannot be read as JSON ({error})") from None
    if document.get("format") != SCENARIO_FORMAT:
        raise ScenarioError(f"format: must be {SCENARIO_FORMAT!r}")
    with transaction.atomic():
        event = _load_event(_require(document, "event", "scenario"))
        posts = [_load_post(event, post, f"medical_posts[{i}]")
                 for i, post in enumerate(document.get("medical_posts", []))]
        stations = {station["code"]: _load_station(station, f"stations[{i}]")
                    for i, station in enumerate(document.get("stations", []))}
        units = [_load_unit(event, stations, unit, f"units[{i}]")
                 for i, unit in enumerate(document.get("units", []))]
        hospitals = [_load_hospital(hospital, f"hospitals[{i}]")
                     for i, hospital in enumerate(document.get("hospitals", []))]
    return event, ScenarioCounts(len(posts), len(stations), len(units), len(hospitals))


def _load_event(obj: dict[str, Any]) -> MassEvent:
    area = obj.get("venue_area")
    venue = None
    if area is not None:
        geometry = GEOSGeometry(json.dumps(area), srid=4326)
        venue = geometry if isinstance(geometry, MultiPolygon) else MultiPolygon(geometry)
    event, _ = MassEvent.objects.update_or_create(
        slug=_require(obj, "slug", "event"),
        defaults={
            "name": _require(obj, "name", "event"),
            "name_zh": obj.get("name_zh", ""),
            "venue_area": venue,
            "status": obj.get("status", "planned"),
            "is_exercise": bool(obj.get("is_exercise", False)),
            "starts_at": datetime.fromisoformat(obj["starts_at"]) if obj.get("starts_at") else None,
            "ends_at": datetime.fromisoformat(obj["ends_at"]) if obj.get("ends_at") else None,
        },
    )
    return event


def _load_post(event: MassEvent, obj: dict[str, Any], where: str) -> MedicalPost:
    post, _ = MedicalPost.objects.update_or_create(
        event=event, code=_require(obj, "code", where),
        defaults={"name": _require(obj, "name", where), "name_zh": obj.get("name_zh", ""),
                  "location": _point(obj, where)},
    )
    return post


def _load_station(obj: dict[str, Any], where: str) -> Station:
    station, _ = Station.objects.update_or_create(
        code=_require(obj, "code", where),
        defaults={"name": _require(obj, "name", where), "name_zh": obj.get("name_zh", ""),
                  "location": _point(obj, where)},
    )
    return station


def _load_unit(
    event: MassEvent, stations: dict[str, Station], obj: dict[str, Any], where: str
) -> Unit:
    station_code = _require(obj, "station", where)
    if station_code not in stations:
        raise ScenarioError(f"{where}.station: no station {station_code!r} in the scenario")
    level = _require(obj, "level", where)
    if level not in ("ALS", "BLS"):
        raise ScenarioError(f"{where}.level: must be ALS or BLS")
    capacity = obj.get("capacity", 1)
    if not isinstance(capacity, int) or not 1 <= capacity <= 4:
        raise ScenarioError(f"{where}.capacity: must be an integer 1..4")
    station = stations[station_code]
    unit, created = Unit.objects.update_or_create(
        callsign=_require(obj, "callsign", where),
        defaults={"level": level, "capacity": capacity, "station": station, "event": event},
    )
    if created:
        # A unit starts the scenario parked at its station.
        unit.position = station.location
        unit.save(update_fields=["position"])
    return unit


def _load_hospital(obj: dict[str, Any], where: str) -> Hospital:
    capabilities = obj.get("capabilities", [])
    for capability in capabilities:
        if capability not in CAPABILITIES:
            raise ScenarioError(f"{where}.capabilities: unknown capability {capability!r}")
    beds = obj.get("beds", {})
    for category in ("red", "yellow", "green"):
        if not isinstance(beds.get(category, 0), int) or beds.get(category, 0) < 0:
            raise ScenarioError(f"{where}.beds.{category}: must be an integer >= 0")
    hospital, _ = Hospital.objects.update_or_create(
        code=_require(obj, "code", where),
        defaults={
            "name": _require(obj, "name", where), "name_zh": obj.get("name_zh", ""),
            "location": _point(obj, where), "capabilities": capabilities,
            "beds_red": beds.get("red", 0), "beds_yellow": beds.get("yellow", 0),
            "beds_green": beds.get("green", 0),
        },
    )
    return hospital
