"""Writes of a drill run: the exercise event from the drill's scenario, its terminals' tokens.

Every run is a fresh exercise event, `<slug>-<n>`, with its own copies of the scenario's
units (callsigns `<PREFIX><n>-...`) and hospitals (codes likewise): a rerun never meets the
casualties, transports or bed counts of an earlier run, and those stay as they were for the
after-action review. Starting run n closes the earlier runs of the same drill and revokes
their terminals' tokens, so an old drill process still running is cut off (4403).
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ambulance.models import Unit
from command_center.drills.timeline import Drill
from command_center.lifecycles import EVENT_LIFECYCLE
from command_center.models import EventStatusChange, MassEvent
from command_center.services import ExerciseCopy, scenario_load
from hospital_intake.models import Hospital
from hub.models import Terminal
from hub.services import terminal_token_issue, terminal_token_revoke

DRILL_ACTOR = "run_drill"


@dataclass(frozen=True)
class DrillTerminal:
    name: str
    token: str


@dataclass(frozen=True)
class MedicStart:
    terminal: DrillTerminal
    post: str
    lat: float
    lon: float


@dataclass(frozen=True)
class UnitStart:
    terminal: DrillTerminal
    callsign: str
    capacity: int
    lat: float
    lon: float
    station_lat: float
    station_lon: float


@dataclass(frozen=True)
class HospitalStart:
    terminal: DrillTerminal
    code: str
    beds: dict[str, int]
    lat: float
    lon: float


@dataclass(frozen=True)
class DrillRun:
    event: str
    run: int
    medics: dict[str, MedicStart]
    units: list[UnitStart]
    hospitals: list[HospitalStart]
    command: DrillTerminal


def _runs(drill: Drill) -> QuerySet[MassEvent]:
    # Slugs are [a-z0-9-] (checked when the drill is read): nothing to escape.
    return MassEvent.objects.filter(slug__regex=rf"^{drill.slug}-[0-9]+$", is_exercise=True)


def _run_number(drill: Drill) -> int:
    prefix = len(drill.slug) + 1
    return max((int(slug[prefix:]) for slug in _runs(drill).values_list("slug", flat=True)),
               default=0) + 1


def _close_earlier_runs(drill: Drill, run_slug: str) -> None:
    earlier = _runs(drill).select_for_update().exclude(slug=run_slug)
    now = timezone.now()
    for event in earlier:
        if event.status != MassEvent.Status.CLOSED:
            EVENT_LIFECYCLE.check(event.status, MassEvent.Status.CLOSED)
            EventStatusChange.objects.create(event=event, from_status=event.status,
                                             to_status=MassEvent.Status.CLOSED,
                                             changed_by=DRILL_ACTOR, changed_at=now)
            event.status = MassEvent.Status.CLOSED
            event.save(update_fields=["status"])
        for name in Terminal.objects.filter(
            name__startswith=f"{event.slug}.", revoked_at__isnull=True
        ).values_list("name", flat=True):
            terminal_token_revoke(name=name, revoked_by=DRILL_ACTOR)


def drill_run_start(*, drill: Drill, auto_dispatch: bool) -> DrillRun:
    """Make the next run's exercise event and issue a token for every simulated terminal."""
    with transaction.atomic():
        # One run number per start, even with two starts at once: they queue on this lock.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"drill:{drill.slug}"])
        run = _run_number(drill)
        slug = f"{drill.slug}-{run}"
        event, _ = scenario_load(path=drill.scenario, exercise=ExerciseCopy(
            slug=slug, name=f"{drill.name} #{run}",
            name_zh=f"{drill.name_zh} #{run}" if drill.name_zh else "",
            prefix=f"{drill.prefix}{run}-", auto_dispatch=auto_dispatch,
        ))
        _close_earlier_runs(drill, slug)

        def issue(name: str, kind: str, **binding: object) -> DrillTerminal:
            issued = terminal_token_issue(kind=kind, name=f"{slug}.{name}", issued_by=DRILL_ACTOR,
                                          **binding)
            return DrillTerminal(issued.terminal.name, issued.token)

        medics = {
            post.code: MedicStart(issue(f"medic-{post.code}", "field", event=event), post.code,
                                  post.location.y, post.location.x)
            for post in event.medical_posts.order_by("code")
        }
        units = [
            UnitStart(issue(f"crew-{unit.callsign}", "ambulance", event=event, unit=unit),
                      unit.callsign, unit.capacity,
                      (unit.position or unit.station.location).y,
                      (unit.position or unit.station.location).x,
                      unit.station.location.y, unit.station.location.x)
            for unit in Unit.objects.filter(event=event).select_related("station")
        ]
        hospitals = [
            HospitalStart(issue(f"screen-{hospital.code}", "hospital", hospital=hospital),
                          hospital.code, hospital.free_beds(), hospital.location.y,
                          hospital.location.x)
            for hospital in Hospital.objects.filter(exercise_event=event)
        ]
        command = issue("dispatcher", "command", event=event)
    return DrillRun(event=slug, run=run, medics=medics, units=units, hospitals=hospitals,
                    command=command)


def drill_run_close(*, event_slug: str) -> None:
    """The drill process ended: the run's event closes, its simulated terminals' tokens go."""
    with transaction.atomic():
        event = MassEvent.objects.select_for_update().get(slug=event_slug)
        if event.status == MassEvent.Status.ACTIVE:
            EventStatusChange.objects.create(event=event, from_status=event.status,
                                             to_status=MassEvent.Status.CLOSED,
                                             changed_by=DRILL_ACTOR, changed_at=timezone.now())
            event.status = MassEvent.Status.CLOSED
            event.save(update_fields=["status"])
        for name in Terminal.objects.filter(
            name__startswith=f"{event.slug}.", revoked_at__isnull=True
        ).values_list("name", flat=True):
            terminal_token_revoke(name=name, revoked_by=DRILL_ACTOR)
