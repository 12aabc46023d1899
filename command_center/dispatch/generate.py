"""Seeded instance generator for tests, the benchmark and demos.

Families:
- ``single-site``: one collection point (a crowd crush); everyone injured at once, reported
  over `report_window` minutes (default 15).
- ``multi-site``: several points across the venue (a fire spreading, a marathon course), each
  with its own injury time in the first half hour, reports spread over an hour.

Both mix ALS/BLS units of capacity 1 and 2 (``capacity`` 1 or 2 forces one), hospitals with
different capabilities and per-category beds (some lack a category altogether), casualties
with needs, and units that are busy (free later at a hospital) or start at far stations.
Travel minutes are great-circle distance x 1.3 road circuity at 50 km/h, with a small
direction-dependent jitter so the matrix is asymmetric.
"""

from __future__ import annotations

import math
import random
from typing import Any

from .instance import INSTANCE_FORMAT

FAMILIES = ("single-site", "multi-site")
CENTER = (30.7421, 120.4863)
CIRCUITY = 1.3
SPEED_KMH = 50.0
IMMEDIATE = {"model": "loglogistic", "b0": 0.3510, "b1": 35.838, "b2": 1.9886}
DELAYED = {"model": "loglogistic", "b0": 0.9124, "b1": 213.5976, "b2": 2.3445}
MINOR = {"model": "constant", "p": 0.99}
CAPABILITIES = ("trauma", "burns", "pediatric")


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _around(
    rng: random.Random, center: tuple[float, float], min_km: float, max_km: float
) -> tuple[float, float]:
    distance = rng.uniform(min_km, max_km)
    bearing = rng.uniform(0, 2 * math.pi)
    lat = center[0] + distance * math.cos(bearing) / 111.0
    lon = center[1] + distance * math.sin(bearing) / (111.0 * math.cos(math.radians(center[0])))
    return round(lat, 5), round(lon, 5)


def generate_instance(
    *,
    family: str,
    casualties: int,
    seed: int,
    units: int | None = None,
    hospitals: int | None = None,
    sites: int | None = None,
    capacity: int | None = None,
    report_window: float | None = None,
) -> dict[str, Any]:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}")
    rng = random.Random(f"{family}:{casualties}:{seed}")
    units = units if units is not None else max(3, casualties // 10)
    hospitals = hospitals if hospitals is not None else min(30, max(3, casualties // 33))
    sites = (
        1
        if family == "single-site"
        else (sites if sites is not None else min(20, max(2, casualties // 50)))
    )
    report_window = (
        report_window if report_window is not None else (15.0 if family == "single-site" else 60.0)
    )

    places: list[dict[str, Any]] = []
    site_ids = []
    spread = 0.5 if family == "single-site" else 4.0
    for s in range(sites):
        site_ids.append(f"S{s + 1}")
        lat, lon = _around(rng, CENTER, 0.0, spread)
        places.append({"id": site_ids[-1], "kind": "site", "lat": lat, "lon": lon})

    hospital_records: list[dict[str, Any]] = []
    for h in range(hospitals):
        place = f"H{h + 1}"
        lat, lon = _around(rng, CENTER, 3.0, 25.0)
        places.append({"id": place, "kind": "hospital", "lat": lat, "lon": lon})
        # Hospital i < 3 surely has capability i, so every need has at least one capable bed.
        capabilities = [
            name for i, name in enumerate(CAPABILITIES) if h == i or rng.random() < 0.35
        ]
        share = casualties / hospitals
        beds = {
            "red": max(1, round(share * 0.3 * rng.uniform(0.6, 1.4))),
            "yellow": max(1, round(share * 0.45 * rng.uniform(0.6, 1.4))),
            "green": max(1, round(share * 0.6 * rng.uniform(0.6, 1.4))),
        }
        if h >= 3 and rng.random() < 0.2:
            del beds[rng.choice(("red", "green"))]  # a missing category means no such beds
        hospital_records.append(
            {"id": f"H{h + 1}", "place": place, "beds": beds, "capabilities": capabilities}
        )

    stations = max(2, units // 8)
    station_ids = []
    for k in range(stations):
        station_ids.append(f"ST{k + 1}")
        far = k >= stations - max(1, stations // 5)
        lat, lon = _around(rng, CENTER, 35.0, 55.0) if far else _around(rng, CENTER, 2.0, 15.0)
        places.append({"id": station_ids[-1], "kind": "station", "lat": lat, "lon": lon})

    coordinates = {p["id"]: (p["lat"], p["lon"]) for p in places}
    travel: dict[str, dict[str, float]] = {}
    destinations = site_ids + [h["place"] for h in hospital_records]
    for origin in coordinates:
        row: dict[str, float] = {}
        for destination in destinations:
            if destination == origin:
                continue
            minutes = (
                _haversine_km(coordinates[origin], coordinates[destination])
                * CIRCUITY
                / SPEED_KMH
                * 60.0
            )
            row[destination] = round(minutes * rng.uniform(1.0, 1.12) + 1.0, 1)
        travel[origin] = row

    ambulance_records = []
    for u in range(units):
        level = "ALS" if rng.random() < 0.4 else "BLS"
        unit_capacity = (
            capacity
            if capacity is not None
            else (2 if rng.random() < (0.2 if level == "ALS" else 0.45) else 1)
        )
        if rng.random() < 0.15:
            place, available_at = (
                rng.choice(hospital_records)["place"],
                round(rng.uniform(5, 40), 1),
            )
        else:
            place, available_at = rng.choice(station_ids), 0.0
        ambulance_records.append(
            {
                "id": f"A{u + 1}",
                "place": place,
                "available_at": available_at,
                "capacity": unit_capacity,
                "level": level,
            }
        )

    site_injured = {
        s: (0.0 if family == "single-site" else round(rng.uniform(0, 30), 1)) for s in site_ids
    }
    casualty_records = []
    for c in range(casualties):
        site = rng.choice(site_ids)
        roll = rng.random()
        category = (
            "red" if roll < 0.2 else "yellow" if roll < 0.5 else "green" if roll < 0.95 else "black"
        )
        needs: list[str] = []
        if category == "red":
            needs = ["trauma"] if rng.random() < 0.5 else (["burns"] if rng.random() < 0.2 else [])
            needs_als = rng.random() < 0.8
        elif category == "yellow":
            roll = rng.random()
            needs = (
                ["trauma"]
                if roll < 0.2
                else ["burns"]
                if roll < 0.25
                else ["pediatric"]
                if roll < 0.3
                else []
            )
            needs_als = rng.random() < 0.1
        else:
            needs_als = False
        injured_at = site_injured[site]
        reported_at = round(injured_at + rng.uniform(0, report_window), 1)
        survival = {"red": IMMEDIATE, "yellow": DELAYED}.get(category, MINOR)
        record: dict[str, Any] = {
            "id": f"C{c + 1}",
            "place": site,
            "category": category,
            "injured_at": injured_at,
            "reported_at": reported_at,
            "needs": needs,
            "needs_als": needs_als,
            "survival": dict(survival),
        }
        casualty_records.append(record)

    return {
        "format": INSTANCE_FORMAT,
        "now": 0,
        "horizon": 480,
        "service_minutes": {"load": 5, "unload": 10},
        "places": places,
        "travel_minutes": travel,
        "casualties": casualty_records,
        "ambulances": ambulance_records,
        "hospitals": hospital_records,
    }
