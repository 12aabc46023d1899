"""CPU time and resident memory of server processes, read from /proc (Linux only).

CPU is the process's user + system time (all its threads) from /proc/<pid>/stat, so a
figure of 100 % means one core busy for the whole window. PostgreSQL serves every helper on
this machine: its backends are told apart by the database name in their process title, and
its background processes (WAL writer, checkpointer...) are shared by everyone.
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
POSTGRES_BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum launcher",
                       "logical replication launcher", "autovacuum worker")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process, or None if it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of every core since boot, from the first line of /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def rss_bytes(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except OSError:
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def postgres_backends(database: str) -> list[int]:
    """Backends connected to `database` ("postgres: user database host(port) state")."""
    return [pid for pid in _all_pids()
            if _cmdline(pid).startswith("postgres: ") and f" {database} " in _cmdline(pid)]


def postgres_background() -> list[int]:
    return [pid for pid in _all_pids()
            if _cmdline(pid).startswith("postgres: ")
            and any(f": {name}" in _cmdline(pid) for name in POSTGRES_BACKGROUND)]


def redis_servers(port: int = 6379) -> list[int]:
    return [pid for pid in _all_pids()
            if _cmdline(pid).startswith("redis-server") and f":{port}" in _cmdline(pid)]


@dataclass
class CpuWindow:
    """CPU used by a group of processes between start() and stop()."""

    name: str
    find: "PidFinder"
    started: float = 0.0
    baseline: dict[int, float] | None = None
    used: float = 0.0

    def _sample(self) -> dict[int, float]:
        samples = {}
        for pid in self.find():
            seconds = cpu_seconds(pid)
            if seconds is not None:
                samples[pid] = seconds
        return samples

    def start(self, now: float) -> None:
        self.started = now
        self.baseline = self._sample()

    def stop(self, now: float) -> float:
        """Percent of one core over the window."""
        assert self.baseline is not None
        current = self._sample()
        # A process born in the window counts its whole life. One that ended in the window
        # is missed; the hub's PostgreSQL backends are persistent, so that is rare.
        self.used = sum(seconds - self.baseline.get(pid, 0.0) for pid, seconds in current.items())
        elapsed = max(now - self.started, 1e-9)
        return 100.0 * self.used / elapsed


class PidFinder:
    def __init__(self, pids: Iterable[int] | None = None, *, database: str | None = None,
                 postgres_shared: bool = False, redis_port: int | None = None) -> None:
        self.pids = list(pids or [])
        self.database = database
        self.postgres_shared = postgres_shared
        self.redis_port = redis_port

    def __call__(self) -> list[int]:
        found = list(self.pids)
        if self.database is not None:
            found += postgres_backends(self.database)
        if self.postgres_shared:
            found += postgres_background()
        if self.redis_port is not None:
            found += redis_servers(self.redis_port)
        # An autovacuum worker on the database is both a backend and background work.
        return sorted(set(found))
