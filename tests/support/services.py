"""Private Redis and PostgreSQL servers for fault tests, so stopping one disturbs nobody else."""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.hubs import free_port


@dataclass
class PrivateRedis:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                         capture_output=True).stdout.strip() == b"PONG")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster owned by the postgres user, with PostGIS available."""

    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mcihub-pg-")))

    def _as_postgres(self, *command: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                              capture_output=True, timeout=120)

    @property
    def bin(self) -> Path:
        return Path("/usr/lib/postgresql/15/bin")

    def url(self, database: str) -> str:
        return f"postgis://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> "PrivatePostgres":
        shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.directory / "data"),
                          "-A", "trust", "-U", "postgres")
        return self

    def start(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-w",
                          "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
                          "-l", str(self.directory / "log"), "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-w",
                          "-m", "fast", "stop")

    def remove(self) -> None:
        # Already stopped is fine: the point is to leave nothing behind.
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self, name: str) -> None:
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-qc", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-d", name, "-qc", "CREATE EXTENSION postgis"], check=True,
                       capture_output=True)


def _wait_for(ready: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError("service did not become ready")


def migrate(env: dict[str, str]) -> None:
    root = Path(__file__).resolve().parents[2]
    subprocess.run([os.environ.get("PYTHON", ".venv/bin/python"), "manage.py", "migrate", "-v0"],
                   cwd=root, env=env, check=True, timeout=300)
