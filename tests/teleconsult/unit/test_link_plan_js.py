"""Who offers to whom in a consult, and which way media goes (node --test of consult-call.js),
so `make test` runs them with the suite."""

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[3] / "teleconsult/static/teleconsult/js/tests"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_link_plan_follows_the_join_order_and_the_bridge_modes():
    result = subprocess.run(["node", "--test", *sorted(map(str, TESTS.glob("*.test.mjs")))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
