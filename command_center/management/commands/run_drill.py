"""`manage.py run_drill FILE [--speed 10] [--hub URL] [--seed N] [--dispatcher MODE]`:
run a drill timeline (docs/drills.md) against a live hub with simulated terminals.

Each start is a fresh run: a new exercise event with its own units and hospitals
(command_center.drills.services); Ctrl-C (or SIGTERM) stops the terminals cleanly and closes
the run's event.
"""

import asyncio
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from command_center.drills.engine import DrillEngine, DrillOutcome
from command_center.drills.services import drill_run_close, drill_run_start
from command_center.drills.timeline import DrillError, drill_plan, drill_read
from command_center.selectors import SERVICE_MINUTES
from command_center.services import ScenarioError
from hub.client import ClientError

DISPATCHER_MODES = ("simulated", "auto", "human")


def _health_url(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme)
    if scheme is None:
        raise CommandError(f"--hub: {ws_url!r} is not a ws:// or wss:// URL")
    return urlunsplit((scheme, parts.netloc, "/healthz", "", ""))


def _wait_for_hub(ws_url: str, seconds: float) -> None:
    url = _health_url(ws_url)
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (OSError, urllib.error.URLError):
            if time.monotonic() >= deadline:
                raise CommandError(f"--hub: {url} did not answer within {seconds:g} s") from None
            time.sleep(0.5)


class Command(BaseCommand):
    help = "Run a drill timeline against a live hub with simulated terminals (docs/drills.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--speed", type=float, default=10.0,
                            help="drill minutes per wall-clock minute (default 10)")
        parser.add_argument("--hub", default="ws://127.0.0.1:8000/ws/terminal/",
                            help="the hub's terminal endpoint")
        parser.add_argument("--seed", type=int, default=1,
                            help="the same seed gives the same casualties and timings")
        parser.add_argument("--dispatcher", choices=DISPATCHER_MODES, default="simulated",
                            help="who accepts recommendations: a simulated command terminal, "
                                 "the event's auto-dispatch, or a human at the console")
        parser.add_argument("--minutes", type=float,
                            help="stop after this many drill minutes (default: when every "
                                 "casualty is reported and every transportable one handed over)")
        parser.add_argument("--wait-for-hub", type=float, default=60.0, metavar="SECONDS",
                            help="how long to wait for the hub to answer before giving up")
        parser.add_argument("--demo-users", action="store_true",
                            help="bind the demo users' terminals (manage.py demo_users) to the "
                                 "drill's exercise event")

    def _progress(self, line: str) -> None:
        # Progress is for a person watching, also through a pipe or a log file: no buffering.
        self.stdout.write(line)
        self.stdout.flush()

    def handle(self, *args: Any, **options: Any) -> None:
        speed = options["speed"]
        if not 0.1 <= speed <= 1000:
            raise CommandError("--speed: must be 0.1..1000")
        try:
            drill = drill_read(options["file"])
            run = drill_run_start(drill=drill, auto_dispatch=options["dispatcher"] == "auto")
        except (DrillError, ScenarioError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{run.event}: exercise run {run.run} of {drill.slug}, {drill.casualties} casualties "
            f"in {len(drill.incidents)} incidents, {len(run.units)} units, "
            f"{len(run.hospitals)} hospitals; speed {speed:g}x, dispatcher "
            f"{options['dispatcher']}, seed {options['seed']}"
        )
        try:
            if options["demo_users"]:
                call_command("demo_users", event=run.event, stdout=self.stdout)
            _wait_for_hub(options["hub"], options["wait_for_hub"])
            engine = DrillEngine(
                drill=drill, run=run, plan=drill_plan(drill, seed=options["seed"], run=run.event),
                urls=[options["hub"]], speed=speed, seed=options["seed"],
                simulated_dispatcher=options["dispatcher"] == "simulated",
                road_speed_kmh=settings.DISPATCH_ROAD_SPEED_KMH,
                service_minutes=dict(SERVICE_MINUTES), minutes=options["minutes"],
                progress=self._progress,
            )
            outcome = asyncio.run(_run_until_stopped(engine))
            self.stdout.write(
                f"{run.event}: drill finished, {outcome.drill_seconds / 60:.1f} drill minutes "
                f"in {outcome.wall_seconds:.1f} s"
            )
        except (KeyboardInterrupt, asyncio.CancelledError):
            self.stdout.write(f"{run.event}: drill stopped")
        except ClientError as error:
            raise CommandError(f"{run.event}: {error}") from None
        finally:
            close_old_connections()
            drill_run_close(event_slug=run.event)


async def _run_until_stopped(engine: DrillEngine) -> DrillOutcome:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM (`make demo` ending, a service manager) stops the drill like Ctrl-C does.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await engine.run()
