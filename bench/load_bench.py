"""Load benchmark of the hub against a bare `websockets` relay, side by side in one run.

    python bench/load_bench.py [--quick] [--soak-seconds 600] [--workers 2]
                               [--only floor,sweep,scenario,soak] [--step-seconds 8]

Terminals speak the real protocol (hello with a token, subscribe with since, frames with
ids, acks) from load generator processes (bench/loadgen.py). The load is the issue's
mass-casualty mix, scaled by its number of casualties n:

- n casualty monitors (field terminals), each sending 1 Hz vitals to `casualty:<uuid>`;
  n/5 of them also send the ECG, 250 Hz in 10 `waveform` frames a second (25 samples each);
- n/5 ambulances (ambulance terminals), each sending 1 Hz `position` to `unit:<callsign>`;
- 20 viewers: 4 command consoles subscribed, like the real console, to the event topic and
  every unit topic (each position reaches 4 screens), and 16 hospital receiving screens,
  each subscribed to its share of the casualty topics (each vitals or ECG frame reaches 1).

So n = 500 (the mass-casualty load) is 1600 frames/s in and 1900 deliveries/s out.

Parts (each also run against the bare relay where that makes sense):
0. floor: 300 and 1600 pings/s from 100 clients to the bare relay, to Daphne serving the
   ping-answering applications of bench/daphne_echo.py (bare ASGI, Channels consumer) and to
   the hub: the CPU per frame of the socket path alone;
1. sweep: n steps up a ladder until p99 >= 100 ms or anything is lost; the last passing step
   is the highest sustained rate; for the bare relay, the hub on one Daphne and on two
   (terminals alternate between them);
2. scenario: n = 500 for a longer window, on the bare relay and the hub with one and two
   Daphne processes;
3. soak: 1000 idle terminals (each subscribed to its own `terminal:` topic) and 200 active
   (150 monitors with 1 Hz vitals, 30 ambulances with 1 Hz positions, 20 viewers) for
   --soak-seconds, the hub's RSS sampled every 30 s.

Measures per run: delivered events/s at the viewers, end-to-end latency (send -> viewer
receipt, one clock), ack latency, loss (every frame sent must reach every viewer subscribed
to its topic exactly once and, for the hub, be in the journal: counted in the database at
the end), CPU of the server processes and of PostgreSQL (this database's backends, plus its
shared background processes) and Redis, from /proc, and the servers' RSS. The generator
measures its own event-loop lag and CPU and the table says when it, not the server, was the
limit. Prints figures; asserts nothing (the machine is shared, the figures are noisy).
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procstat import CpuWindow, PidFinder, machine_busy_seconds, rss_bytes  # noqa: E402
from tests.support.hubs import DaphneProcess, free_port  # noqa: E402

BENCH_DB = "mcihub_bench"
EVENT = "bench"
LADDER = [5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 700, 1000, 1400, 2000, 2800, 4000]
MASS_CASUALTIES = 500
VIEWERS = 20
COMMAND_VIEWERS = 4
SOAK_IDLE = 1000
SOAK_MONITORS = 150
SOAK_UNITS = 30
P99_LIMIT = 0.100
MASS_P99_GOAL = 0.050
CPU_GOAL_OF_TWO_CORES = 70.0
RATIO_GOAL = 0.5
GENERATOR_LOOP_LAG_LIMIT = 0.025
GENERATOR_CPU_LIMIT = 85.0
SOAK_SAMPLE_SECONDS = 30.0
SOAK_SLOPE_LIMIT_MB_PER_MIN = 0.5
FLOOR_CLIENTS = 100


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- the bench database ----------------------------------------------------------------------

def bench_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgis://postgres@127.0.0.1:5432/{BENCH_DB}",
        "HUB_CHANNEL_PREFIX": f"bench-{uuid.uuid4().hex[:6]}",
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "DEBUG": "0",
        "SECRET_KEY": env.get("SECRET_KEY", "bench-secret-key-not-for-production-000000"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        # The sustained per-terminal rate stays the hub's default (no terminal here sends more
        # than 11 frames/s); the burst is raised so a screen's many subscribes at connect time
        # are not spread over seconds.
        "HUB_RATE_LIMIT_BURST": "2000",
    })
    return env


@dataclass
class Pool:
    """What the bench database holds: terminals with tokens, casualties and units."""

    casualties: list[str]
    monitor_tokens: list[str]
    units: list[str]
    ambulance_tokens: list[str]
    viewer_tokens: list[str]
    idle_tokens: list[str]


def prepare_database(env: dict[str, str], casualties: int, units: int, idle: int) -> Pool:
    for sql in (f"DROP DATABASE IF EXISTS {BENCH_DB}", f"CREATE DATABASE {BENCH_DB}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True,
                       capture_output=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update({key: env[key] for key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE",
                                                 "SECRET_KEY", "HUB_CHANNEL_PREFIX")})
    import django

    django.setup()
    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from ambulance.models import Station, Unit
    from command_center.models import MassEvent
    from field_terminal.models import Casualty
    from hub.services import terminal_token_issue

    event = MassEvent.objects.create(slug=EVENT, name="bench", status="active", is_exercise=True)
    station = Station.objects.create(code="BENCH", name="bench station",
                                     location=Point(120.49, 30.74, srid=4326))
    unit_rows = Unit.objects.bulk_create(
        Unit(callsign=f"B{index:04d}", level="ALS", station=station, event=event)
        for index in range(units))

    def issue(kind: str, name: str, **bound: Any) -> tuple[Any, str]:
        issued = terminal_token_issue(kind=kind, name=name, event=event, issued_by="bench",
                                      **bound)
        return issued.terminal, issued.token

    monitors = [issue("field", f"bench-monitor-{index:04d}") for index in range(casualties)]
    ambulances = [issue("ambulance", f"bench-ambulance-{index:04d}", unit=unit)
                  for index, unit in enumerate(unit_rows)]
    viewers = [issue("command", f"bench-viewer-{index:02d}") for index in range(VIEWERS)]
    idlers = [issue("field", f"bench-idle-{index:04d}") for index in range(idle)]
    now = timezone.now()
    casualty_rows = Casualty.objects.bulk_create(
        Casualty(event=event, location=Point(120.49, 30.74, srid=4326), category="red",
                 triage_method="START", reported_by=terminal, reported_at=now,
                 status_changed_at=now)
        for terminal, _ in monitors)
    return Pool(
        casualties=[str(c.pk) for c in casualty_rows],
        monitor_tokens=[token for _, token in monitors],
        units=[u.callsign for u in unit_rows],
        ambulance_tokens=[token for _, token in ambulances],
        viewer_tokens=[token for _, token in viewers],
        idle_tokens=[token for _, token in idlers],
    )


def topic_heads(topics: list[str]) -> dict[str, int]:
    from hub.selectors import topic_heads as heads

    return heads(topics=topics)


def journaled(tag: str) -> int:
    from hub.models import JournalEntry

    return JournalEntry.objects.filter(client_id__startswith=f"{tag}.").count()


# --- servers under test ----------------------------------------------------------------------

class _ChildServer:
    """A server under test in a child process of its own, ready once its port accepts."""

    journals = False
    name = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pids(self) -> list[int]:
        return [self.process.pid] if self.process else []

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        raise NotImplementedError

    def start(self) -> Self:
        argv, env = self.command()
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


class BareServer(_ChildServer):
    name = "bare websockets"

    @property
    def urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{self.port}/"]

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        return [sys.executable, str(ROOT / "bench" / "bare_broadcast_server.py"), "--port",
                str(self.port)], None


class EchoDaphne(_ChildServer):
    """Daphne serving one of bench/daphne_echo.py's ping-answering applications."""

    def __init__(self, env: dict[str, str], application: str, name: str) -> None:
        super().__init__()
        self.env = env
        self.application = application
        self.name = name

    @property
    def urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{self.port}/ws/terminal/"]

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                f"bench.daphne_echo:{self.application}"], self.env


