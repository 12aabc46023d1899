"""Writes of the command centre: loading an event's scenario; dispatch recommendations and
the dispatcher's answers to them (accept, override, release)."""

import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from ambulance.models import Station, Transport, Unit
from ambulance.services import transport_assign, transport_release
from command_center.dispatch import baseline_plan, evaluate_plan, parse_instance, solve
from command_center.models import MassEvent, MedicalPost, Recommendation, RecommendationItem
from command_center.schemas import DispatchAccept, DispatchOverride, DispatchRelease
from command_center.selectors import (
    FREE_UNIT_STATUSES,
    beds_left,
    claimed_beds,
    dispatch_instance_for,
    latest_recommendation,
    needs_als,
)
from command_center.travel import TravelTimes, travel_times
from field_terminal.models import Casualty
from hospital_intake.models import CAPABILITIES, Hospital
from hospital_intake.scope import hospitals_serving_filter
from hub import metrics
from hub.errors import Conflict, Invalid
from hub.journal import StoredMessage, journal_append, journal_topics_lock, retry_rolled_back
from hub.models import Terminal
from hub.timefmt import iso_millis

logger = logging.getLogger(__name__)
AUTO_DISPATCH_SENDER = "hub (auto-dispatch)"

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


@dataclass(frozen=True)
class ExerciseCopy:
    """How a scenario is loaded as an exercise event instead of its real one: the event's own
    slug and names, and a prefix for station and hospital codes and unit callsigns, which are
    unique across events, so the exercise's stations, units and hospitals are copies of its
    own and loading it never changes a real one."""

    slug: str
    name: str
    name_zh: str
    prefix: str
    auto_dispatch: bool


