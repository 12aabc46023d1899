"""The anytime optimizer: greedy construction, then local search until the deadline.

A valid plan exists after the first greedy pass (tens of milliseconds for a thousand
casualties); everything after that only replaces it by a better one. The returned plan is
checked by the independent evaluator before it leaves, and the best plan that passed is
returned, so a search bug can cost quality but never validity.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .construct import greedy_routes, typical_cycle_minutes
from .evaluate import PLAN_FORMAT, Evaluation, evaluate_plan
from .instance import Instance
from .model import BLACK, Model, build_model
from .search import RouteSearch, Trip

# Seconds kept back for checking and writing the plan: a fixed part plus a part that grows with
# the number of casualties (JSON encoding and the final evaluation are linear in it).
_RESERVE_FIXED = 0.12
_RESERVE_PER_CASUALTY = 3e-5


def _plan_from_routes(model: Model, routes: list[list[Trip]]) -> dict[str, Any]:
    trips = []
    for unit, route in enumerate(routes):
        for _, aboard, hospital in route:
            trips.append(
                {
                    "ambulance": model.unit_ids[unit],
                    "casualties": [model.casualty_ids[c] for c in aboard],
                    "hospital": model.hospital_ids[hospital],
                }
            )
    return {"format": PLAN_FORMAT, "trips": trips}


def _routes_from_warm_start(model: Model, plan: object) -> list[list[Trip]]:
    """The usable part of a previous plan. Between snapshots casualties are picked up or
    re-triaged, units lost and beds used, so trips and casualties that no longer fit are
    dropped rather than the whole warm start."""
    routes: list[list[Trip]] = [[] for _ in model.unit_ids]
    trips = plan.get("trips") if isinstance(plan, dict) else None
    if not isinstance(trips, list):
        return routes
    unit_index = {name: u for u, name in enumerate(model.unit_ids)}
    casualty_index = {name: c for c, name in enumerate(model.casualty_ids)}
    hospital_index = {name: h for h, name in enumerate(model.hospital_ids)}
    capable = [set(h.tolist()) for h in model.capable_hospitals]
    beds_left = model.beds.copy()
    place = model.unit_origin.copy()
    taken: set[int] = set()
    for trip in trips:
        if not isinstance(trip, dict) or not isinstance(trip.get("casualties"), list):
            continue
        unit = unit_index.get(trip.get("ambulance"))  # type: ignore[arg-type]
        hospital = hospital_index.get(trip.get("hospital"))  # type: ignore[arg-type]
        if unit is None or hospital is None:
            continue
        aboard: list[int] = []
        for name in trip["casualties"]:
            c = casualty_index.get(name) if isinstance(name, str) else None
            if (
                c is None
                or c in taken
                or model.category[c] == BLACK
                or hospital not in capable[c]
                or (model.needs_als[c] and not model.unit_als[unit])
                or beds_left[hospital, model.category[c]] <= 0
                or (aboard and model.casualty_site[c] != model.casualty_site[aboard[0]])
                or len(aboard) == model.unit_capacity[unit]
            ):
                continue
            aboard.append(c)
        if not aboard:
            continue
        site = int(model.casualty_site[aboard[0]])
        legs = model.origin_to_site[place[unit], site] + model.site_to_hospital[site, hospital]
        if not np.isfinite(legs):
            continue
        for c in aboard:
            taken.add(c)
            beds_left[hospital, model.category[c]] -= 1
        place[unit] = model.hospital_origin[hospital]
        routes[unit].append((site, tuple(aboard), hospital))
    return routes


def _explain(model: Model, evaluation: Evaluation) -> dict[str, str]:
    instance = model.instance
    hospital_place = {h.id: h.place for h in instance.hospitals}
    casualty = {c.id: c for c in instance.casualties}
    level = {a.id: a.level for a in instance.ambulances}
    hospital_rank = {name: h for h, name in enumerate(model.hospital_ids)}
    casualty_index = {name: c for c, name in enumerate(model.casualty_ids)}
    notes = {}
    for trip in evaluation.schedule:
        for name in trip.casualties:
            c = casualty_index[name]
            site = int(model.casualty_site[c])
            capable = model.capable_hospitals[c]
            capable = capable[model.beds[capable, model.category[c]] > 0]
            legs = model.site_to_hospital[site, capable]
            order = capable[np.argsort(legs, kind="stable")].tolist()
            rank = order.index(hospital_rank[trip.hospital]) + 1
            nearest = "nearest" if rank == 1 else f"{_ordinal(rank)} nearest"
            need = "/".join(sorted(casualty[name].needs)) or "capable"
            shared = [other for other in trip.casualties if other != name]
            together = f", with {', '.join(shared)}" if shared else ""
            wait = " (waits for report)" if trip.loads_at > trip.reaches_place_at + 1e-9 else ""
            minutes_to_site = trip.reaches_place_at - instance.now
            minutes_to_hospital = trip.arrives_at - instance.now
            category = casualty[name].category
            notes[name] = (
                f"{category}, {level[trip.ambulance]} {trip.ambulance} reaches it in "
                f"{minutes_to_site:.0f} min{wait}{together}; "
                f"{trip.hospital} ({hospital_place[trip.hospital]}) "
                f"{nearest} {need} {category} bed, "
                f"arrives in {minutes_to_hospital:.0f} min, p={evaluation.survival[name]:.2f}"
            )
    return notes


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def solve(
    instance: Instance,
    *,
    time_limit: float,
    warm_start: dict[str, Any] | None = None,
    seed: int = 0,
    started_at: float | None = None,
) -> dict[str, Any]:
    """Best plan found within `time_limit` seconds of wall clock, counted from `started_at`
    (a time.perf_counter() reading; default: now) so a caller can include its own set-up."""
    begun = time.perf_counter() if started_at is None else started_at
    reserve = min(
        0.3 * time_limit, _RESERVE_FIXED + _RESERVE_PER_CASUALTY * len(instance.casualties)
    )
    deadline = begun + time_limit - reserve
    model = build_model(instance)

    cycle = typical_cycle_minutes(model)
    candidates = []
    first_started = time.perf_counter()
    candidates.append(greedy_routes(model, deferral=cycle, deadline=deadline))
    first_cost = time.perf_counter() - first_started
    # Other deferrals weigh slow-dying yellows against fast-dying reds differently; each pass is
    # cheap, and is only tried while it leaves most of the budget to the local search.
    for factor in (0.5, 2.0):
        if time.perf_counter() + 4.0 * first_cost < deadline:
            candidates.append(greedy_routes(model, deferral=factor * cycle, deadline=deadline))
    if warm_start is not None:
        candidates.append(_routes_from_warm_start(model, warm_start))

    scored: list[tuple[float, int, RouteSearch]] = []
    for routes in candidates:
        search = RouteSearch(model, routes, seed=seed)
        scored.append((search.total(), len(scored), search))
    best_search = max(scored)[2]
    best_search.run(deadline=deadline)

    for routes in [best_search.routes] + [s.routes for _, _, s in sorted(scored, reverse=True)]:
        plan = _plan_from_routes(model, routes)
        evaluation = evaluate_plan(instance, plan)
        if evaluation.valid:
            plan["explain"] = _explain(model, evaluation)
            return plan
    # Unreachable unless the search corrupted every candidate; an empty plan is always valid.
    return {"format": PLAN_FORMAT, "trips": [], "explain": {}}