class HubServers:
    journals = True

    def __init__(self, env: dict[str, str], processes: int) -> None:
        self.env = env
        self.daphnes = [DaphneProcess(env=env) for _ in range(processes)]
        self.name = f"hub, {processes} Daphne"

    @property
    def urls(self) -> list[str]:
        return [d.ws_url for d in self.daphnes]

    @property
    def pids(self) -> list[int]:
        return [d.process.pid for d in self.daphnes if d.process is not None]

    def start(self) -> "HubServers":
        for daphne in self.daphnes:
            daphne.start()
        return self

    def stop(self) -> None:
        for daphne in self.daphnes:
            daphne.stop()


Server = BareServer | HubServers


# --- loads -----------------------------------------------------------------------------------

@dataclass
class Load:
    casualties: int
    ecg: int
    units: int
    viewers: int = VIEWERS
    idle: int = 0
    # Vitals and positions per second per terminal (the ECG stays 10 frames/s).
    hz: float = 1.0

    @property
    def offered(self) -> float:
        return (self.casualties + self.units) * self.hz + self.ecg * 10

    def label(self) -> str:
        text = f"n={self.casualties} ({self.offered:g} fr/s)"
        return f"{text} +{self.idle} idle" if self.idle else text


def mix(casualties: int) -> Load:
    return Load(casualties=casualties, ecg=casualties // 5, units=casualties // 5)


@dataclass
class Plan:
    workers: list[dict[str, Any]]
    subscribers: dict[str, list[int]]


def build_plan(load: Load, server: Server, pool: Pool | None, workers: int, tag: str) -> Plan:
    """Split the load's terminals over the generator processes and the server's URLs."""
    if pool is not None and (load.casualties > len(pool.casualties)
                             or load.units > len(pool.units)):
        raise ValueError(f"the bench database holds fewer terminals than {load.label()}")
    casualty_ids = (pool.casualties if pool else
                    [str(uuid.UUID(int=index + 1)) for index in range(load.casualties)])
    callsigns = pool.units if pool else [f"B{index:04d}" for index in range(load.units)]
    urls = server.urls
    plans: list[dict[str, Any]] = [{"worker": w, "tag": tag, "senders": [], "viewers": [],
                                    "idle": []} for w in range(workers)]
    counter = 0

    def place(kind: str, entry: dict[str, Any]) -> None:
        nonlocal counter
        entry["url"] = urls[counter % len(urls)]
        plans[counter % workers][kind].append(entry)
        counter += 1

    def token(role: str, index: int) -> str:
        # The bare relay checks no credential.
        return getattr(pool, f"{role}_tokens")[index] if pool is not None else "bare"

    for index in range(load.casualties):
        topic = f"casualty:{casualty_ids[index]}"
        streams = [{"type": "vitals", "topic": topic, "hz": load.hz}]
        if index < load.ecg:
            streams.append({"type": "waveform", "topic": topic, "hz": 10.0})
        place("senders", {"token": token("monitor", index),
                          "streams": streams})
    for index in range(load.units):
        place("senders", {"token": token("ambulance", index),
                          "streams": [{"type": "position", "topic": f"unit:{callsigns[index]}",
                                       "hz": load.hz}]})
    commands = min(COMMAND_VIEWERS, load.viewers)
    screens = load.viewers - commands
    viewer_topics: list[list[str]] = []
    for _ in range(commands):
        viewer_topics.append([f"event:{EVENT}", *(f"unit:{c}" for c in callsigns[:load.units])])
    for screen in range(screens):
        viewer_topics.append([f"casualty:{casualty_ids[i]}"
                              for i in range(screen, load.casualties, screens)])
    all_topics = sorted({topic for topics in viewer_topics for topic in topics})
    heads = topic_heads(all_topics) if pool is not None else {}
    subscribers: dict[str, list[int]] = defaultdict(list)
    for index, topics in enumerate(viewer_topics):
        for topic in topics:
            subscribers[topic].append(index)
        place("viewers", {"index": index, "token": token("viewer", index),
                          "topics": {topic: heads.get(topic, 0) for topic in topics}})
    for index in range(load.idle):
        place("idle", {"token": token("idle", index)})
    return Plan(workers=[p for p in plans if p["senders"] or p["viewers"] or p["idle"]],
                subscribers=subscribers)


# --- one run ---------------------------------------------------------------------------------

@dataclass
class Result:
    server: str
    load: Load
    sent: int = 0
    acked: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    unacked: int = 0
    journal: int | None = None
    expected: int = 0
    delivered: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    foreign: int = 0
    offered_per_second: float = 0.0
    acked_per_second: float = 0.0
    events_per_second: float = 0.0
    latency: list[float] = field(default_factory=list)
    ack_latency: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mb: float = 0.0
    generator_loop_lag: float = 0.0
    generator_schedule_lag: float = 0.0
    generator_cpu: float = 0.0
    generator_cpu_total: float = 0.0
    machine_busy: float = 0.0
    unexpected_closes: int = 0
    setup_errors: list[str] = field(default_factory=list)
    connect_seconds: float = 0.0
    rss_samples: list[tuple[float, float]] = field(default_factory=list)
    buckets: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.expected - self.delivered

    @property
    def journal_missing(self) -> int:
        return 0 if self.journal is None else self.sent - self.journal

    @property
    def clean(self) -> bool:
        return (self.lost == 0 and self.duplicates == 0 and self.out_of_order == 0
                and not self.errors and self.unacked == 0 and self.journal_missing == 0
                and self.unexpected_closes == 0 and not self.setup_errors)

    @property
    def p99(self) -> float:
        return percentile(self.latency, 0.99)

    @property
    def generator_bound(self) -> bool:
        return (self.generator_loop_lag > GENERATOR_LOOP_LAG_LIMIT
                or self.generator_cpu > GENERATOR_CPU_LIMIT)

    @property
    def server_cpu_of_two_cores(self) -> float:
        return sum(self.cpu.values()) / 2

    @property
    def cpu_ms_per_frame(self) -> float:
        """Server-side CPU (servers, PostgreSQL, Redis) per frame acknowledged in the window:
        unlike latency, this barely depends on what else the machine is doing."""
        return 10.0 * sum(self.cpu.values()) / max(self.acked_per_second, 1e-9)

    @property
    def others_busy(self) -> float:
        """What the rest of the machine (other work, the kernel) used, as % of all cores."""
        cores = os.cpu_count() or 1
        return (self.machine_busy - sum(self.cpu.values()) / cores
                - self.generator_cpu_total / cores)


def run_load(server: Server, load: Load, pool: Pool | None, *, workers: int, warmup: float,
             seconds: float, drain: float, sample_every: float | None = None) -> Result:
    tag = f"r{uuid.uuid4().hex[:8]}"
    plan = build_plan(load, server, pool, workers, tag)
    processes = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "loadgen.py")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  cwd=ROOT) for _ in plan.workers]
    for process, worker_plan in zip(processes, plan.workers, strict=True):
        tell(process, {**worker_plan, "duration": warmup + seconds, "drain": drain})
    result = Result(server=server.name, load=load)
    for process in processes:
        ready = hear(process)
        result.connect_seconds = max(result.connect_seconds, ready["connect_seconds"])
        result.setup_errors += ready["setup_errors"]
    start = time.monotonic() + 0.5
    for process in processes:
        tell(process, {"start": start})
    windows = [CpuWindow("server", PidFinder(server.pids))]
    if isinstance(server, HubServers):
        windows += [CpuWindow("postgres", PidFinder(database=BENCH_DB)),
                    CpuWindow("postgres shared", PidFinder(postgres_shared=True)),
                    CpuWindow("redis", PidFinder(redis_port=6379))]
    window_start, window_end = start + warmup, start + warmup + seconds
    time.sleep(max(0.0, window_start - time.monotonic()))
    for window in windows:
        window.start(time.monotonic())
    machine_before = machine_busy_seconds()

    def server_rss() -> float:
        return sum(rss_bytes(pid) or 0 for pid in server.pids) / 2**20

    result.rss_samples.append((0.0, server_rss()))
    while time.monotonic() < window_end:
        pause = min(sample_every or seconds, window_end - time.monotonic())
        time.sleep(max(0.0, pause))
        if sample_every is not None:
            result.rss_samples.append((time.monotonic() - window_start, server_rss()))
    result.cpu = {w.name: w.stop(time.monotonic()) for w in windows}
    machine_after = machine_busy_seconds()
    result.machine_busy = 100.0 * (machine_after[0] - machine_before[0]) / max(
        machine_after[1] - machine_before[1], 1e-9)
    result.rss_mb = server_rss()
    outputs = read_outputs(processes)
    for process in processes:
        process.wait(60)
    if server.journals:
        result.journal = journaled(tag)
    summarise(result, outputs, plan, window_start, window_end)
    return result


