"""The drill's simulated terminals, each a real protocol client (hub.client.TerminalClient)
with its own token: medics, ambulance crews, hospital screens and, if asked, a dispatcher.

Nothing here touches the database: everything the hub learns, it learns over the socket, as
from any other terminal. Drill time runs `speed` times faster than the wall clock; the
frames' own times (`t`, `t0`) are wall-clock times, as the hub keeps them.

Timing, in drill time:
- medics report each casualty at its timeline time, with a first set of vitals, then vitals
  every VITALS_EVERY[category] until a crew has the casualty; a delayed casualty whose vitals
  cross START's limits is re-triaged immediate, with the reason;
- a crew that gets `order.assigned` drives a straight line to the pick-up and on to the
  hospital in exactly the time the dispatch estimate gives (command_center.travel: distance x
  circuity at DISPATCH_ROAD_SPEED_KMH), so along the line it moves at road speed / circuity,
  and reports the road speed; one position a second of wall-clock time; on scene it loads
  for SERVICE_MINUTES["load"], at the hospital it gives the ATMIST handover and unloads for
  SERVICE_MINUTES["unload"] (the figures the plan assumes), then returns to its station;
  aboard, vitals and 2 s of lead II every minute;
- a hospital screen says `received` at once, acknowledges after HOSPITAL_ACK_MINUTES, takes
  the handover HOSPITAL_HANDOVER_MINUTES after the unit arrived, and then publishes its
  capacity with that patient's bed taken;
- the simulated dispatcher accepts each recommendation DISPATCHER_DELAY_SECONDS after it came,
  unless a newer one came meanwhile.
"""

import asyncio
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from command_center.drills.physiology import ECG_HZ, Patient
from command_center.drills.services import DrillRun, HospitalStart, MedicStart, UnitStart
from command_center.drills.timeline import Drill, PlannedCasualty
from command_center.travel import CIRCUITY, haversine_km
from hub.client import ClientError, Frame, ProtocolError, TerminalClient

logger = logging.getLogger("command_center.drill")

VITALS_EVERY = {"red": 300.0, "yellow": 600.0, "green": 900.0}
CREW_VITALS_EVERY = 60.0
HOSPITAL_ACK_MINUTES = (1.0, 3.0)
HOSPITAL_HANDOVER_MINUTES = (2.0, 4.0)
DISPATCHER_DELAY_SECONDS = 30.0
POSITION_EVERY_WALL_SECONDS = 1.0
ARRIVED_WITHIN_M = 5.0


