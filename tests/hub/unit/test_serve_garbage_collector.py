"""hub.serve's garbage collector settings (its docstring, point 4), in a process of their own:
freezing and thresholds are process-wide, and this test process must keep Python's."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import gc, json
from hub import serve
before = gc.get_freeze_count()
serve._settle_garbage_collector()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                  "thresholds": gc.get_threshold(), "expected": serve.GC_THRESHOLDS}))
"""


def test_a_server_freezes_what_it_loaded_and_waits_longer_for_a_full_collection():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    settled = json.loads(result.stdout.strip().splitlines()[-1])
    assert settled["before"] == 0
    # Daphne, Twisted and the hub's modules at least: tens of thousands of objects.
    assert settled["frozen"] > 10_000
    assert settled["thresholds"] == settled["expected"]
    young, middle, full = settled["thresholds"]
    assert (young, middle) == (700, 10) and full > 10
