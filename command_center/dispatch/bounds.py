"""Upper bounds on expected survivors, to tell how far a plan can still be from the optimum.

Every relaxation here only ever makes things easier than the true problem (earlier times,
more capacity, rounded in the casualty's favour), so the result is a valid upper bound.

- Any instance: each casualty gets its best case alone (fastest capable unit straight to it,
  straight to the nearest capable hospital with a bed of its category, report time respected),
  and per category only as many casualties count as there are beds of that category.
- One pick-up place: a time-expanded LP. Units flow through time buckets of load completion at
  the place; a trip to hospital h brings the unit back no earlier than its round trip allows;
  casualties loaded in a bucket are limited by the seats on the trips leaving in it (ALS seats
  separately), beds per hospital and category are respected, and each casualty is valued at the
  earliest time its bucket allows. Trips after the last bucket are unlimited.
"""

from __future__ import annotations

import math

import numpy as np

from .construct import greedy_routes
from .instance import Instance
from .model import BLACK, Model, build_model

_MAX_LP_VARIABLES = 40_000


def _earliest_reach(model: Model) -> np.ndarray:
    """[unit, site]: no plan brings the unit to the place earlier. Usually the direct leg, but
    when the matrix lacks it (or a detour is shorter) the unit may get there via other places,
    each hospital on the way costing at least a load and an unload."""
    reach = model.unit_start[:, None] + model.origin_to_site[model.unit_origin]
    from_hospital = model.origin_to_site[model.hospital_origin]  # [hospital, site]
    for _ in range(len(model.site_ids) + 1):
        at_hospital = (reach[:, :, None] + model.site_to_hospital[None, :, :]).min(axis=1)
        via = (at_hospital[:, :, None] + model.load + model.unload + from_hospital[None, :, :]).min(
            axis=1
        )
        improved = np.minimum(reach, via)
        if np.array_equal(improved, reach):
            break
        reach = improved
    return reach


def _earliest_arrivals(model: Model) -> np.ndarray:
    arrivals = np.full(len(model.casualty_ids), np.inf)
    if not model.unit_ids or not model.hospital_ids:
        return arrivals
    reach = _earliest_reach(model)[:, model.casualty_site].T
    reach = np.where(model.needs_als[:, None] & ~model.unit_als[None, :], np.inf, reach)
    for c in range(len(model.casualty_ids)):
        if model.category[c] == BLACK:
            continue
        capable = model.capable_hospitals[c]
        capable = capable[model.beds[capable, model.category[c]] > 0]
        if capable.size == 0:
            continue
        loads_at = max(float(reach[c].min()), float(model.reported_at[c]))
        arrivals[c] = (
            loads_at
            + model.load
            + float(model.site_to_hospital[model.casualty_site[c], capable].min())
        )
    return arrivals


def best_case_bound(model: Model) -> float:
    arrivals = _earliest_arrivals(model)
    reachable = np.isfinite(arrivals)
    values = np.zeros(len(arrivals))
    values[reachable] = model.probability(np.flatnonzero(reachable), arrivals[reachable])
    total = 0.0
    for category in np.unique(model.category[reachable]):
        members = np.sort(values[reachable & (model.category == category)])[::-1]
        total += float(members[: int(model.beds[:, category].sum())].sum())
    return total


def _last_load_estimate(model: Model) -> float:
    """Last load completion of the greedy plan: the LP's buckets cover the time a good plan uses."""
    latest = model.instance.now
    for unit, route in enumerate(greedy_routes(model, deferral=30.0, deadline=math.inf)):
        t, origin = float(model.unit_start[unit]), int(model.unit_origin[unit])
        for site, aboard, hospital in route:
            t = (
                max(
                    t + model.origin_to_site[origin, site],
                    max(model.reported_at[c] for c in aboard),
                )
                + model.load
            )
            latest = max(latest, t)
            t += model.site_to_hospital[site, hospital] + model.unload
            origin = int(model.hospital_origin[hospital])
    return latest


