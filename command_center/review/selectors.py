"""Reads of the after-action review: the event's picture at any moment, the journal around
it, and the timelines the report is computed from.

The picture at a moment is asked for each time the slider stops or the player steps: every
part is an "as of t" lookup on an indexed history table (the rows each service writes in
the same transaction as the journal entry), so a step costs in proportion to the event's
casualties and units, never to the length of its journal.
"""

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import CharField, FloatField, Func, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from ambulance.models import Transport, Unit, UnitPosition, UnitStatusChange
from command_center.models import MassEvent, ReviewReport
from command_center.review.intervals import (
    CasualtyTimeline,
    TransportTimeline,
    injury_time,
)
from field_terminal.models import Casualty, CasualtyStatusChange, TriageAssessment
from hospital_intake.models import CapacityReport, Handover, Hospital
from hospital_intake.scope import hospitals_serving_filter
from hub import permissions
from hub.models import JournalEntry, Terminal
from hub.timefmt import iso_millis

# The event's local time, in which the review and the report show every time.
EVENT_TIME_ZONE = ZoneInfo(settings.TIME_ZONE)
# What the replay's journal panel lists: decisions and state changes. Positions, vitals and
# waveforms are on the map and in the record; listed, they would bury everything else.
REPLAY_JOURNAL_TYPES = (
    "casualty.report", "triage.update", "triage.changed", "casualty.status", "unit.status",
    "unit.changed", "capacity", "dispatch.accept", "dispatch.override", "dispatch.release",
    "dispatch.recommendation", "transport.assigned", "transport.cancelled", "order.assigned",
    "prearrival.notice", "prearrival.state", "handover", "handover.accept", "note",
    "consult.request",
)
JOURNAL_WINDOW = timedelta(minutes=5)
JOURNAL_ROWS = 25
# A build that has not beaten for this long lost its process (a restart, a crash).
STALE_BUILD = timedelta(minutes=10)


def review_event(*, terminal: Terminal | None, slug: str) -> MassEvent | None:
    """The event if this terminal may review it: command terminals of that event only."""
    if terminal is None or not permissions.may_command_event(terminal, slug):
        return None
    return MassEvent.objects.get(slug=slug)


def review_span(*, event: MassEvent) -> tuple[datetime, datetime]:
    """From the event topic's first journal entry to its last (the event's own clock)."""
    entries = JournalEntry.objects.filter(topic=event.topic).only("stored_at")
    first = entries.order_by("seq").first()
    last = entries.order_by("-seq").first()
    start = first.stored_at if first else (event.starts_at or event.created_at)
    end = last.stored_at if last else max(start, event.ends_at or timezone.now())
    return start, end


class Latitude(Func):
    function = "ST_Y"
    output_field = FloatField()


class Longitude(Func):
    function = "ST_X"
    output_field = FloatField()


def _latest(queryset: QuerySet[Any], field: str, order: str) -> Subquery:
    return Subquery(queryset.order_by(f"-{order}", "-id").values(field)[:1])


