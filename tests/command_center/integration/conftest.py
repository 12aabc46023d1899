"""A real dispatch worker process beside the real hub, on the test database."""

import subprocess
from collections.abc import Iterator

import pytest

from tests.support.hubs import dispatch_worker_process


@pytest.fixture(scope="module")
def dispatch_worker(hub_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    with dispatch_worker_process(hub_env, log_name="dispatch-worker.log",
                                 event_slug="wic-test") as process:
        yield process
