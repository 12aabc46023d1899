"""The simulated monitor's own tests (node --test), so `make test` runs them with the suite."""

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[3] / "ambulance/static/ambulance/js/tests"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_simulated_monitor_makes_plausible_vitals_and_lead_ii():
    result = subprocess.run(["node", "--test", *sorted(map(str, TESTS.glob("*.test.mjs")))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