def review_state_at(*, event: MassEvent, at: datetime) -> dict[str, Any]:
    """The picture at `at`: casualties reported by then with their status and category as of
    then, units with their status and last fix, hospitals with their last capacity report."""
    status_then = CasualtyStatusChange.objects.filter(casualty=OuterRef("pk"), changed_at__lte=at)
    triage_then = TriageAssessment.objects.filter(casualty=OuterRef("pk"), assessed_at__lte=at)
    casualties = (
        Casualty.objects.filter(event=event, reported_at__lte=at)
        .annotate(status_then=_latest(status_then, "to_status", "changed_at"),
                  category_then=_latest(triage_then, "category", "assessed_at"),
                  lat=Latitude("location"), lon=Longitude("location"))
        .values("id", "tag", "lat", "lon", "category", "status_then", "category_then")
    )
    live = (
        Transport.objects.filter(casualty__event=event, assigned_at__lte=at)
        .exclude(cancelled_at__lte=at)
        .values_list("casualty_id", "unit__callsign", "hospital__code")
        .order_by("assigned_at")
    )
    carried = {casualty: (unit, hospital) for casualty, unit, hospital in live}
    casualty_rows: list[dict[str, Any]] = []
    for row in casualties:
        unit, hospital = carried.get(row["id"], (None, None))
        casualty_rows.append({
            "id": str(row["id"]), "tag": row["tag"],
            "category": row["category_then"] or row["category"],
            "status": row["status_then"] or "reported",
            "lat": row["lat"], "lon": row["lon"], "unit": unit, "hospital": hospital,
        })

    unit_status = UnitStatusChange.objects.filter(unit=OuterRef("pk"), changed_at__lte=at)
    fix = UnitPosition.objects.filter(unit=OuterRef("pk"), measured_at__lte=at).annotate(
        lat=Latitude("location"), lon=Longitude("location"))
    units = (
        Unit.objects.filter(event=event)
        .annotate(status_then=_latest(unit_status, "to_status", "changed_at"),
                  fix_at=_latest(fix, "measured_at", "measured_at"),
                  fix_lat=_latest(fix, "lat", "measured_at"),
                  fix_lon=_latest(fix, "lon", "measured_at"),
                  station_lat=Latitude("station__location"),
                  station_lon=Longitude("station__location"))
        .values("callsign", "level", "status_then", "fix_at", "fix_lat", "fix_lon",
                "station_lat", "station_lon")
    )
    unit_rows: list[dict[str, Any]] = []
    for unit_row in units:
        # Before its first fix a unit is at its station, as the dispatcher planned it.
        fixed = unit_row["fix_at"] is not None
        unit_rows.append({
            "callsign": unit_row["callsign"], "level": unit_row["level"],
            "status": unit_row["status_then"] or "available",
            "lat": unit_row["fix_lat"] if fixed else unit_row["station_lat"],
            "lon": unit_row["fix_lon"] if fixed else unit_row["station_lon"],
            "position_at": iso_millis(unit_row["fix_at"]) if fixed else None,
        })

    capacity = CapacityReport.objects.filter(hospital=OuterRef("pk"), reported_at__lte=at)
    serving = hospitals_serving_filter(event_id=event.pk, is_exercise=event.is_exercise)
    hospitals = Hospital.objects.filter(serving).annotate(
        red=_latest(capacity, "beds_red", "reported_at"),
        yellow=_latest(capacity, "beds_yellow", "reported_at"),
        green=_latest(capacity, "beds_green", "reported_at"),
        diverting=_latest(capacity, "diversion", "reported_at"),
    ).values("code", "name", "name_zh", "location", "red", "yellow", "green", "diverting")
    hospital_rows: list[dict[str, Any]] = [{
        "code": h["code"], "name": h["name"], "name_zh": h["name_zh"],
        "lat": h["location"].y, "lon": h["location"].x,
        # None: no report by then, so the figures are unknown (not zero).
        "beds": None if h["red"] is None else
        {"red": h["red"], "yellow": h["yellow"], "green": h["green"]},
        "diversion": bool(h["diverting"]),
    } for h in hospitals]
    return {
        "at": iso_millis(at),
        "casualties": casualty_rows,
        "units": unit_rows,
        "hospitals": hospital_rows,
        "journal": review_journal_around(event=event, at=at),
    }


def _entry_row(entry: JournalEntry) -> dict[str, Any]:
    return {"topic": entry.topic, "seq": entry.seq, "type": entry.type, "from": entry.sender,
            "ts": iso_millis(entry.stored_at),
            "data": json.dumps(entry.data, ensure_ascii=False, sort_keys=True)[:300]}


