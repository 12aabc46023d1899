"""Command line: solve, evaluate, generate, baseline, bound (see DISPATCH.md)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO


def _seconds_since_process_start() -> float:
    """How long this process has already run, so that --time-limit covers interpreter start-up
    and imports too; 0 where /proc is unavailable."""
    try:
        import os

        with open("/proc/self/stat") as stat:
            # Field 22 (starttime, clock ticks after boot) follows the parenthesised command name.
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as uptime:
            booted_for = float(uptime.read().split()[0])
        return max(0.0, booted_for - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


_STARTED_AT = time.perf_counter() - _seconds_since_process_start()

from . import (  # noqa: E402  (imported after the clock starts on purpose)
    InstanceError,
    baseline_plan,
    evaluate_plan,
    generate_instance,
    parse_instance,
    solve,
    upper_bound,
)
from .generate import FAMILIES  # noqa: E402
from .instance import Instance  # noqa: E402


def _read_instance(source: TextIO) -> Instance:
    try:
        return parse_instance(json.load(source))
    except json.JSONDecodeError as error:
        raise InstanceError(f"instance: not JSON ({error.msg} at line {error.lineno})") from error


def _load(path: str) -> Instance:
    with open(path) as handle:
        return _read_instance(handle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m command_center.dispatch")
    commands = parser.add_subparsers(dest="command", required=True)
    solve_parser = commands.add_parser("solve", help="instance on stdin, plan on stdout")
    solve_parser.add_argument(
        "--time-limit", type=float, default=1.0, help="wall-clock seconds for the whole call"
    )
    solve_parser.add_argument("--seed", type=int, default=0)
    solve_parser.add_argument("--warm-start", help="a previous plan file to start from")
    evaluate_parser = commands.add_parser("evaluate", help="print the objective of a plan")
    evaluate_parser.add_argument("instance")
    evaluate_parser.add_argument("plan")
    evaluate_parser.add_argument(
        "--verbose", action="store_true", help="also print validity and last arrival"
    )
    generate_parser = commands.add_parser("generate", help="write a generated instance to stdout")
    generate_parser.add_argument("--family", choices=FAMILIES, required=True)
    generate_parser.add_argument("--casualties", type=int, required=True)
    generate_parser.add_argument("--seed", type=int, required=True)
    generate_parser.add_argument("--units", type=int)
    generate_parser.add_argument("--hospitals", type=int)
    generate_parser.add_argument("--sites", type=int)
    generate_parser.add_argument("--capacity", type=int, choices=(1, 2))
    generate_parser.add_argument("--report-window", type=float)
    baseline_parser = commands.add_parser(
        "baseline", help="the no-optimizer dispatcher's plan, on stdout"
    )
    baseline_parser.add_argument("instance")
    bound_parser = commands.add_parser("bound", help="print an upper bound on expected survivors")
    bound_parser.add_argument("instance")
    args = parser.parse_args(argv)

    try:
        if args.command == "solve":
            instance = _read_instance(sys.stdin)
            warm_start = None
            if args.warm_start:
                with open(args.warm_start) as handle:
                    warm_start = json.load(handle)
            plan = solve(
                instance,
                time_limit=args.time_limit,
                warm_start=warm_start,
                seed=args.seed,
                started_at=_STARTED_AT,
            )
            json.dump(plan, sys.stdout)
            sys.stdout.write("\n")
        elif args.command == "evaluate":
            instance = _load(args.instance)
            with open(args.plan) as handle:
                evaluation = evaluate_plan(instance, json.load(handle))
            print(f"{evaluation.objective:.6f}")
            if args.verbose or not evaluation.valid:
                print(
                    f"{'valid' if evaluation.valid else 'invalid'}: {evaluation.reason}; "
                    f"last arrival {evaluation.last_arrival}",
                    file=sys.stderr,
                )
        elif args.command == "generate":
            json.dump(
                generate_instance(
                    family=args.family,
                    casualties=args.casualties,
                    seed=args.seed,
                    units=args.units,
                    hospitals=args.hospitals,
                    sites=args.sites,
                    capacity=args.capacity,
                    report_window=args.report_window,
                ),
                sys.stdout,
            )
            sys.stdout.write("\n")
        elif args.command == "baseline":
            json.dump(baseline_plan(_load(args.instance)), sys.stdout)
            sys.stdout.write("\n")
        elif args.command == "bound":
            print(f"{upper_bound(_load(args.instance)):.6f}")
    except InstanceError as error:
        print(f"invalid instance: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