def one_site_lp_bound(model: Model) -> float | None:
    """The time-expanded LP bound, or None when the LP would be too large to solve."""
    # Imported here: loading scipy costs a few tenths of a second, which `solve` on the
    # command line cannot spare from its budget.
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    now = model.instance.now
    active = np.flatnonzero(model.category != BLACK)
    if active.size == 0 or not model.unit_ids:
        return 0.0
    hospitals = np.flatnonzero(np.isfinite(model.site_to_hospital[0]))
    # The way back from a hospital to the place: a hospital's place is an origin.
    back = model.origin_to_site[model.hospital_origin, 0]
    cycle = model.site_to_hospital[0] + model.unload + back + model.load
    horizon_end = _last_load_estimate(model)

    # Casualties alike after rounding in their favour (injury later, report earlier) share a group.
    def groups_for(step: float) -> dict[tuple, int]:
        grouped: dict[tuple, int] = {}
        for c in active:
            casualty = model.instance.casualties[c]
            key = (
                int(model.category[c]),
                casualty.needs,
                bool(model.needs_als[c]),
                float(model.b0[c]),
                float(model.b1[c]),
                float(model.b2[c]),
                float(model.scale[c]),
                math.ceil(model.injured_at[c]),
                math.floor((model.reported_at[c] - now) / step) * step + now,
            )
            grouped[key] = grouped.get(key, 0) + 1
        return grouped

    step = 2.0
    while True:
        buckets = max(1, math.ceil((horizon_end - now) / step))
        grouped = groups_for(step)
        estimate = len(grouped) * max(1, hospitals.size) * (buckets + 1)
        if estimate <= _MAX_LP_VARIABLES or step >= 20.0:
            break
        step *= 1.5
    if estimate > _MAX_LP_VARIABLES:
        return None

    classes: dict[tuple[bool, int], int] = {}
    supply: dict[tuple[int, int], float] = {}
    for unit in range(len(model.unit_ids)):
        first_load = (
            model.unit_start[unit] + model.origin_to_site[model.unit_origin[unit], 0] + model.load
        )
        if not math.isfinite(first_load):
            continue
        cls = classes.setdefault(
            (bool(model.unit_als[unit]), int(model.unit_capacity[unit])), len(classes)
        )
        bucket = min(buckets, math.floor((first_load - now) / step))
        supply[(cls, max(bucket, 0))] = supply.get((cls, max(bucket, 0)), 0.0) + 1.0
    class_list = sorted(classes, key=lambda cls: classes[cls])

    columns_value: list[float] = []
    rows_ub: list[int] = []
    cols_ub: list[int] = []
    vals_ub: list[float] = []
    rhs_ub: list[float] = []
    rows_eq: list[int] = []
    cols_eq: list[int] = []
    vals_eq: list[float] = []

    def new_column(value: float) -> int:
        columns_value.append(value)
        return len(columns_value) - 1

    def add_ub(row: int, column: int, value: float) -> None:
        rows_ub.append(row)
        cols_ub.append(column)
        vals_ub.append(value)

    def add_eq(row: int, column: int, value: float) -> None:
        rows_eq.append(row)
        cols_eq.append(column)
        vals_eq.append(value)

    def new_row(rhs: float) -> int:
        rhs_ub.append(rhs)
        return len(rhs_ub) - 1

    seats_row = {(k, h): new_row(0.0) for k in range(buckets) for h in hospitals}
    als_row = {(k, h): new_row(0.0) for k in range(buckets) for h in hospitals}
    bed_row = {}
    for h in hospitals:
        for category in range(model.beds.shape[1]):
            bed_row[(h, category)] = new_row(float(model.beds[h, category]))

    any_als = any(als for als, _ in classes)
    for (category, needs, als, b0, b1, b2, scale, injured, reported), count in grouped.items():
        if als and not any_als:
            continue
        group_row = new_row(float(count))
        capable = [h for h in hospitals if needs <= model.instance.hospitals[h].capabilities]
        for h in capable:
            if model.beds[h, category] <= 0:
                continue
            for k in range(buckets + 1):
                bucket_start = now + k * step
                if k < buckets and bucket_start + step <= reported + model.load:
                    continue
                loaded = max(bucket_start, reported + model.load)
                t = max(loaded + model.site_to_hospital[0, h] - injured, 0.0)
                column = new_column(b0 / (1.0 + scale * (t / b1) ** b2))
                for row in (group_row, bed_row[(h, category)]):
                    add_ub(row, column, 1.0)
                if k < buckets:
                    add_ub(seats_row[(k, h)], column, 1.0)
                    if als:
                        add_ub(als_row[(k, h)], column, 1.0)

    # Unit flow: node (class, bucket); trips z leave a node and return after their round trip.
    node_row = {
        (cls, k): k * len(class_list) + cls
        for cls in range(len(class_list))
        for k in range(buckets)
    }
    rhs_eq = [0.0] * (buckets * len(class_list))
    for (cls, k), units in supply.items():
        if k < buckets:
            rhs_eq[node_row[(cls, k)]] = units
    for cls, (als, capacity) in enumerate(class_list):
        for k in range(buckets):
            wait = new_column(0.0)
            add_eq(node_row[(cls, k)], wait, 1.0)
            if k + 1 < buckets:
                add_eq(node_row[(cls, k + 1)], wait, -1.0)
            for h in hospitals:
                trip = new_column(0.0)
                add_eq(node_row[(cls, k)], trip, 1.0)
                # A unit that cannot drive back from h simply never returns to the place.
                back_at = k + math.floor(cycle[h] / step) if math.isfinite(cycle[h]) else buckets
                if back_at < buckets:
                    add_eq(node_row[(cls, back_at)], trip, -1.0)
                add_ub(seats_row[(k, h)], trip, -float(capacity))
                if als:
                    add_ub(als_row[(k, h)], trip, -float(capacity))

    n = len(columns_value)
    if n == 0 or not any(value > 0 for value in columns_value):
        return 0.0
    # Flow out of a node = units arriving there: sum(out) - sum(in) = supply.
    a_ub = coo_matrix((vals_ub, (rows_ub, cols_ub)), shape=(len(rhs_ub), n)).tocsr()
    a_eq = coo_matrix((vals_eq, (rows_eq, cols_eq)), shape=(len(rhs_eq), n)).tocsr()
    result = linprog(
        -np.array(columns_value),
        A_ub=a_ub,
        b_ub=np.array(rhs_ub),
        A_eq=a_eq,
        b_eq=np.array(rhs_eq),
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        return None
    # A tiny allowance for the solver's feasibility tolerance keeps the bound on the safe side.
    return float(-result.fun) * (1.0 + 1e-7) + 1e-7


def upper_bound(instance: Instance) -> float:
    model = build_model(instance)
    best_case = best_case_bound(model)
    if len(model.site_ids) == 1:
        lp = one_site_lp_bound(model)
        if lp is not None:
            return min(lp, best_case)
    return best_case
