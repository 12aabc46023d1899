"""The after-action figures from timelines: pure functions, no database, so that the
definitions in docs/review.md can be checked on hand-built cases."""

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

CATEGORIES = ("red", "yellow", "green", "black")
INTERVALS = ("injury_to_triage", "triage_to_dispatch", "dispatch_to_on_scene",
             "on_scene_to_hospital", "injury_to_hospital")
# A unit in one of these states is working for a casualty: dispatched to returning.
BUSY_UNIT_STATUSES = frozenset({"dispatched", "on_scene", "transporting", "at_hospital",
                                "returning"})

_CLOCK_TIME = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*$")


@dataclass(frozen=True)
class TransportTimeline:
    transport: int
    unit: str
    hospital: str
    assigned_at: datetime
    on_scene_at: datetime | None = None
    departed_at: datetime | None = None
    arrived_at: datetime | None = None
    handed_over_at: datetime | None = None
    cancelled_at: datetime | None = None


@dataclass(frozen=True)
class CasualtyTimeline:
    casualty: str
    tag: str
    category: str
    status: str
    reported_at: datetime
    triaged_at: datetime
    # None when no handover gave a time of injury that reads as a clock time.
    injury_stated_at: datetime | None = None
    transports: tuple[TransportTimeline, ...] = ()

    @property
    def injured_at(self) -> datetime:
        """The time of injury: as the crew's handover stated it, else the report, the first
        moment the hub knew of the casualty."""
        return self.injury_stated_at or self.reported_at

    @property
    def carrying_transport(self) -> TransportTimeline | None:
        """The transport that took the casualty (the last not cancelled); released or
        cancelled ones did not move the patient."""
        kept = [t for t in self.transports if t.cancelled_at is None]
        return max(kept, key=lambda t: t.assigned_at) if kept else None

    @property
    def released_transports(self) -> int:
        return sum(1 for t in self.transports if t.cancelled_at is not None)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def casualty_intervals(timeline: CasualtyTimeline) -> dict[str, float | None]:
    """The five intervals of one casualty in seconds; None where a step never happened."""
    carrying = timeline.carrying_transport
    assigned = carrying.assigned_at if carrying else None
    on_scene = carrying.on_scene_at if carrying else None
    arrived = carrying.arrived_at if carrying else None
    return {
        "injury_to_triage": _seconds(timeline.injured_at, timeline.triaged_at),
        "triage_to_dispatch": _seconds(timeline.triaged_at, assigned),
        "dispatch_to_on_scene": _seconds(assigned, on_scene),
        "on_scene_to_hospital": _seconds(on_scene, arrived),
        "injury_to_hospital": _seconds(timeline.injured_at, arrived),
    }


@dataclass(frozen=True)
class Summary:
    n: int
    median: float | None
    p90: float | None
    max: float | None


def nearest_rank(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `fraction` of the values
    at or below it (no interpolation: every figure is a time that happened)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summarise(values: Iterable[float | None]) -> Summary:
    present = [v for v in values if v is not None]
    if not present:
        return Summary(n=0, median=None, p90=None, max=None)
    return Summary(n=len(present), median=statistics.median(present),
                   p90=nearest_rank(present, 0.9), max=max(present))


@dataclass(frozen=True)
class CategoryFigures:
    category: str
    count: int
    transported: int
    never_transported: int
    released: int
    injury_stated: int
    intervals: dict[str, Summary] = field(default_factory=dict)


def category_figures(timelines: Sequence[CasualtyTimeline]) -> list[CategoryFigures]:
    """Per triage category (the casualty's last one): counts and each interval's summary."""
    figures = []
    for category in CATEGORIES:
        group = [t for t in timelines if t.category == category]
        intervals = [casualty_intervals(t) for t in group]
        figures.append(CategoryFigures(
            category=category, count=len(group),
            transported=sum(1 for i in intervals if i["injury_to_hospital"] is not None),
            never_transported=sum(1 for t in group if t.carrying_transport is None),
            released=sum(t.released_transports for t in group),
            injury_stated=sum(1 for t in group if t.injury_stated_at is not None),
            intervals={name: summarise(i[name] for i in intervals) for name in INTERVALS},
        ))
    return figures


def injury_time(*, stated: str, reported_at: datetime, zone: tzinfo) -> datetime | None:
    """The ATMIST "time of injury" as a moment: an ISO time with a zone, or a clock time
    HH:MM in the event's zone on the latest day that puts it at or before the report.
    Anything else ("about 9", "unknown") is no time."""
    text = stated.strip()
    match = _CLOCK_TIME.match(text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour > 23 or minute > 59:
            return None
        local_report = reported_at.astimezone(zone)
        moment = local_report.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if moment > local_report:
            moment -= timedelta(days=1)
        return moment
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True)
class UnitUse:
    unit: str
    busy_seconds: float
    span_seconds: float
    trips: int
    released: int

    @property
    def busy_fraction(self) -> float:
        return self.busy_seconds / self.span_seconds if self.span_seconds > 0 else 0.0


def busy_seconds(*, status_at_start: str, changes: Sequence[tuple[datetime, str]],
                 start: datetime, end: datetime) -> float:
    """Seconds of [start, end] the unit spent in a busy status, from its status at `start`
    and its later moves (time, new status) in time order."""
    total = 0.0
    status, since = status_at_start, start
    for at, to_status in changes:
        if at <= start:
            status = to_status
            continue
        if at >= end:
            break
        if status in BUSY_UNIT_STATUSES:
            total += (at - since).total_seconds()
        status, since = to_status, at
    if status in BUSY_UNIT_STATUSES and end > since:
        total += (end - since).total_seconds()
    return total


def step_series(changes: Iterable[tuple[datetime, int]]) -> list[tuple[datetime, int]]:
    """A running total after each change (time, +n / -n), changes at one moment merged."""
    series: list[tuple[datetime, int]] = []
    total = 0
    for at, delta in sorted(changes, key=lambda change: change[0]):
        total += delta
        if series and series[-1][0] == at:
            series[-1] = (at, total)
        else:
            series.append((at, total))
    return series


def beds_claimed(transports: Iterable[TransportTimeline]) -> list[tuple[datetime, int]]:
    """Beds a hospital had promised to this event over time: each transport to it claims one
    from its assignment until it is cancelled; a transport that arrived keeps its bed."""
    changes: list[tuple[datetime, int]] = []
    for transport in transports:
        changes.append((transport.assigned_at, 1))
        if transport.cancelled_at is not None:
            changes.append((transport.cancelled_at, -1))
    return step_series(changes)


def arrivals(transports: Iterable[TransportTimeline]) -> list[tuple[datetime, int]]:
    return step_series((t.arrived_at, 1) for t in transports if t.arrived_at is not None)
