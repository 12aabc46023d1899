"""Prometheus metrics of the hub, and the restricted `/metrics` page that exposes them.

Every process of a hub host (two or more Daphnes and the dispatch worker) records into
prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR names a directory they
share: `/metrics` on any Daphne of the host then reports the whole host, dispatch solve times
included, so Prometheus scrapes one upstream per host (docs/deploy.md). Without the variable
(development, tests) each process reports only itself.

prometheus_client reads PROMETHEUS_MULTIPROC_DIR when it is first imported, so the variable
must be in the process's environment (the systemd EnvironmentFile), not in Django settings.
"""

import hmac
import os
import re
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# livesum: a Daphne that exits (or is killed) stops counting its sockets, see forget_dead_processes.
TERMINALS_CONNECTED = Gauge(
    "mcihub_terminals_connected", "Terminals past hello, by kind", ["kind"],
    multiprocess_mode="livesum",
)
FRAMES_IN = Counter(
    "mcihub_frames_in_total", "Frames after hello, by type and outcome (ack or error code)",
    ["type", "outcome"],
)
FRAMES_OUT = Counter("mcihub_frames_out_total", "Frames sent to terminals, by type", ["type"])
ERRORS = Counter("mcihub_errors_total", "error frames sent to terminals, by code", ["code"])
# PROTOCOL.md's terminals resend after a few seconds without an ack: the buckets are fine
# below a second and stop at the resend horizon.
ACK_LATENCY = Histogram(
    "mcihub_ack_latency_seconds", "From a frame's receipt to its ack, by type", ["type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
JOURNAL_WRITE = Histogram(
    "mcihub_journal_write_seconds", "Transaction that stores a terminal's frame in the journal",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
JOURNAL_BATCH_FRAMES = Histogram(
    "mcihub_journal_batch_frames", "Frames stored together in one group-commit transaction",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
TRANSACTION_RETRIES = Counter(
    "mcihub_transaction_retries_total",
    "Transactions PostgreSQL aborted as a deadlock or serialisation failure and the hub ran "
    "again, by reason",
    ["reason"],
)
DISPATCH_SOLVE = Histogram(
    "mcihub_dispatch_solve_seconds", "Optimizer time of one dispatch recommendation",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)

_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def forget_dead_processes() -> None:
    """Drop the live gauges of processes that are gone: a Daphne killed with -9 never says so.

    Counters and histograms of dead processes stay, so totals keep growing across restarts.
    """
    directory = _multiprocess_dir()
    if directory is None:
        return
    for path in Path(directory).glob("gauge_live*.db"):
        match = _LIVE_FILE.match(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, another user's


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The exposition, for `Authorization: Bearer <METRICS_TOKEN>` only.

    Without a configured token the page does not exist (404); a wrong or missing token is 403.
    """
    if not settings.METRICS_TOKEN:
        raise Http404
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not hmac.compare_digest(offered.encode(),
                                                     settings.METRICS_TOKEN.encode()):
        return HttpResponse("metrics: a valid bearer token is required\n", status=403,
                            content_type="text/plain")
    directory = _multiprocess_dir()
    if directory is None:
        registry = REGISTRY
    else:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