def review_journal_around(*, event: MassEvent, at: datetime
                          ) -> dict[str, list[dict[str, Any]]]:
    """The event's journal entries just before and just after `at`, newest before first.

    Bounded by time and type so that the (type, stored_at) index finds them; hospital topics
    are shared by every real event, so of theirs only the capacity reports and the messages
    about this event's casualties are listed.
    """
    # Subqueries, not lists: thousands of ids as parameters cost more than the query.
    casualty_ids = Casualty.objects.filter(event=event).values(
        text_id=Cast("id", output_field=CharField()))
    casualty_topics = Casualty.objects.filter(event=event).values(
        name=Concat(Value("casualty:"), Cast("id", output_field=CharField())))
    unit_topics = Unit.objects.filter(event=event).values(
        name=Concat(Value("unit:"), "callsign"))
    scope = (Q(topic=event.topic) | Q(topic__in=casualty_topics) | Q(topic__in=unit_topics)
             | Q(topic__startswith="hospital:", type="capacity")
             | Q(topic__startswith="hospital:", about__in=casualty_ids))
    window = JournalEntry.objects.annotate(about=KeyTextTransform("casualty", "data")).filter(
        scope, type__in=REPLAY_JOURNAL_TYPES)
    before = window.filter(stored_at__gt=at - JOURNAL_WINDOW, stored_at__lte=at).order_by(
        "-stored_at", "-id")[:JOURNAL_ROWS]
    after = window.filter(stored_at__gt=at, stored_at__lte=at + JOURNAL_WINDOW).order_by(
        "stored_at", "id")[:JOURNAL_ROWS]
    return {"before": [_entry_row(e) for e in before], "after": [_entry_row(e) for e in after]}


@dataclass(frozen=True)
class UnitHistory:
    callsign: str
    level: str
    status_at_start: str
    changes: tuple[tuple[datetime, str], ...]
    transports: tuple[TransportTimeline, ...]


@dataclass(frozen=True)
class HospitalHistory:
    code: str
    name: str
    name_zh: str
    transports: tuple[TransportTimeline, ...]
    arrivals_by_category: dict[str, int]
    # (time, red, yellow, green, diversion) as each report stated it.
    capacity: tuple[tuple[datetime, int, int, int, bool], ...]


@dataclass(frozen=True)
class ReportInput:
    event: MassEvent
    start: datetime
    end: datetime
    casualties: tuple[CasualtyTimeline, ...]
    units: tuple[UnitHistory, ...]
    hospitals: tuple[HospitalHistory, ...]


def _transport_timeline(transport: Transport) -> TransportTimeline:
    return TransportTimeline(
        transport=transport.pk, unit=transport.unit.callsign,
        hospital=transport.hospital.code, assigned_at=transport.assigned_at,
        on_scene_at=transport.on_scene_at, departed_at=transport.departed_at,
        arrived_at=transport.arrived_at, handed_over_at=transport.handed_over_at,
        cancelled_at=transport.cancelled_at,
    )


