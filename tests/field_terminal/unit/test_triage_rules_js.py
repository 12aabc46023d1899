"""The triage rules' own tests (node --test), so `make test` runs them with the suite."""

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[3] / "field_terminal/static/field_terminal/js/tests"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_start_jumpstart_and_salt_rules_pass_their_decision_table():
    result = subprocess.run(["node", "--test", *sorted(map(str, TESTS.glob("*.test.mjs")))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
