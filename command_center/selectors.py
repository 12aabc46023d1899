"""Reads of the command centre: the dispatch snapshot of an event, in DISPATCH.md's format.

Rules the snapshot follows (DISPATCH.md leaves them to the hub):
- Casualties: those awaiting transport (black ones never are). Accepted ones are assigned, so
  they are not here and no re-solve can move them until they are released.
- `needs_als`: a red (immediate) casualty needs an ALS unit; yellow and green may go BLS.
- `injured_at`: the record has no injury time, so the report time stands in for it. Elapsed
  time is then under-counted by the minutes between injury and report, the same for every
  casualty, which keeps the ranking between them fair.
- Survival: DISPATCH.md's shifted log-logistic defaults for red and yellow; green is taken as
  constant 0.99 (minor injuries do not worsen measurably within hours), all in SURVIVAL below.
- Units: out-of-service ones are left out. A unit with an active transport, or unloading at a
  hospital, appears at that hospital free after unloading (its transport's ETA + unload).
  An available or returning unit is free now at its last reported position (its station
  before the first fix); a unit busy on a job the hub has no transport for (a status set by
  hand) is left out until it reports available or returning.
- Hospitals: those serving the event (a real event the real hospitals, an exercise event only
  its own copies, so a drill never plans with real beds nor a real plan with drill beds);
  published free beds minus beds claimed by transports under way to them
  (assigned, on scene, departed; the hospital counts arrived patients in its next report).
  A hospital on diversion has no beds.
- Places: one `site` per distinct casualty location (identical points share one), one `point`
  per free unit, one `hospital` per hospital. Travel minutes come from the TravelTimes
  provider for the pairs a plan can use: units and hospitals to sites, sites to hospitals.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from ambulance.models import Transport, Unit
from command_center.dispatch import INSTANCE_FORMAT
from command_center.models import MassEvent, Recommendation
from command_center.travel import LatLon, TravelTimes
from field_terminal.models import Casualty
from hospital_intake.models import Hospital
from hospital_intake.scope import hospitals_serving_filter

SURVIVAL: dict[str, dict[str, Any]] = {
    "red": {"model": "loglogistic", "b0": 0.3510, "b1": 35.838, "b2": 1.9886},
    "yellow": {"model": "loglogistic", "b0": 0.9124, "b1": 213.5976, "b2": 2.3445},
    "green": {"model": "constant", "p": 0.99},
}
ALS_CATEGORIES = frozenset({"red"})
SERVICE_MINUTES = {"load": 5.0, "unload": 10.0}
HORIZON_MINUTES = 480.0
# Transports whose bed is taken but not yet in the hospital's own count.
BED_CLAIMING_STATUSES = ("assigned", "on_scene", "departed")
# States in which a unit without a transport can take an order.
FREE_UNIT_STATUSES = ("available", "returning")


def needs_als(category: str) -> bool:
    return category in ALS_CATEGORIES


def hospital_place(code: str) -> str:
    return f"H:{code}"


def unit_place(callsign: str) -> str:
    return f"U:{callsign}"


@dataclass(frozen=True)
class Snapshot:
    """An instance plus what maps its minutes back to clock time."""

    instance: dict[str, Any]
    origin: datetime
    taken_at: datetime

    def clock(self, minutes: float) -> datetime:
        return self.origin + timedelta(minutes=minutes)


def _minutes(moment: datetime, origin: datetime) -> float:
    return round((moment - origin).total_seconds() / 60.0, 3)


def claimed_beds(hospitals: Iterable[Hospital]) -> dict[tuple[int, str], int]:
    """(hospital id, category) -> beds taken by transports under way there."""
    rows = (
        Transport.objects.filter(hospital__in=list(hospitals), status__in=BED_CLAIMING_STATUSES)
        .values("hospital_id", "casualty__category")
        .annotate(n=Count("id"))
    )
    return {(row["hospital_id"], row["casualty__category"]): row["n"] for row in rows}


def beds_left(hospital: Hospital, claimed: dict[tuple[int, str], int]) -> dict[str, int]:
    if hospital.diversion:
        return {"red": 0, "yellow": 0, "green": 0}
    return {
        category: max(0, free - claimed.get((hospital.pk, category), 0))
        for category, free in hospital.free_beds().items()
    }


def _lat_lon(point: Any) -> LatLon:
    return (float(point.y), float(point.x))


def dispatch_instance_for(event: MassEvent, *, travel: TravelTimes) -> Snapshot:
    """The event's `mci-dispatch/1` instance from live state (rules in the module docstring).

    Reads only; the travel provider may do network I/O, so call this outside a transaction.
    """
    taken_at = timezone.now()
    casualties = list(
        Casualty.objects.filter(event=event, status="awaiting_transport")
        .exclude(category="black")
        .order_by("reported_at", "id")
    )
    hospitals = list(
        Hospital.objects.filter(
            hospitals_serving_filter(event_id=event.pk, is_exercise=event.is_exercise)
        ).order_by("code")
    )
    claimed = claimed_beds(hospitals)
    units = list(
        Unit.objects.filter(event=event)
        .exclude(status="out_of_service")
        .select_related("station")
        .annotate(active=Count("transports", filter=Q(
            transports__status__in=Transport.ACTIVE_STATUSES)))
        .order_by("callsign")
    )
    # A unit's current trip: its latest transport that is active or just arrived.
    trips = {
        transport.unit_id: transport
        for transport in Transport.objects.filter(
            unit__in=units, status__in=(*Transport.ACTIVE_STATUSES, "arrived")
        ).select_related("hospital").order_by("assigned_at")
    }
    origin = min([taken_at, *(c.reported_at for c in casualties)])
    now = _minutes(taken_at, origin)
    unload = SERVICE_MINUTES["unload"]

    sites: dict[LatLon, str] = {}
    casualty_rows = []
    for casualty in casualties:
        point = (round(casualty.location.y, 6), round(casualty.location.x, 6))
        site = sites.setdefault(point, f"S{len(sites) + 1}")
        reported = _minutes(casualty.reported_at, origin)
        casualty_rows.append({
            "id": str(casualty.pk), "place": site, "category": casualty.category,
            "injured_at": reported, "reported_at": reported, "needs": sorted(casualty.needs),
            "needs_als": needs_als(casualty.category), "survival": SURVIVAL[casualty.category],
        })

    places: list[dict[str, Any]] = [
        {"id": site, "kind": "site", "lat": lat, "lon": lon} for (lat, lon), site in sites.items()
    ]
    hospital_points: dict[str, LatLon] = {}
    for hospital in hospitals:
        hospital_points[hospital_place(hospital.code)] = _lat_lon(hospital.location)
        places.append({"id": hospital_place(hospital.code), "kind": "hospital",
                       "lat": hospital_points[hospital_place(hospital.code)][0],
                       "lon": hospital_points[hospital_place(hospital.code)][1]})

    unit_points: dict[str, LatLon] = {}
    ambulance_rows = []
    for unit in units:
        trip = trips.get(unit.pk)
        if trip is not None and (unit.active or unit.status == "at_hospital"):
            # Free at the hospital after unloading; arrival from the ETA (or now, if late).
            arrival = trip.arrived_at or trip.eta or taken_at
            place = hospital_place(trip.hospital.code)
            available_at = max(now, _minutes(arrival, origin) + unload)
        elif unit.status not in FREE_UNIT_STATUSES:
            continue
        else:
            place = unit_place(unit.callsign)
            unit_points[place] = _lat_lon(unit.position or unit.station.location)
            available_at = now
        ambulance_rows.append({"id": unit.callsign, "place": place,
                               "available_at": round(available_at, 3),
                               "capacity": unit.capacity, "level": unit.level})
    for place_id, (lat, lon) in unit_points.items():
        places.append({"id": place_id, "kind": "point", "lat": lat, "lon": lon})

    site_points = {site: point for point, site in sites.items()}
    travel_minutes = _travel_matrix(travel, {**unit_points, **hospital_points}, site_points)
    for site, row in _travel_matrix(travel, site_points, hospital_points).items():
        travel_minutes.setdefault(site, {}).update(row)

    instance = {
        "format": INSTANCE_FORMAT, "now": now, "horizon": now + HORIZON_MINUTES,
        "service_minutes": dict(SERVICE_MINUTES), "places": places,
        "travel_minutes": travel_minutes, "casualties": casualty_rows,
        "ambulances": ambulance_rows,
        "hospitals": [
            {"id": hospital.code, "place": hospital_place(hospital.code),
             "beds": beds_left(hospital, claimed), "capabilities": sorted(hospital.capabilities)}
            for hospital in hospitals
        ],
    }
    return Snapshot(instance=instance, origin=origin, taken_at=taken_at)


def _travel_matrix(
    travel: TravelTimes, origins: dict[str, LatLon], destinations: dict[str, LatLon]
) -> dict[str, dict[str, float]]:
    if not origins or not destinations:
        return {}
    matrix = travel.minutes(list(origins.values()), list(destinations.values()))
    return {
        origin: {destination: round(minutes, 3)
                 for destination, minutes in zip(destinations, row, strict=True)}
        for origin, row in zip(origins, matrix, strict=True)
    }


def latest_recommendation(*, event: MassEvent) -> Recommendation | None:
    return Recommendation.objects.filter(event=event).first()