def review_report_input(*, event: MassEvent) -> ReportInput:
    """Everything the report is computed from, all of it this event's: its casualties, their
    transports, the units bound to it and the hospitals its transports went to."""
    start, end = review_span(event=event)
    transports = list(
        Transport.objects.filter(casualty__event=event).select_related("unit", "hospital")
        .order_by("assigned_at", "id")
    )
    by_casualty: dict[Any, list[TransportTimeline]] = defaultdict(list)
    for transport in transports:
        by_casualty[transport.casualty_id].append(_transport_timeline(transport))
    first_triage: dict[Any, datetime] = {}
    for casualty_id, assessed_at in (
        TriageAssessment.objects.filter(casualty__event=event)
        .order_by("assessed_at", "id").values_list("casualty_id", "assessed_at")
    ):
        first_triage.setdefault(casualty_id, assessed_at)
    stated: dict[Any, str] = {}
    for casualty_id, atmist in (
        Handover.objects.filter(casualty__event=event).order_by("given_at", "id")
        .values_list("casualty_id", "atmist")
    ):
        stated[casualty_id] = atmist.get("time", "")  # the latest handover's statement
    casualties = []
    for casualty in Casualty.objects.filter(event=event).order_by("reported_at", "id"):
        casualties.append(CasualtyTimeline(
            casualty=str(casualty.pk), tag=casualty.tag, category=casualty.category,
            status=casualty.status, reported_at=casualty.reported_at,
            triaged_at=first_triage.get(casualty.pk, casualty.reported_at),
            injury_stated_at=injury_time(stated=stated.get(casualty.pk, ""),
                                         reported_at=casualty.reported_at,
                                         zone=EVENT_TIME_ZONE),
            transports=tuple(by_casualty.get(casualty.pk, ())),
        ))

    unit_ids = set(Unit.objects.filter(event=event).values_list("pk", flat=True))
    unit_ids |= {t.unit_id for t in transports}
    changes: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    status_at_start: dict[int, str] = {}
    for unit_id, changed_at, to_status in (
        UnitStatusChange.objects.filter(unit_id__in=unit_ids, changed_at__lte=end)
        .order_by("changed_at", "id").values_list("unit_id", "changed_at", "to_status")
    ):
        if changed_at <= start:
            status_at_start[unit_id] = to_status
        else:
            changes[unit_id].append((changed_at, to_status))
    units = tuple(
        UnitHistory(
            callsign=unit.callsign, level=unit.level,
            status_at_start=status_at_start.get(unit.pk, "available"),
            changes=tuple(changes[unit.pk]),
            transports=tuple(_transport_timeline(t) for t in transports if t.unit_id == unit.pk),
        )
        for unit in Unit.objects.filter(pk__in=unit_ids).order_by("callsign")
    )

    category_of = {c.casualty: c.category for c in casualties}
    hospital_ids = {t.hospital_id for t in transports}
    hospitals = []
    for hospital in Hospital.objects.filter(pk__in=hospital_ids).order_by("code"):
        own = [t for t in transports if t.hospital_id == hospital.pk]
        arrived: dict[str, int] = defaultdict(int)
        for transport in own:
            if transport.arrived_at is not None:
                arrived[category_of[str(transport.casualty_id)]] += 1
        # The last report before the span tells what the hospital had when the event began.
        reports = CapacityReport.objects.filter(hospital=hospital)
        opening = reports.filter(reported_at__lte=start).order_by("-reported_at", "-id")[:1]
        during = reports.filter(reported_at__gt=start, reported_at__lte=end).order_by(
            "reported_at", "id")
        capacity = tuple(
            (r.reported_at, r.beds_red, r.beds_yellow, r.beds_green, r.diversion)
            for r in [*opening, *during]
        )
        hospitals.append(HospitalHistory(
            code=hospital.code, name=hospital.name, name_zh=hospital.name_zh,
            transports=tuple(_transport_timeline(t) for t in own),
            arrivals_by_category=dict(arrived), capacity=capacity,
        ))
    return ReportInput(event=event, start=start, end=end, casualties=tuple(casualties),
                       units=units, hospitals=tuple(hospitals))


def review_reports(*, event: MassEvent, limit: int = 10) -> list[ReviewReport]:
    return list(ReviewReport.objects.filter(event=event)[:limit])


def review_report_get(*, event: MassEvent, report_id: int) -> ReviewReport | None:
    return ReviewReport.objects.filter(event=event, pk=report_id).first()


def review_report_status(*, report: ReviewReport) -> dict[str, Any]:
    """The build's state as the page shows it; a build that stopped beating has failed."""
    state, error = report.state, report.error
    if state in (ReviewReport.State.QUEUED, ReviewReport.State.RUNNING) and (
            timezone.now() - report.heartbeat_at > STALE_BUILD):
        state, error = ReviewReport.State.FAILED, "interrupted: the build stopped reporting"
    return {
        "id": report.pk, "state": state, "progress": report.progress, "step": report.step,
        "error": error, "language": report.language, "requested_by": report.requested_by,
        "requested_at": iso_millis(report.requested_at),
        "finished_at": iso_millis(report.finished_at) if report.finished_at else None,
    }
