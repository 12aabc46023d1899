"""A real dispatch worker process beside the real hub, on the test database."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def dispatch_worker(hub_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    log_path = ROOT / "test-artifacts" / "dispatch-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    env = {**hub_env, "DISPATCH_DEBOUNCE_SECONDS": "0.3", "DISPATCH_TIME_LIMIT": "0.3",
           "LOG_LEVEL": "INFO"}
    with log_path.open("ab") as log:
        start = log.tell()
        process = subprocess.Popen(
            [sys.executable, "manage.py", "dispatch_worker", "--event", "wic-test"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while b"dispatch worker started" not in log_path.read_bytes()[start:]:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"dispatch worker did not start: see {log_path}")
        time.sleep(0.1)
    yield process
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
