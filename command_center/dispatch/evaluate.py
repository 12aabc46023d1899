"""The referee: simulate a plan exactly as DISPATCH.md describes and score it.

This module deliberately works on the parsed records and dictionaries, not on the solver's
numeric model, so that a bug in the solver's fast arithmetic cannot hide behind the same bug
in the evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .instance import Instance

PLAN_FORMAT = "mci-dispatch-plan/1"


@dataclass(frozen=True)
class TripSchedule:
    ambulance: str
    casualties: tuple[str, ...]
    hospital: str
    departs_at: float
    reaches_place_at: float
    loads_at: float
    arrives_at: float


@dataclass(frozen=True)
class Evaluation:
    valid: bool
    reason: str
    objective: float
    last_arrival: float | None
    arrivals: dict[str, float] = field(default_factory=dict)
    survival: dict[str, float] = field(default_factory=dict)
    schedule: tuple[TripSchedule, ...] = ()

    def better_than(self, other: Evaluation) -> bool:
        """Higher expected survivors; on a tie the earlier last arrival wins."""
        if self.objective != other.objective:
            return self.objective > other.objective
        mine = self.last_arrival if self.last_arrival is not None else float("-inf")
        theirs = other.last_arrival if other.last_arrival is not None else float("-inf")
        return mine < theirs


def _invalid(reason: str) -> Evaluation:
    return Evaluation(valid=False, reason=reason, objective=0.0, last_arrival=None)


def evaluate_plan(instance: Instance, plan: Any) -> Evaluation:
    """Score a plan; an invalid plan scores 0 and `reason` says which rule it broke."""
    if not isinstance(plan, dict):
        return _invalid("plan must be an object")
    if plan.get("format") != PLAN_FORMAT:
        return _invalid(f"plan format must be {PLAN_FORMAT!r}")
    trips = plan.get("trips")
    if not isinstance(trips, list):
        return _invalid("plan trips must be a list")

    casualties = {casualty.id: casualty for casualty in instance.casualties}
    ambulances = {ambulance.id: ambulance for ambulance in instance.ambulances}
    hospitals = {hospital.id: hospital for hospital in instance.hospitals}
    # Each unit starts free at its place; trips of one unit run in plan order.
    unit_time = {a.id: max(instance.now, a.available_at) for a in instance.ambulances}
    unit_place = {a.id: a.place for a in instance.ambulances}
    beds_used: dict[tuple[str, str], int] = {}
    transported: set[str] = set()
    arrivals: dict[str, float] = {}
    survival: dict[str, float] = {}
    schedule: list[TripSchedule] = []

    for index, trip in enumerate(trips):
        where = f"trips[{index}]"
        if not isinstance(trip, dict):
            return _invalid(f"{where}: must be an object")
        ambulance = ambulances.get(trip.get("ambulance"))  # type: ignore[arg-type]
        if ambulance is None:
            return _invalid(f"{where}: unknown ambulance {trip.get('ambulance')!r}")
        hospital = hospitals.get(trip.get("hospital"))  # type: ignore[arg-type]
        if hospital is None:
            return _invalid(f"{where}: unknown hospital {trip.get('hospital')!r}")
        names = trip.get("casualties")
        if not isinstance(names, list):
            return _invalid(f"{where}: casualties must be a list")
        if not names:
            return _invalid(f"{where}: a trip with no casualties")
        if len(names) > ambulance.capacity:
            return _invalid(
                f"{where}: {len(names)} casualties exceed capacity {ambulance.capacity} "
                f"of {ambulance.id}"
            )
        aboard = []
        for name in names:
            casualty = casualties.get(name) if isinstance(name, str) else None
            if casualty is None:
                return _invalid(f"{where}: unknown casualty {name!r}")
            if casualty.id in transported:
                return _invalid(f"{where}: casualty {casualty.id} transported twice")
            transported.add(casualty.id)
            if casualty.category == "black":
                return _invalid(f"{where}: black casualty {casualty.id} is never transported")
            if casualty.needs_als and ambulance.level != "ALS":
                return _invalid(
                    f"{where}: {casualty.id} needs ALS, {ambulance.id} is {ambulance.level}"
                )
            missing = casualty.needs - hospital.capabilities
            if missing:
                return _invalid(
                    f"{where}: {hospital.id} lacks {', '.join(sorted(missing))} "
                    f"needed by {casualty.id}"
                )
            key = (hospital.id, casualty.category)
            beds_used[key] = beds_used.get(key, 0) + 1
            if beds_used[key] > hospital.beds_of(casualty.category):
                return _invalid(
                    f"{where}: {hospital.id} has {hospital.beds_of(casualty.category)} "
                    f"{casualty.category} beds, plan sends more"
                )
            aboard.append(casualty)
        pickup_places = {casualty.place for casualty in aboard}
        if len(pickup_places) != 1:
            return _invalid(f"{where}: casualties at more than one place {sorted(pickup_places)}")
        pickup = aboard[0].place
        to_pickup = instance.travel(unit_place[ambulance.id], pickup)
        if to_pickup is None:
            return _invalid(f"{where}: no travel time {unit_place[ambulance.id]} -> {pickup}")
        to_hospital = instance.travel(pickup, hospital.place)
        if to_hospital is None:
            return _invalid(f"{where}: no travel time {pickup} -> {hospital.place}")

        departs_at = unit_time[ambulance.id]
        reaches_place_at = departs_at + to_pickup
        # The unit waits at the place until every casualty it carries has been reported.
        loads_at = max(reaches_place_at, max(casualty.reported_at for casualty in aboard))
        arrives_at = loads_at + instance.load_minutes + to_hospital
        for casualty in aboard:
            assert casualty.survival is not None  # only black casualties may lack one
            arrivals[casualty.id] = arrives_at
            survival[casualty.id] = casualty.survival.probability(arrives_at - casualty.injured_at)
        schedule.append(
            TripSchedule(
                ambulance=ambulance.id,
                casualties=tuple(c.id for c in aboard),
                hospital=hospital.id,
                departs_at=departs_at,
                reaches_place_at=reaches_place_at,
                loads_at=loads_at,
                arrives_at=arrives_at,
            )
        )
        unit_time[ambulance.id] = arrives_at + instance.unload_minutes
        unit_place[ambulance.id] = hospital.place

    return Evaluation(
        valid=True,
        reason="valid",
        objective=sum(survival.values()),
        last_arrival=max(arrivals.values()) if arrivals else None,
        arrivals=arrivals,
        survival=survival,
        schedule=tuple(schedule),
    )