def wall_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DrillClock:
    """Drill seconds since the start, running `speed` times faster than the wall clock."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.started = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self.started) * self.speed

    async def sleep(self, drill_seconds: float) -> None:
        await asyncio.sleep(max(0.0, drill_seconds) / self.speed)

    async def until(self, at: float) -> None:
        await self.sleep(at - self.now())


@dataclass
class Stats:
    sent: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    reported: Counter[str] = field(default_factory=Counter)
    handed_over: set[str] = field(default_factory=set)
    in_transport: set[str] = field(default_factory=set)


@dataclass
class Record:
    """A casualty as the drill knows it: the plan, its physiology, its current triage."""

    planned: PlannedCasualty
    patient: Patient
    triage: str
    with_crew: asyncio.Event = field(default_factory=asyncio.Event)


class Actor:
    """One simulated terminal: a TerminalClient, and the tasks that drive it."""

    def __init__(self, name: str, token: str, urls: list[str], clock: DrillClock,
                 stats: Stats, rng: random.Random) -> None:
        self.name = name
        self.clock = clock
        self.stats = stats
        self.rng = rng
        self.client = TerminalClient(urls, token=token, on_message=self._on_message)
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: %r", self.name, task.exception())

    async def send(self, type: str, topic: str, data: dict[str, Any]) -> bool:
        """Send and wait for the ack; a refusal is counted and logged, never fatal: a drill
        meets the same conflicts as real terminals do (a human taking over, a stale plan)."""
        try:
            await self.client.send(type, topic, data)
        except ProtocolError as refusal:
            self.stats.refused[type] += 1
            logger.info("%s: %s on %s refused: %s", self.name, type, topic, refusal)
            return False
        self.stats.sent[type] += 1
        return True

    def _on_message(self, frame: Frame) -> None:
        self.handle(frame)

    def handle(self, frame: Frame) -> None:
        """A message on a subscribed topic."""

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.close()


class Medic(Actor):
    def __init__(self, start: MedicStart, event: str, records: dict[str, Record],
                 **common: Any) -> None:
        super().__init__(start.terminal.name, start.terminal.token, **common)
        self.event = event
        self.records = records

    async def work(self, planned: list[PlannedCasualty]) -> None:
        for casualty in planned:
            await self.clock.until(casualty.at_seconds)
            record = Record(casualty, Patient.admit(casualty.category, self.clock.now(),
                                                    random.Random(self.rng.random())),
                            casualty.category)
            self.records[casualty.casualty] = record
            data: dict[str, Any] = {
                "casualty": casualty.casualty, "tag": casualty.tag,
                "location": {"lat": casualty.lat, "lon": casualty.lon},
                "category": casualty.category, "method": casualty.method,
                "age_group": casualty.age_group, "sex": casualty.sex,
                "complaint": casualty.complaint,
            }
            if casualty.needs:
                data["needs"] = list(casualty.needs)
            if await self.send("casualty.report", f"event:{self.event}", data):
                self.stats.reported[casualty.category] += 1
                self.spawn(self.observe(record))

    async def observe(self, record: Record) -> None:
        topic = f"casualty:{record.planned.casualty}"
        while not record.with_crew.is_set():
            vitals = record.patient.vitals(self.clock.now())
            await self.send("vitals", topic, {"t": wall_now(), **vitals})
            if record.triage == "black":
                return
            reason = record.patient.now_immediate(vitals) if record.triage == "yellow" else None
            if reason is not None and await self.send(
                "triage.update", topic, {"category": "red", "method": "START", "reason": reason}
            ):
                record.triage = "red"
            try:
                await asyncio.wait_for(record.with_crew.wait(),
                                       VITALS_EVERY[record.triage] / self.clock.speed)
            except TimeoutError:
                continue


@dataclass
class Order:
    transport: int
    casualty: str
    hospital: str
    pickup: tuple[float, float]


class Crew(Actor):
    def __init__(self, start: UnitStart, records: dict[str, Record],
                 hospitals: dict[str, tuple[float, float]], incidents: dict[str, str],
                 road_speed_kmh: float, service_minutes: dict[str, float],
                 **common: Any) -> None:
        super().__init__(start.terminal.name, start.terminal.token, **common)
        self.callsign = start.callsign
        self.topic = f"unit:{start.callsign}"
        self.records = records
        self.hospitals = hospitals
        self.incidents = incidents
        self.position = (start.lat, start.lon)
        self.station = (start.station_lat, start.station_lon)
        self.road_mps = road_speed_kmh / 3.6
        self.service_minutes = service_minutes
        self.status = "available"
        self.orders: dict[int, Order] = {}
        self.wake = asyncio.Event()

    def handle(self, frame: Frame) -> None:
        data = frame.get("data") or {}
        if frame.get("type") == "order.assigned":
            self.orders[data["transport"]] = Order(
                data["transport"], data["casualty"], data["hospital"],
                (data["pickup"]["lat"], data["pickup"]["lon"]))
            self.status = "dispatched"  # the hub made it so with the order
            self.stats.in_transport.add(data["casualty"])
        elif frame.get("type") == "transport.cancelled":
            self.orders.pop(data["transport"], None)
            self.stats.in_transport.discard(data["casualty"])
            if not self.orders and self.status == "dispatched":
                self.status = "available"  # the hub frees a unit left without an order
        elif frame.get("type") == "unit.status" and frame.get("from") != self.name:
            self.status = data["status"]  # someone else (a dispatcher) moved the unit
        self.wake.set()

    async def work(self) -> None:
        await self.client.subscribe(self.topic)
        while True:
            self.wake.clear()
            if self.orders and self.status == "dispatched":
                await self.trip()
            elif self.status == "returning" and not self.orders:
                if await self.drive(self.station, lambda: bool(self.orders)):
                    await self.set_status("available")
            else:
                await self.wake.wait()

    async def set_status(self, status: str) -> None:
        if await self.send("unit.status", self.topic, {"status": status}):
            self.status = status

    async def drive(self, target: tuple[float, float], abort: Callable[[], bool]) -> bool:
        """Along the straight line to `target` at the speed that makes the estimated time
        come true; False if `abort()` became true on the way."""
        along_mps = self.road_mps / CIRCUITY
        # Steps follow the drill clock, not the count of ticks: a slow ack (a busy hub)
        # delays the next fix but not the unit.
        last_tick = self.clock.now()
        while not abort():
            remaining_m = haversine_km(self.position, target) * 1000
            if remaining_m <= ARRIVED_WITHIN_M:
                return True
            await asyncio.sleep(POSITION_EVERY_WALL_SECONDS)
            now = self.clock.now()
            step_m = along_mps * (now - last_tick)
            last_tick = now
            fraction = min(1.0, step_m / remaining_m)
            heading = _bearing(self.position, target)
            self.position = (self.position[0] + (target[0] - self.position[0]) * fraction,
                             self.position[1] + (target[1] - self.position[1]) * fraction)
            await self.send("position", self.topic, {
                "t": wall_now(), "lat": round(self.position[0], 6),
                "lon": round(self.position[1], 6), "heading": round(heading, 1),
                "speed": round(self.road_mps, 1), "accuracy": 5.0,
            })
        return False

    async def trip(self) -> None:
        first = next(iter(self.orders.values()))
        if not await self.drive(first.pickup, lambda: first.transport not in self.orders):
            return
        await self.set_status("on_scene")
        # On scene moves every accepted transport of the unit aboard (ambulance.services).
        aboard = list(self.orders.values())
        monitors = []
        for order in aboard:
            record = self.records.get(order.casualty)
            if record is not None:
                record.with_crew.set()
                record.patient.in_care = True
                monitors.append(asyncio.create_task(self.monitor(record)))
        try:
            await self.clock.sleep(60 * self.service_minutes["load"])
            await self.set_status("transporting")
            hospital = self.hospitals[aboard[0].hospital]
            await self.drive(hospital, lambda: False)
            await self.set_status("at_hospital")
        finally:
            for monitor in monitors:
                monitor.cancel()
            await asyncio.gather(*monitors, return_exceptions=True)
        for order in aboard:
            await self.hand_over(order)
        await self.clock.sleep(60 * self.service_minutes["unload"])
        for order in aboard:
            self.orders.pop(order.transport, None)
        await self.set_status("returning")

    async def monitor(self, record: Record) -> None:
        topic = f"casualty:{record.planned.casualty}"
        while True:
            vitals = record.patient.vitals(self.clock.now())
            await self.send("vitals", topic, {"t": wall_now(), **vitals})
            if vitals["hr"]:
                await self.send("waveform", topic, {
                    "t0": wall_now(), "hz": ECG_HZ, "signal": "ecg_ii", "unit": "mV",
                    "samples": record.patient.ecg(float(vitals["hr"])),
                })
            await self.clock.sleep(CREW_VITALS_EVERY)

    async def hand_over(self, order: Order) -> None:
        record = self.records.get(order.casualty)
        if record is None:
            return
        planned = record.planned
        vitals = record.patient.vitals(self.clock.now())
        await self.send("handover", f"casualty:{order.casualty}", {"atmist": {
            "age": f"{planned.age_group}, {planned.sex}",
            "time": f"reported {planned.at_seconds / 60:.0f} min into the drill",
            "mechanism": self.incidents.get(planned.incident, planned.incident),
            "injuries": planned.complaint,
            "signs": (f"HR {vitals['hr']}, BP {vitals['sbp']}/{vitals['dbp']}, "
                      f"RR {vitals['rr']}, SpO2 {vitals['spo2']}%, GCS {vitals['gcs']}"),
            "treatment": "oxygen, IV access, splinting as needed (drill)",
        }, "notes": "EXERCISE: simulated handover"})


class HospitalScreen(Actor):
    def __init__(self, start: HospitalStart, **common: Any) -> None:
        super().__init__(start.terminal.name, start.terminal.token, **common)
        self.code = start.code
        self.topic = f"hospital:{start.code}"
        self.beds = dict(start.beds)
        self.categories: dict[str, str] = {}

    async def work(self) -> None:
        await self.client.subscribe(self.topic)

    def handle(self, frame: Frame) -> None:
        data = frame.get("data") or {}
        if frame.get("type") == "prearrival.notice":
            self.categories[data["casualty"]] = data["category"]
            self.spawn(self.acknowledge(data["notice"]))
        elif frame.get("type") == "prearrival.state" and data.get("state") == "arrived":
            self.spawn(self.receive(data["casualty"]))

    async def acknowledge(self, notice: int) -> None:
        await self.send("prearrival.ack", self.topic, {"notice": notice, "state": "received"})
        await self.clock.sleep(60 * self.rng.uniform(*HOSPITAL_ACK_MINUTES))
        await self.send("prearrival.ack", self.topic,
                        {"notice": notice, "state": "acknowledged"})

    async def receive(self, casualty: str) -> None:
        await self.clock.sleep(60 * self.rng.uniform(*HOSPITAL_HANDOVER_MINUTES))
        if not await self.send("handover.accept", self.topic, {"casualty": casualty}):
            return
        self.stats.handed_over.add(casualty)
        self.stats.in_transport.discard(casualty)
        category = self.categories.get(casualty)
        if category in self.beds:
            self.beds[category] = max(0, self.beds[category] - 1)
            await self.send("capacity", self.topic, {
                "beds": dict(self.beds), "diversion": False,
                "note": "EXERCISE: a drill patient took this bed",
            })


class Dispatcher(Actor):
    def __init__(self, event: str, token: str, name: str, **common: Any) -> None:
        super().__init__(name, token, **common)
        self.topic = f"event:{event}"
        self.latest: int | None = None

    async def work(self) -> None:
        await self.client.subscribe(self.topic)

    def handle(self, frame: Frame) -> None:
        data = frame.get("data") or {}
        if frame.get("type") == "dispatch.recommendation" and data.get("assignments"):
            self.latest = data["recommendation"]
            self.spawn(self.accept(data["recommendation"]))

    async def accept(self, recommendation: int) -> None:
        await self.clock.sleep(DISPATCHER_DELAY_SECONDS)
        if recommendation == self.latest:
            await self.send("dispatch.accept", self.topic, {"recommendation": recommendation})


def _bearing(start: tuple[float, float], end: tuple[float, float]) -> float:
    lat1, lat2 = math.radians(start[0]), math.radians(end[0])
    dlon = math.radians(end[1] - start[1])
    x = math.sin(dlon) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


@dataclass
class DrillOutcome:
    drill_seconds: float
    wall_seconds: float
    stats: Stats


class DrillEngine:
    """All the drill's terminals, from connecting to the end of the drill (every casualty
    reported and every transportable one handed over, or `minutes` of drill time)."""

    def __init__(self, *, drill: Drill, run: DrillRun, plan: list[PlannedCasualty],
                 urls: list[str], speed: float, seed: int, simulated_dispatcher: bool,
                 road_speed_kmh: float, service_minutes: dict[str, float],
                 progress: Callable[[str], None], minutes: float | None = None) -> None:
        self.clock = DrillClock(speed)
        self.stats = Stats()
        self.plan = plan
        self.minutes = minutes
        self.progress = progress
        self.records: dict[str, Record] = {}
        rng = random.Random(seed)

        def common() -> dict[str, Any]:
            return {"urls": urls, "clock": self.clock, "stats": self.stats,
                    "rng": random.Random(rng.random())}

        hospitals = {h.code: (h.lat, h.lon) for h in run.hospitals}
        incidents = {incident.code: incident.name for incident in drill.incidents}
        self.medics = {code: Medic(start, run.event, self.records, **common())
                       for code, start in run.medics.items()}
        self.crews = [Crew(start, self.records, hospitals, incidents, road_speed_kmh,
                           service_minutes, **common()) for start in run.units]
        self.screens = [HospitalScreen(start, **common()) for start in run.hospitals]
        self.dispatcher = (Dispatcher(run.event, run.command.token, run.command.name,
                                      **common()) if simulated_dispatcher else None)

    @property
    def actors(self) -> list[Actor]:
        return [*self.medics.values(), *self.crews, *self.screens,
                *([self.dispatcher] if self.dispatcher else [])]

    def finished(self) -> bool:
        if self.minutes is not None:
            return self.clock.now() >= 60 * self.minutes
        reported = sum(self.stats.reported.values())
        transportable = {c.casualty for c in self.plan if c.category != "black"}
        return reported == len(self.plan) and transportable <= self.stats.handed_over

    def summary(self) -> str:
        minutes, seconds = divmod(int(self.clock.now()), 60)
        reported = self.stats.reported
        sent = self.stats.sent
        return (
            f"drill {minutes:3d}:{seconds:02d} | reported {sum(reported.values())}/"
            f"{len(self.plan)} (R{reported['red']} Y{reported['yellow']} G{reported['green']} "
            f"B{reported['black']}) | in transport {len(self.stats.in_transport)} | handed over "
            f"{len(self.stats.handed_over)} | vitals {sent['vitals']} ecg {sent['waveform']} "
            f"positions {sent['position']} statuses {sent['unit.status']} acks "
            f"{sent['prearrival.ack']} capacity {sent['capacity']} accepts "
            f"{sent['dispatch.accept']} refused {sum(self.stats.refused.values())}"
        )

    async def run(self, progress_every: float = 5.0) -> DrillOutcome:
        wall_started = time.monotonic()
        try:
            await asyncio.gather(*(actor.client.connect() for actor in self.actors))
            # Drill time starts once every terminal is connected, not while they connect.
            self.clock.started = time.monotonic()
            by_post: dict[str, list[PlannedCasualty]] = {}
            for casualty in self.plan:
                by_post.setdefault(casualty.medical_post, []).append(casualty)
            await asyncio.gather(*(screen.work() for screen in self.screens),
                                 *([self.dispatcher.work()] if self.dispatcher else []))
            for crew in self.crews:
                crew.spawn(crew.work())
            for code, planned in by_post.items():
                self.medics[code].spawn(self.medics[code].work(planned))
            next_progress = 0.0
            while not self.finished():
                failed = [actor.name for actor in self.actors if actor.client.failure]
                if failed:
                    raise ClientError(f"terminals cut off: {', '.join(failed[:5])}")
                if time.monotonic() - wall_started >= next_progress:
                    self.progress(self.summary())
                    next_progress += progress_every
                await asyncio.sleep(0.2)
            self.progress(self.summary())
            return DrillOutcome(self.clock.now(), time.monotonic() - wall_started, self.stats)
        finally:
            await asyncio.gather(*(actor.close() for actor in self.actors),
                                 return_exceptions=True)

