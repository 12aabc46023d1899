"""Real Daphne processes serving the hub against the test database and a real Redis."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "test-metrics-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DaphneProcess:
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # Another command line serving the hub on `port`, e.g. a systemd unit's ExecStart.
    argv: list[str] | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/terminal/"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "DaphneProcess":
        self.log_path = ROOT / "test-artifacts" / f"daphne-{self.port}.log"
        self.log_path.parent.mkdir(exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv or [sys.executable, "-m", "hub.serve", "-b", "127.0.0.1", "-p",
                          str(self.port), "--ping-interval", "20", "--ping-timeout", "30",
                          "hub.asgi:application"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: see {self.log_path}")
            try:
                urllib.request.urlopen(f"{self.http_url}/healthz", timeout=1)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"daphne did not answer on {self.port}: see {self.log_path}")

    def kill(self) -> None:
        """kill -9: no goodbye to any socket."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def hub_environment(database_name: str, channel_prefix: str) -> dict[str, str]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{database_name}",
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "HUB_CHANNEL_PREFIX": channel_prefix,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "DEBUG": "0",
        "SECRET_KEY": "test-hub-secret-key-not-for-production-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HUB_WATCH_INTERVAL_SECONDS": "0.5",
        "LOG_LEVEL": "WARNING",
        "METRICS_TOKEN": METRICS_TOKEN,
        "PYTHONUNBUFFERED": "1",
    })
    return env


@contextmanager
def dispatch_worker_process(env: dict[str, str], *, log_name: str,
                            event_slug: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A real `manage.py dispatch_worker` (for one event, or every active one) with fast
    debounce and solve, started once it says so in its log; stopped on leaving."""
    log_path = ROOT / "test-artifacts" / log_name
    log_path.parent.mkdir(exist_ok=True)
    worker_env = {**env, "DISPATCH_DEBOUNCE_SECONDS": "0.3", "DISPATCH_TIME_LIMIT": "0.3",
                  "LOG_LEVEL": "INFO"}
    command = [sys.executable, "manage.py", "dispatch_worker"]
    if event_slug is not None:
        command += ["--event", event_slug]
    with log_path.open("ab") as log:
        start = log.tell()
        process = subprocess.Popen(command, cwd=ROOT, env=worker_env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while b"dispatch worker started" not in log_path.read_bytes()[start:]:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"dispatch worker did not start: see {log_path}")
        time.sleep(0.1)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