def scenario_read(*, path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ScenarioError(f"{path}: cannot be read as JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != SCENARIO_FORMAT:
        raise ScenarioError(f"format: must be {SCENARIO_FORMAT!r}")
    return document


def scenario_load(
    *, path: Path, exercise: ExerciseCopy | None = None
) -> tuple[MassEvent, ScenarioCounts]:
    """Create or update everything a scenario file describes, keyed by natural keys.

    Loading the same file twice leaves the same rows: nothing is duplicated, and changed
    values in the file overwrite the stored ones. With `exercise`, the rows are the
    exercise event's copies (see ExerciseCopy).
    """
    document = scenario_read(path=path)
    prefix = exercise.prefix if exercise is not None else ""
    with transaction.atomic():
        event = _load_event(_require(document, "event", "scenario"), exercise)
        posts = [_load_post(event, post, f"medical_posts[{i}]")
                 for i, post in enumerate(document.get("medical_posts", []))]
        stations = {station["code"]: _load_station(station, f"stations[{i}]", prefix)
                    for i, station in enumerate(document.get("stations", []))}
        units = [_load_unit(event, stations, unit, f"units[{i}]", prefix)
                 for i, unit in enumerate(document.get("units", []))]
        hospitals = [_load_hospital(hospital, f"hospitals[{i}]", event if exercise else None,
                                    prefix)
                     for i, hospital in enumerate(document.get("hospitals", []))]
    return event, ScenarioCounts(len(posts), len(stations), len(units), len(hospitals))


def _load_event(obj: dict[str, Any], exercise: ExerciseCopy | None) -> MassEvent:
    area = obj.get("venue_area")
    venue = None
    if area is not None:
        geometry = GEOSGeometry(json.dumps(area), srid=4326)
        venue = geometry if isinstance(geometry, MultiPolygon) else MultiPolygon(geometry)
    slug, name = _require(obj, "slug", "event"), _require(obj, "name", "event")
    values = {
        "name": name, "name_zh": obj.get("name_zh", ""), "venue_area": venue,
        "status": obj.get("status", "planned"),
        "is_exercise": bool(obj.get("is_exercise", False)),
        "starts_at": datetime.fromisoformat(obj["starts_at"]) if obj.get("starts_at") else None,
        "ends_at": datetime.fromisoformat(obj["ends_at"]) if obj.get("ends_at") else None,
    }
    if exercise is not None:
        slug = exercise.slug
        values.update(name=exercise.name, name_zh=exercise.name_zh, status="active",
                      is_exercise=True, auto_dispatch=exercise.auto_dispatch,
                      starts_at=timezone.now(), ends_at=None)
    event, _ = MassEvent.objects.update_or_create(slug=slug, defaults=values)
    return event


def _load_post(event: MassEvent, obj: dict[str, Any], where: str) -> MedicalPost:
    post, _ = MedicalPost.objects.update_or_create(
        event=event, code=_require(obj, "code", where),
        defaults={"name": _require(obj, "name", where), "name_zh": obj.get("name_zh", ""),
                  "location": _point(obj, where)},
    )
    return post


def _load_station(obj: dict[str, Any], where: str, prefix: str) -> Station:
    station, _ = Station.objects.update_or_create(
        code=_prefixed(prefix, obj, "code", where),
        defaults={"name": _require(obj, "name", where), "name_zh": obj.get("name_zh", ""),
                  "location": _point(obj, where)},
    )
    return station


def _prefixed(prefix: str, obj: dict[str, Any], key: str, where: str) -> str:
    value = f"{prefix}{_require(obj, key, where)}"
    if len(value) > 32:
        raise ScenarioError(f"{where}.{key}: {value!r} is longer than 32 characters")
    return value


def _load_unit(
    event: MassEvent, stations: dict[str, Station], obj: dict[str, Any], where: str, prefix: str
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
        callsign=_prefixed(prefix, obj, "callsign", where),
        defaults={"level": level, "capacity": capacity, "station": station, "event": event},
    )
    if created:
        # A unit starts the scenario parked at its station.
        unit.position = station.location
        unit.save(update_fields=["position"])
    return unit


def _load_hospital(
    obj: dict[str, Any], where: str, exercise_event: MassEvent | None, prefix: str
) -> Hospital:
    capabilities = obj.get("capabilities", [])
    for capability in capabilities:
        if capability not in CAPABILITIES:
            raise ScenarioError(f"{where}.capabilities: unknown capability {capability!r}")
    beds = obj.get("beds", {})
    for category in ("red", "yellow", "green"):
        if not isinstance(beds.get(category, 0), int) or beds.get(category, 0) < 0:
            raise ScenarioError(f"{where}.beds.{category}: must be an integer >= 0")
    hospital, _ = Hospital.objects.update_or_create(
        code=_prefixed(prefix, obj, "code", where),
        defaults={
            "name": _require(obj, "name", where), "name_zh": obj.get("name_zh", ""),
            "location": _point(obj, where), "capabilities": capabilities,
            "beds_red": beds.get("red", 0), "beds_yellow": beds.get("yellow", 0),
            "beds_green": beds.get("green", 0), "exercise_event": exercise_event,
        },
    )
    return hospital


# --- dispatch ----------------------------------------------------------------------------------


def dispatch_recommend(
    *, event: MassEvent, travel: TravelTimes | None = None, time_limit: float | None = None
) -> Recommendation:
    """Snapshot, solve, store and publish `dispatch.recommendation` on the event's topic.

    The snapshot (which may ask a routing server) and the solve (a second of CPU) run before
    the transaction opens, so no row lock is held while they work.
    """
    snapshot = dispatch_instance_for(event, travel=travel or travel_times())
    instance = parse_instance(snapshot.instance)
    previous = latest_recommendation(event=event)
    started = time.perf_counter()
    plan = solve(
        instance, time_limit=time_limit or settings.DISPATCH_TIME_LIMIT, started_at=started,
        # The last plan as a warm start keeps a recommendation steady while little changes.
        warm_start=previous.plan if previous is not None else None,
    )
    solve_seconds = time.perf_counter() - started
    metrics.DISPATCH_SOLVE.observe(solve_seconds)
    solve_ms = round(solve_seconds * 1000)
    evaluation = evaluate_plan(instance, plan)
    baseline = evaluate_plan(instance, baseline_plan(instance)).objective
    casualty_category = {c.id: c.category for c in instance.casualties}
    units = dict(Unit.objects.filter(event=event).values_list("callsign", "pk"))
    hospitals = dict(Hospital.objects.values_list("code", "pk"))
    explain = plan.get("explain", {})

    def store() -> Recommendation:
        with transaction.atomic():
            _recommendation_rows_lock(
                event=event, unit_ids=[units[trip.ambulance] for trip in evaluation.schedule],
                casualty_ids=[c for trip in evaluation.schedule for c in trip.casualties],
                hospital_ids=[hospitals[trip.hospital] for trip in evaluation.schedule],
            )
            Recommendation.objects.filter(
                event=event, status=Recommendation.Status.CURRENT
            ).update(status=Recommendation.Status.SUPERSEDED)
            recommendation = Recommendation.objects.create(
                event=event, generated_at=snapshot.taken_at, instance=snapshot.instance, plan=plan,
                objective=evaluation.objective, baseline=baseline, solve_ms=solve_ms,
            )
            trips_of_unit: dict[str, int] = defaultdict(int)
            items = []
            for trip in evaluation.schedule:
                for casualty in trip.casualties:
                    items.append(RecommendationItem(
                        recommendation=recommendation, casualty_id=casualty,
                        unit_id=units[trip.ambulance], hospital_id=hospitals[trip.hospital],
                        category=casualty_category[casualty],
                        unit_trip=trips_of_unit[trip.ambulance],
                        pickup_eta=snapshot.clock(trip.reaches_place_at),
                        arrival_eta=snapshot.clock(trip.arrives_at),
                        survival=evaluation.survival[casualty],
                        explain=explain.get(casualty, "")[:500],
                    ))
                trips_of_unit[trip.ambulance] += 1
            RecommendationItem.objects.bulk_create(items)
            planned = {str(item.casualty_id) for item in items}
            journal_append(
                topic=event.topic, type="dispatch.recommendation",
                data={
                    "recommendation": recommendation.pk,
                    "generated_at": iso_millis(recommendation.generated_at),
                    "solve_ms": solve_ms,
                    "objective": round(evaluation.objective, 4),
                    "baseline": round(baseline, 4),
                    "assignments": [
                        {"casualty": str(item.casualty_id), "unit": trip_unit,
                         "hospital": trip_hospital, "category": item.category,
                         "pickup_eta": iso_millis(item.pickup_eta),
                         "arrival_eta": iso_millis(item.arrival_eta),
                         "survival": round(item.survival, 4), "explain": item.explain}
                        for item, trip_unit, trip_hospital in _item_names(items, units, hospitals)
                    ],
                    "unassigned": [c.id for c in instance.casualties if c.id not in planned],
                },
                terminal=None,
            )
            return recommendation

    return retry_rolled_back(store, what=f"dispatch recommendation of {event.slug}")


def _recommendation_rows_lock(*, event: MassEvent, unit_ids: list[int], casualty_ids: list[str],
                              hospital_ids: list[int]) -> None:
    """The key-share locks the plan's foreign keys need, taken now and in the global order.

    Left to themselves they are taken at commit (Django's foreign keys are deferred), after
    the event topic's append lock, and in plan order: a hub transaction that locked one of
    those rows for update and then appends to the event topic deadlocked with this one.
    """
    quote = connection.ops.quote_name
    rows: tuple[tuple[type[Model], list[Any]], ...] = (
        (MassEvent, [event.pk]), (Unit, unit_ids), (Casualty, casualty_ids),
        (Hospital, hospital_ids),
    )
    with connection.cursor() as cursor:
        for model, ids in rows:
            if not ids:
                continue
            key = model._meta.pk
            assert key is not None and key.column is not None
            column = quote(key.column)
            # Django's select_for_update has no FOR KEY SHARE, the lock a foreign key takes.
            cursor.execute(
                f"SELECT 1 FROM {quote(model._meta.db_table)} "
                f"WHERE {column} = ANY(%s::{key.db_type(connection)}[]) "
                f"ORDER BY {column} FOR KEY SHARE",
                [sorted({str(pk) for pk in ids})],
            )


def _item_names(
    items: list[RecommendationItem], units: dict[str, int], hospitals: dict[str, int]
) -> list[tuple[RecommendationItem, str, str]]:
    callsign = {pk: name for name, pk in units.items()}
    code = {pk: name for name, pk in hospitals.items()}
    return [(item, callsign[item.unit_id], code[item.hospital_id]) for item in items]


def _label(casualty: Casualty) -> str:
    return casualty.tag or str(casualty.pk)


def _assignment_refusal(*, casualty: Casualty, unit: Unit, hospital: Hospital,
                        unit_may_be_busy: bool) -> str | None:
    """Why this casualty cannot go in this unit to this hospital now, or None.

    The caller holds the row locks of all three, so the bed count cannot change meanwhile.
    """
    if casualty.status != "awaiting_transport":
        return f"data.casualty: casualty {_label(casualty)} is {casualty.status}, " \
               "not awaiting transport"
    orderable = FREE_UNIT_STATUSES + (("dispatched",) if unit_may_be_busy else ())
    if unit.status not in orderable:
        return f"data.unit: unit {unit.callsign} cannot take an order in state '{unit.status}'"
    if needs_als(casualty.category) and unit.level != "ALS":
        return (f"data.unit: casualty {_label(casualty)} ({casualty.category}) needs an ALS "
                f"unit; {unit.callsign} is {unit.level}")
    if hospital.diversion:
        return f"data.hospital: hospital {hospital.code} is on diversion"
    missing = [need for need in casualty.needs if need not in hospital.capabilities]
    if missing:
        return f"data.hospital: hospital {hospital.code} lacks capability {', '.join(missing)}"
    if beds_left(hospital, claimed_beds([hospital]))[casualty.category] <= 0:
        return f"data.hospital: hospital {hospital.code} has no free {casualty.category} bed"
    return None


def _assignment_rows_lock(*, callsigns: set[str], casualty_ids: set[str],
                          hospital_codes: set[str], event_topic: str,
                          transport_ids: frozenset[int] = frozenset()) -> None:
    """Lock what accepting assignments changes, before anything changes, in the global order.

    Rows first: units, then transports, then casualties, then hospitals (the order
    unit_status_change and transport_assign take them), each kind by key; then the append
    locks of every topic the assignments write to, in name order. Two accepts of overlapping
    plans then wait for each other instead of each holding a row or a topic the other needs.
    """
    list(Unit.objects.select_for_update(of=("self",)).filter(callsign__in=callsigns)
         .order_by("pk").values_list("pk", flat=True))
    list(Transport.objects.select_for_update(of=("self",)).filter(pk__in=transport_ids)
         .order_by("pk").values_list("pk", flat=True))
    list(Casualty.objects.select_for_update(of=("self",)).filter(pk__in=casualty_ids)
         .order_by("pk").values_list("pk", flat=True))
    list(Hospital.objects.select_for_update(of=("self",)).filter(code__in=hospital_codes)
         .order_by("pk").values_list("pk", flat=True))
    journal_topics_lock(topics={event_topic}
                        | {f"unit:{callsign}" for callsign in callsigns}
                        | {f"casualty:{casualty_id}" for casualty_id in casualty_ids}
                        | {f"hospital:{code}" for code in hospital_codes})


def _locked(casualty_id: str, callsign: str, code: str) -> tuple[Casualty, Unit, Hospital]:
    # Already locked by _assignment_rows_lock; this reads them as they are now.
    unit = Unit.objects.select_for_update(of=("self",)).get(callsign=callsign)
    casualty = Casualty.objects.select_for_update(of=("self",)).get(pk=casualty_id)
    hospital = Hospital.objects.select_for_update(of=("self",)).get(code=code)
    return casualty, unit, hospital


def _chosen_items(
    *, recommendation: Recommendation, casualties: list[str] | None
) -> list[RecommendationItem]:
    """The assignments to carry out: the listed casualties', or without `casualties` every
    assignment that can be carried out now, each free unit's next trip."""
    items = list(
        recommendation.items.select_related("unit", "hospital").order_by("unit_trip", "id")
    )
    if casualties is None:
        return [item for item in items if item.unit_trip == 0 and item.transport_id is None
                and item.unit.status in FREE_UNIT_STATUSES]
    by_casualty = {str(item.casualty_id): item for item in items}
    chosen = []
    for casualty_id in casualties:
        item = by_casualty.get(casualty_id)
        if item is None:
            raise Invalid(f"data.casualties: {casualty_id} is not in recommendation "
                          f"{recommendation.pk}")
        if item.transport_id is not None:
            raise Conflict(f"data.casualties: {casualty_id} is already accepted")
        if item.unit_trip > 0:
            raise Conflict(
                f"data.casualties: {casualty_id} is unit {item.unit.callsign}'s trip "
                f"{item.unit_trip + 1} in this plan; its earlier trip comes first"
            )
        chosen.append(item)
    return chosen


def _chosen_items_lock(*, recommendation: Recommendation, chosen: list[RecommendationItem]) -> None:
    _assignment_rows_lock(
        callsigns={item.unit.callsign for item in chosen},
        casualty_ids={str(item.casualty_id) for item in chosen},
        hospital_codes={item.hospital.code for item in chosen},
        event_topic=recommendation.event.topic,
    )


def _chosen_items_assign(*, chosen: list[RecommendationItem], accepted_by: str) -> list[Transport]:
    transports: list[Transport] = []
    # The casualties in key order, so the transports of one accept are made (and their
    # messages appended) in the same order however the dispatcher listed them.
    for item in sorted(chosen, key=lambda item: str(item.casualty_id)):
        casualty, unit, hospital = _locked(str(item.casualty_id), item.unit.callsign,
                                           item.hospital.code)
        # A unit that took the first casualty of a shared trip is dispatched for the rest.
        shares_trip = any(t.unit_id == unit.pk for t in transports)
        refusal = _assignment_refusal(casualty=casualty, unit=unit, hospital=hospital,
                                      unit_may_be_busy=shares_trip)
        if refusal is not None:
            raise Conflict(refusal)
        transport = transport_assign(
            casualty_id=str(item.casualty_id), callsign=unit.callsign,
            hospital_code=hospital.code,
            assigned_by=accepted_by, pickup_eta=item.pickup_eta, eta=item.arrival_eta,
        )
        item.transport = transport
        item.save(update_fields=["transport"])
        transports.append(transport)
    return transports


def recommendation_items_accept(
    *, recommendation: Recommendation, casualties: list[str] | None, accepted_by: str
) -> list[Transport]:
    """Turn assignments into transports, all or none. Without `casualties`, every assignment
    that can be carried out now: each free unit's next trip. Runs inside a transaction."""
    chosen = _chosen_items(recommendation=recommendation, casualties=casualties)
    _chosen_items_lock(recommendation=recommendation, chosen=chosen)
    return _chosen_items_assign(chosen=chosen, accepted_by=accepted_by)


def _event_recommendation(event_slug: str, recommendation_id: int) -> Recommendation:
    recommendation = Recommendation.objects.select_related("event").filter(
        pk=recommendation_id, event__slug=event_slug
    ).first()
    if recommendation is None:
        raise Invalid(f"data.recommendation: event {event_slug} has no recommendation "
                      f"{recommendation_id}")
    return recommendation


def recommendation_accept(
    *, terminal: Terminal, event_slug: str, client_id: str, payload: DispatchAccept
) -> StoredMessage:
    with transaction.atomic():
        recommendation = _event_recommendation(event_slug, payload.recommendation)
        chosen = _chosen_items(recommendation=recommendation, casualties=payload.casualties)
        _chosen_items_lock(recommendation=recommendation, chosen=chosen)
        message = journal_append(
            topic=recommendation.event.topic, type="dispatch.accept", data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
        _chosen_items_assign(chosen=chosen, accepted_by=terminal.name)
        return message


def recommendation_auto_accept(*, recommendation: Recommendation) -> list[Transport]:
    """What auto-dispatch does with a fresh recommendation; a refusal leaves it for the
    dispatcher (the next change re-solves anyway)."""
    def accept() -> list[Transport]:
        with transaction.atomic():
            return recommendation_items_accept(recommendation=recommendation, casualties=None,
                                               accepted_by=AUTO_DISPATCH_SENDER)

    try:
        return retry_rolled_back(accept, what=f"auto-dispatch of {recommendation.pk}")
    except Conflict as refusal:
        logger.warning("auto-dispatch of recommendation %s refused: %s", recommendation.pk,
                       refusal.message)
        return []


def _event_casualty(event_slug: str, casualty_id: str) -> Casualty:
    casualty = Casualty.objects.filter(pk=casualty_id, event__slug=event_slug).first()
    if casualty is None:
        raise Invalid(f"data.casualty: event {event_slug} has no casualty {casualty_id}")
    return casualty


def _releasable_transport(casualty: Casualty) -> Transport | None:
    return Transport.objects.filter(
        casualty=casualty, status__in=Transport.ACTIVE_STATUSES
    ).select_related("unit", "hospital").first()


def _release_rows_lock(*, event_slug: str, casualty: Casualty,
                       transport: Transport | None, also_unit: str | None = None,
                       also_hospital: str | None = None) -> None:
    """_assignment_rows_lock for taking back `transport` (and assigning anew, with `also_*`)."""
    callsigns = {also_unit} if also_unit else set()
    hospital_codes = {also_hospital} if also_hospital else set()
    if transport is not None:
        callsigns.add(transport.unit.callsign)
        hospital_codes.add(transport.hospital.code)
    _assignment_rows_lock(
        callsigns=callsigns, casualty_ids={str(casualty.pk)}, hospital_codes=hospital_codes,
        event_topic=f"event:{event_slug}",
        transport_ids=frozenset({transport.pk} if transport is not None else ()),
    )


def _release(*, casualty: Casualty, changed_by: str, reason: str) -> None:
    transport = _releasable_transport(casualty)
    if transport is None:
        raise Conflict(f"data.casualty: casualty {_label(casualty)} has no accepted transport")
    if transport.status != "assigned":
        raise Conflict(
            f"data.casualty: casualty {_label(casualty)}'s transport is {transport.status}; "
            "only an order whose unit is not yet on scene can be released"
        )
    transport_release(transport=transport, changed_by=changed_by, reason=reason)


def dispatch_release(
    *, terminal: Terminal, event_slug: str, client_id: str, payload: DispatchRelease
) -> StoredMessage:
    with transaction.atomic():
        casualty = _event_casualty(event_slug, payload.casualty)
        _release_rows_lock(event_slug=event_slug, casualty=casualty,
                           transport=_releasable_transport(casualty))
        casualty.refresh_from_db()
        message = journal_append(
            topic=f"event:{event_slug}", type="dispatch.release", data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
        _release(casualty=casualty, changed_by=terminal.name,
                 reason=f"released by {terminal.name}")
        return message


def dispatch_override(
    *, terminal: Terminal, event_slug: str, client_id: str, payload: DispatchOverride
) -> StoredMessage:
    """The dispatcher's own choice of unit and hospital, checked like a recommendation's; an
    accepted casualty whose unit is not yet on scene is re-assigned."""
    with transaction.atomic():
        casualty = _event_casualty(event_slug, payload.casualty)
        unit = Unit.objects.filter(callsign=payload.unit, event__slug=event_slug).first()
        if unit is None:
            raise Invalid(f"data.unit: event {event_slug} has no unit {payload.unit}")
        serving = hospitals_serving_filter(event_id=casualty.event_id,
                                           is_exercise=casualty.event.is_exercise)
        if not Hospital.objects.filter(serving, code=payload.hospital).exists():
            raise Invalid(f"data.hospital: event {event_slug} has no hospital "
                          f"{payload.hospital}")
        _release_rows_lock(event_slug=event_slug, casualty=casualty,
                           transport=_releasable_transport(casualty), also_unit=unit.callsign,
                           also_hospital=payload.hospital)
        casualty.refresh_from_db()
        message = journal_append(
            topic=f"event:{event_slug}", type="dispatch.override", data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
        if casualty.status == "assigned":
            _release(casualty=casualty, changed_by=terminal.name,
                     reason=f"overridden by {terminal.name}")
        casualty, unit, hospital = _locked(payload.casualty, payload.unit, payload.hospital)
        refusal = _assignment_refusal(casualty=casualty, unit=unit, hospital=hospital,
                                      unit_may_be_busy=True)
        if refusal is not None:
            raise Conflict(refusal)
        transport_assign(casualty_id=payload.casualty, callsign=unit.callsign,
                         hospital_code=hospital.code, assigned_by=terminal.name)
        return message