def tell(process: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()


def hear(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"load generator {process.pid} exited early (see its stderr)")
    message: dict[str, Any] = json.loads(line)
    return message


def read_outputs(processes: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    """Read every worker's (large) final line at once, so none blocks on a full pipe."""
    outputs: list[dict[str, Any]] = [{} for _ in processes]

    def read(index: int) -> None:
        outputs[index] = hear(processes[index])

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(processes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outputs


def summarise(result: Result, outputs: list[dict[str, Any]], plan: Plan, window_start: float,
              window_end: float) -> None:
    sent_at: dict[str, float] = {}
    frame_topic: dict[str, str] = {}
    acked_in_window = 0
    for output in outputs:
        for frame_id, topic, sent, acked, error in output["sent"]:
            sent_at[frame_id] = sent
            frame_topic[frame_id] = topic
            result.sent += 1
            if error is not None:
                result.errors[error] += 1
            elif acked is None:
                result.unacked += 1
            else:
                result.acked += 1
                if window_start <= sent < window_end:
                    result.ack_latency.append(acked - sent)
                if window_start <= acked < window_end:
                    acked_in_window += 1
            result.expected += len(plan.subscribers.get(topic, []))
    seen: set[tuple[int, str]] = set()
    last_seq: dict[tuple[int, str], int] = {}
    in_window = 0
    for output in outputs:
        for viewer, frame_id, received, topic, seq in sorted(output["deliveries"],
                                                             key=lambda d: d[2]):
            if frame_id not in sent_at or frame_topic[frame_id] != topic:
                result.foreign += 1
                continue
            key = (viewer, frame_id)
            if key in seen:
                result.duplicates += 1
                continue
            seen.add(key)
            previous = last_seq.get((viewer, topic))
            if previous is not None and seq != previous + 1:
                result.out_of_order += 1
            last_seq[(viewer, topic)] = seq
            if viewer in plan.subscribers.get(topic, []):
                result.delivered += 1
            if window_start <= received < window_end:
                in_window += 1
            if window_start <= sent_at[frame_id] < window_end:
                result.latency.append(received - sent_at[frame_id])
    window = window_end - window_start
    result.events_per_second = in_window / window
    result.acked_per_second = acked_in_window / window
    result.offered_per_second = sum(
        1 for sent in sent_at.values() if window_start <= sent < window_end) / window
    result.generator_loop_lag = max(percentile(o["loop_lag"], 0.99) for o in outputs)
    result.generator_schedule_lag = max(percentile(o["schedule_lag"], 0.99) for o in outputs
                                        if o["schedule_lag"]) if result.sent else 0.0
    result.generator_cpu = max(o["cpu_percent"] for o in outputs)
    result.generator_cpu_total = sum(o["cpu_percent"] for o in outputs)
    result.unexpected_closes = sum(len(o["unexpected_closes"]) for o in outputs)
    if result.rss_samples and len(result.rss_samples) > 2:
        bucket_latencies: dict[int, list[float]] = defaultdict(list)
        for output in outputs:
            for _viewer, frame_id, received, _topic, _seq in output["deliveries"]:
                if frame_id in sent_at and sent_at[frame_id] >= window_start:
                    bucket = int((sent_at[frame_id] - window_start) // SOAK_SAMPLE_SECONDS)
                    bucket_latencies[bucket].append(received - sent_at[frame_id])
        result.buckets = [(bucket * SOAK_SAMPLE_SECONDS, percentile(values, 0.5),
                           percentile(values, 0.99))
                          for bucket, values in sorted(bucket_latencies.items())]


# --- printing --------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


HEADER = (f"{'server':<18} {'load':<24} {'in/s':>6} {'out ev/s':>8} {'e2e p50':>7} "
          f"{'p99':>7} {'max':>7} {'ack p50':>7} {'ack p99':>7} {'lost':>5} {'dup':>4} "
          f"{'err':>4} {'unack':>5} {'jrnl miss':>9} {'srv cpu%':>8} {'pg%':>5} {'redis%':>6} "
          f"{'%2cores':>7} {'ms/fr':>5} {'rss MB':>7} {'gen lag':>7} {'gen cpu':>7} {'busy%':>5} "
          f"{'others%':>7}  note")


def row(result: Result, note: str = "") -> str:
    flags = []
    if result.generator_bound:
        flags.append(f"GENERATOR-BOUND (sends late by {ms(result.generator_schedule_lag)} ms "
                     "at p99)")
    if result.unexpected_closes:
        flags.append(f"{result.unexpected_closes} sockets closed")
    if result.setup_errors:
        flags.append(f"{len(result.setup_errors)} setup errors")
    if result.out_of_order:
        flags.append(f"{result.out_of_order} seq gaps")
    if result.foreign:
        flags.append(f"{result.foreign} foreign")
    if result.errors:
        flags.append(" ".join(f"{k}:{v}" for k, v in sorted(result.errors.items())))
    postgres = result.cpu.get("postgres", 0.0) + result.cpu.get("postgres shared", 0.0)
    journal = "-" if result.journal is None else str(result.journal_missing)
    return (f"{result.server:<18} {result.load.label():<24} {result.offered_per_second:>6.0f} "
            f"{result.events_per_second:>8.0f} {ms(percentile(result.latency, .5)):>7} "
            f"{ms(result.p99):>7} {ms(max(result.latency, default=float('nan'))):>7} "
            f"{ms(percentile(result.ack_latency, .5)):>7} "
            f"{ms(percentile(result.ack_latency, .99)):>7} {result.lost:>5} "
            f"{result.duplicates:>4} {sum(result.errors.values()):>4} {result.unacked:>5} "
            f"{journal:>9} {result.cpu.get('server', 0.0):>8.0f} {postgres:>5.0f} "
            f"{result.cpu.get('redis', 0.0):>6.0f} {result.server_cpu_of_two_cores:>7.0f} "
            f"{result.cpu_ms_per_frame:>5.2f} "
            f"{result.rss_mb:>7.0f} {ms(result.generator_loop_lag):>7} "
            f"{result.generator_cpu:>7.0f} {result.machine_busy:>5.0f} {result.others_busy:>7.0f}"
            f"  {' '.join([note, *flags]).strip()}")


def say(text: str = "") -> None:
    print(text, flush=True)


# --- the parts -------------------------------------------------------------------------------

@dataclass
class SweepOutcome:
    server: str
    best: Result | None
    generator_bound: bool
    ladder_exhausted: bool


def sweep(make_server: Callable[[], Server], pool: Pool | None, ladder: list[int],
          settings: argparse.Namespace, table: list[str]) -> SweepOutcome:
    server = make_server().start()
    best: Result | None = None
    failure: Result | None = None
    generator_bound = False
    try:
        for casualties in ladder:
            for attempt in range(1 + settings.retries):
                result = run_load(server, mix(casualties), pool, workers=settings.workers,
                                  warmup=settings.warmup, seconds=settings.step_seconds,
                                  drain=settings.drain)
                passed = result.clean and result.p99 < P99_LIMIT
                retrying = not passed and attempt < settings.retries
                verdict_text = "pass" if passed else "FAIL, once more" if retrying else "FAIL"
                line = row(result, f"sweep {verdict_text}")
                table.append(line)
                say(line)
                # A late generator only adds to the latency it measures, so a pass still
                # counts and the sweep goes on; a failure it was late for may be its own.
                generator_bound = generator_bound or result.generator_bound
                if passed or not retrying:
                    break
                # A shared machine has bad seconds; the retry starts from fresh processes, so
                # the backlog of the failed attempt is not held against it.
                server.stop()
                server = make_server().start()
            if not passed:
                failure = result
                break
            best = result
    finally:
        server.stop()
    return SweepOutcome(server=server.name, best=best, generator_bound=generator_bound,
                        ladder_exhausted=failure is None)


def scenario(make_server: Callable[[], Server], pool: Pool | None,
             settings: argparse.Namespace, table: list[str]) -> Result:
    server = make_server().start()
    try:
        result = run_load(server, mix(MASS_CASUALTIES), pool, workers=settings.workers,
                          warmup=settings.warmup, seconds=settings.scenario_seconds,
                          drain=settings.drain * 2)
    finally:
        server.stop()
    line = row(result, "mass-casualty")
    table.append(line)
    say(line)
    return result


def soak(env: dict[str, str], pool: Pool, settings: argparse.Namespace,
         table: list[str]) -> Result:
    server = HubServers(env, 1).start()
    load = Load(casualties=SOAK_MONITORS, ecg=0, units=SOAK_UNITS, idle=settings.soak_idle,
                hz=settings.soak_hz)
    try:
        result = run_load(server, load, pool, workers=settings.workers, warmup=settings.warmup,
                          seconds=settings.soak_seconds, drain=settings.drain * 2,
                          sample_every=min(SOAK_SAMPLE_SECONDS, settings.soak_seconds / 4))
    finally:
        server.stop()
    line = row(result, "soak")
    table.append(line)
    say(line)
    return result


@dataclass
class FloorResult:
    server: str
    pings_per_second: float
    cpu_percent: float
    answered: int
    sent: int

    @property
    def ms_per_frame(self) -> float:
        return 10.0 * self.cpu_percent / max(self.pings_per_second, 1e-9)


async def _ping_flood(url: str, tokens: list[str | None], hz: float, warmup: float,
                      seconds: float, pids: list[int]) -> tuple[float, float, int, int]:
    """Each client pings at hz without waiting; returns (pings/s, server CPU %, answered, sent)
    over the measured window."""
    import asyncio

    import websockets

    counts = {"sent": 0, "answered": 0}
    start = time.monotonic() + 1.0
    stop = start + warmup + seconds

    async def client(index: int, token: str | None) -> None:
        async with websockets.connect(url, max_size=None) as socket_:
            await socket_.send(json.dumps({"type": "hello", "id": "h",
                                           "data": {"token": token} if token else {}}))
            await socket_.recv()

            async def read() -> None:
                async for text in socket_:
                    if '"pong"' in text:
                        counts["answered"] += 1

            reader = asyncio.ensure_future(read())
            await asyncio.sleep(max(0.0, start - time.monotonic()) + index / len(tokens) / hz)
            beat = 0
            while time.monotonic() < stop:
                beat += 1
                await socket_.send(json.dumps({"type": "ping", "id": f"f{index}.{beat}"}))
                counts["sent"] += 1
                await asyncio.sleep(1.0 / hz)
            await asyncio.sleep(1.0)
            reader.cancel()

    async def measure() -> tuple[float, float]:
        await asyncio.sleep(max(0.0, start + warmup - time.monotonic()))
        window = CpuWindow("server", PidFinder(pids))
        window.start(time.monotonic())
        sent_before = counts["sent"]
        began = time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - began
        return (counts["sent"] - sent_before) / elapsed, window.stop(time.monotonic())

    window_task = asyncio.ensure_future(measure())
    await asyncio.gather(*(client(i, t) for i, t in enumerate(tokens)))
    rate, cpu = await window_task
    return rate, cpu, counts["answered"], counts["sent"]


def transport_floor(env: dict[str, str], pool: Pool, settings: argparse.Namespace
                    ) -> list[FloorResult]:
    """CPU per frame of the socket path alone: ping in, pong out, nothing stored or fanned
    out, on the bare relay, on Daphne with a bare ASGI application and with a Channels
    consumer, and on the hub (which answers ping without touching the database)."""
    import asyncio

    clients = FLOOR_CLIENTS
    servers: list[tuple[Any, list[str | None]]] = [
        (BareServer(), [None] * clients),
        (EchoDaphne(env, "raw_echo", "Daphne, bare ASGI"), [None] * clients),
        (EchoDaphne(env, "channels_echo", "Daphne + Channels"), [None] * clients),
        (HubServers(env, 1), list(pool.monitor_tokens[:clients])),
    ]
    results = []
    for server, tokens in servers:
        server.start()
        try:
            for wanted in settings.floor_rates:
                rate, cpu, answered, sent = asyncio.run(_ping_flood(
                    server.urls[0], tokens, wanted / clients, settings.warmup,
                    settings.floor_seconds, server.pids))
                result = FloorResult(server=server.name, pings_per_second=rate,
                                     cpu_percent=cpu, answered=answered, sent=sent)
                say(f"floor {result.server:<20} {rate:6.0f} pings/s  server {cpu:5.1f} % of a "
                    f"core  {result.ms_per_frame:.3f} ms CPU per ping+pong  "
                    f"({answered}/{sent} answered)")
                results.append(result)
        finally:
            server.stop()
    return results


def slope_mb_per_minute(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 2:
        return float("nan")
    xs = [t / 60 for t, _ in samples]
    ys = [mb for _, mb in samples]
    mean_x, mean_y = statistics.mean(xs), statistics.mean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def describe_best(outcome: SweepOutcome) -> str:
    if outcome.best is None:
        return f"{outcome.server}: no step passed (first step failed)"
    best = outcome.best
    bound = ""
    if outcome.ladder_exhausted:
        bound = " (top of the ladder: the server can do at least this)"
    elif outcome.generator_bound:
        bound = (" (the generator was late in the sweep: the server may do more, "
                 "the figures are upper bounds of its latency)")
    return (f"{outcome.server}: highest passing {best.load.label()}, "
            f"{best.events_per_second:.0f} delivered events/s, p99 {ms(best.p99)} ms{bound}")


def main() -> None:
    parser = argparse.ArgumentParser(description="hub vs bare websockets load benchmark")
    parser.add_argument("--quick", action="store_true",
                        help="short windows, a 60 s soak with 200 idle: a smoke run")
    parser.add_argument("--only", default="floor,sweep,scenario,soak",
                        help="comma-separated parts to run (floor, sweep, scenario, soak)")
    parser.add_argument("--servers", default="bare,hub1,hub2",
                        help="comma-separated servers for the sweep and the scenario: bare "
                             "(the relay), hub1, hub2 (the hub on one or two Daphne processes)")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--step-seconds", type=float, default=8.0)
    parser.add_argument("--scenario-seconds", type=float, default=20.0)
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--floor-seconds", type=float, default=8.0,
                        help="measured window of each transport floor server and rate")
    parser.add_argument("--floor-rates", default="300,1600",
                        type=lambda text: [float(rate) for rate in text.split(",")],
                        help="pings per second in all for the transport floor, comma-separated")
    parser.add_argument("--soak-idle", type=int, default=SOAK_IDLE)
    parser.add_argument("--soak-hz", type=float, default=1.0,
                        help="vitals and positions per second per active soak terminal")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--retries", type=int, default=1,
                        help="times a failing sweep step is run again before the sweep stops")
    parser.add_argument("--max-casualties", type=int, default=1000,
                        help="top of the hub's ladder (terminals made in the database)")
    settings = parser.parse_args()
    if settings.quick:
        settings.step_seconds, settings.scenario_seconds = 4.0, 6.0
        settings.soak_seconds, settings.soak_idle, settings.warmup = 60.0, 200, 1.0
        settings.floor_seconds = 4.0
    parts = set(settings.only.split(","))
    env = bench_environment()
    hub_ladder = [n for n in LADDER if n <= settings.max_casualties]
    started = time.monotonic()
    targets = set(settings.servers.split(","))
    needed = [*(hub_ladder if "sweep" in parts else []),
              *([FLOOR_CLIENTS] if "floor" in parts else []),
              *([MASS_CASUALTIES] if "scenario" in parts else []),
              *([SOAK_MONITORS] if "soak" in parts else [])]
    pool_casualties = max(needed, default=0)
    pool = prepare_database(env, pool_casualties,
                            max(pool_casualties // 5, SOAK_UNITS if "soak" in parts else 0),
                            settings.soak_idle if "soak" in parts else 0)
    say(f"bench database ready in {time.monotonic() - started:.0f} s "
        f"({pool_casualties} monitors, {len(pool.units)} ambulances, {VIEWERS} viewers, "
        f"{len(pool.idle_tokens)} idle terminals); {settings.workers} generator processes; "
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    say("columns: in/s = frames sent per second; out ev/s = stored messages delivered to "
        "viewers per second; latencies in ms; cpu in % of one core; %2cores = server + "
        "postgres + redis as % of two cores; gen lag = generator loop lag p99 (ms); gen cpu = "
        "busiest generator process, % of one core; busy% = whole machine, % of all cores; "
        "others% = the part of busy% that is neither server nor generator; ms/fr = server-side "
        "CPU ms per frame acknowledged")
    say(HEADER)
    table: list[str] = []
    sweeps: list[SweepOutcome] = []
    scenarios: list[Result] = []
    soaked: Result | None = None
    floor: list[FloorResult] = []
    if "floor" in parts:
        say(f"transport floor: {FLOOR_CLIENTS} clients pinging without waiting, "
            f"{', '.join(f'{rate:g}' for rate in settings.floor_rates)} pings/s in all")
        floor = transport_floor(env, pool, settings)
    hub_targets = [(f"hub{count}", partial(HubServers, env, count)) for count in (1, 2)]
    if "sweep" in parts:
        if "bare" in targets:
            sweeps.append(sweep(BareServer, None, LADDER, settings, table))
        for target, make_hub in hub_targets:
            if target in targets:
                sweeps.append(sweep(make_hub, pool, hub_ladder, settings, table))
    if "scenario" in parts:
        if "bare" in targets:
            scenarios.append(scenario(BareServer, None, settings, table))
        for target, make_hub in hub_targets:
            if target in targets:
                scenarios.append(scenario(make_hub, pool, settings, table))
    if "soak" in parts:
        soaked = soak(env, pool, settings, table)

    say()
    say("=" * 40 + " summary " + "=" * 40)
    for measured in floor:
        say(f"transport floor, {measured.server}: {measured.ms_per_frame:.3f} ms CPU per "
            f"ping+pong at {measured.pings_per_second:.0f} pings/s")
    say(HEADER)
    for line in table:
        say(line)
    say()
    if sweeps:
        for outcome in sweeps:
            say(describe_best(outcome))
        bare = next((o for o in sweeps if o.server == BareServer.name), None)
        for hub in (o for o in sweeps if o is not bare):
            if bare is None or bare.best is None:
                say(f"ratio {hub.server} / bare: not measurable (no bare step passed)")
                continue
            hub_rate = hub.best.events_per_second if hub.best is not None else 0.0
            ratio = hub_rate / bare.best.events_per_second
            caveats = []
            if bare.generator_bound or bare.ladder_exhausted:
                caveats.append("the bare relay's limit was not reached (generator late or "
                               "ladder top), so the true ratio is at most this")
            if hub.generator_bound:
                caveats.append(f"the generator was late in the {hub.server} sweep too")
            caveat = f" ({'; '.join(caveats)})" if caveats else ""
            say(f"ratio {hub.server} / bare at p99 < 100 ms: {ratio:.2f} of the bare relay's "
                f"events/s{caveat} -> goal >= {RATIO_GOAL:.0%} with every event journaled: "
                f"{verdict(ratio >= RATIO_GOAL)}")
    bare_scenario = next((r for r in scenarios if r.server.startswith("bare")), None)
    for result in scenarios:
        if result.server.startswith("bare"):
            continue
        if bare_scenario is not None:
            say(f"server-side CPU per acknowledged frame at n={MASS_CASUALTIES}: {result.server} "
                f"{result.cpu_ms_per_frame:.2f} ms, bare relay "
                f"{bare_scenario.cpu_ms_per_frame:.2f} ms (so on idle cores the hub would "
                f"carry about {bare_scenario.cpu_ms_per_frame / result.cpu_ms_per_frame:.2f} "
                "of the bare relay's rate, if CPU were the only limit)")
        met = (result.p99 < MASS_P99_GOAL and result.clean
               and result.server_cpu_of_two_cores < CPU_GOAL_OF_TWO_CORES)
        say(f"mass-casualty on {result.server}: p99 {ms(result.p99)} ms, lost {result.lost}, "
            f"journal missing {result.journal_missing}, errors {sum(result.errors.values())}, "
            f"server+postgres+redis {result.server_cpu_of_two_cores:.0f} % of two cores -> "
            f"goal p99 < 50 ms, nothing lost, < 70 % of two cores: {verdict(met)}")
    if soaked is not None:
        samples = soaked.rss_samples
        # A leak grows all the time; a backlog or warming caches grow and level off. So the
        # slope is taken over the second half.
        settle = settings.soak_seconds / 2
        settled = [s for s in samples if s[0] >= settle] or samples
        slope = slope_mb_per_minute(settled)
        peak = max(mb for _, mb in samples)
        say(f"soak {soaked.load.idle} idle + {soaked.load.casualties + soaked.load.units + VIEWERS}"
            f" active for {settings.soak_seconds:.0f} s: RSS start {samples[0][1]:.0f} MB, end "
            f"{samples[-1][1]:.0f} MB, max {peak:.0f} MB, slope after {settle:.0f} s "
            f"{slope:+.2f} MB/min; p99 {ms(soaked.p99)} ms; lost {soaked.lost}; "
            f"{soaked.load.idle + soaked.load.casualties + soaked.load.units + VIEWERS} "
            f"terminals connected and subscribed in {soaked.connect_seconds:.0f} s")
        say("  RSS samples (s: MB): " + ", ".join(f"{t:.0f}: {mb:.0f}" for t, mb in samples))
        say("  e2e latency per 30 s (start s: p50/p99 ms): " + ", ".join(
            f"{t:.0f}: {ms(p50)}/{ms(p99)}" for t, p50, p99 in soaked.buckets))
        stable = abs(slope) < SOAK_SLOPE_LIMIT_MB_PER_MIN and soaked.clean
        say(f"  -> goal stable memory (|slope| < {SOAK_SLOPE_LIMIT_MB_PER_MIN:g} MB/min after "
            f"{settle:.0f} s, nothing lost): {verdict(stable)}")
    say(f"total {time.monotonic() - started:.0f} s; the machine is shared with other work, so "
        "every figure is noisy")


if __name__ == "__main__":
    main()
