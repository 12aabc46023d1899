"""The command line as DISPATCH.md specifies it, run as a separate process."""

import json
import subprocess
import sys
import time
from pathlib import Path

from command_center.dispatch import evaluate_plan, generate_instance, parse_instance

ROOT = Path(__file__).resolve().parents[3]


def run(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "command_center.dispatch", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_solve_then_evaluate_round_trip(tmp_path):
    raw = generate_instance(family="multi-site", casualties=80, seed=11)
    instance_file = tmp_path / "instance.json"
    instance_file.write_text(json.dumps(raw))
    started = time.perf_counter()
    solved = run("solve", "--time-limit", "0.5", stdin=instance_file.read_text())
    elapsed = time.perf_counter() - started
    assert solved.returncode == 0, solved.stderr
    # The budget covers the whole call, interpreter start-up included; 0.2 s is for the
    # parent's own process spawning and a shared machine.
    assert elapsed <= 0.7
    plan = json.loads(solved.stdout)
    assert plan["format"] == "mci-dispatch-plan/1"
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(solved.stdout)
    evaluated = run("evaluate", str(instance_file), str(plan_file))
    assert evaluated.returncode == 0, evaluated.stderr
    expected = evaluate_plan(parse_instance(raw), plan)
    assert expected.valid
    assert float(evaluated.stdout) == round(expected.objective, 6)


def test_invalid_instance_exits_non_zero_with_one_line_naming_the_field():
    raw = generate_instance(family="single-site", casualties=5, seed=1)
    raw["casualties"][3]["survival"]["b1"] = -2
    result = run("solve", stdin=json.dumps(raw))
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "casualties[3].survival.b1: must be > 0" in lines[0]


def test_instance_that_is_not_json_is_reported_in_one_line():
    result = run("solve", stdin="{not json")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1


def test_evaluate_reports_an_invalid_plan_with_zero(tmp_path):
    raw = generate_instance(family="single-site", casualties=5, seed=1)
    (tmp_path / "i.json").write_text(json.dumps(raw))
    (tmp_path / "p.json").write_text(
        json.dumps(
            {
                "format": "mci-dispatch-plan/1",
                "trips": [{"ambulance": "A1", "casualties": [], "hospital": "H1"}],
            }
        )
    )
    result = run("evaluate", str(tmp_path / "i.json"), str(tmp_path / "p.json"))
    assert result.returncode == 0
    assert float(result.stdout) == 0.0 and "no casualties" in result.stderr


def test_generate_is_deterministic_and_baseline_and_bound_agree(tmp_path):
    first = run("generate", "--family", "single-site", "--casualties", "30", "--seed", "4")
    second = run("generate", "--family", "single-site", "--casualties", "30", "--seed", "4")
    assert first.returncode == 0 and first.stdout == second.stdout
    (tmp_path / "i.json").write_text(first.stdout)
    baseline = run("baseline", str(tmp_path / "i.json"))
    (tmp_path / "b.json").write_text(baseline.stdout)
    value = float(run("evaluate", str(tmp_path / "i.json"), str(tmp_path / "b.json")).stdout)
    bound = float(run("bound", str(tmp_path / "i.json")).stdout)
    assert 0 < value <= bound
