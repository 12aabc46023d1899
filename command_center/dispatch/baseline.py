"""What a dispatcher does without an optimizer, as the yardstick for the solver.

Casualties are taken in START priority (red, yellow, green), then by report time; each gets
the capable unit that can reach it first and the nearest capable hospital with a free bed of
its category, one casualty per trip.
"""

from __future__ import annotations

import numpy as np

from .evaluate import PLAN_FORMAT
from .instance import Instance
from .model import BLACK, CATEGORY_CODE, build_model

_PRIORITY = {CATEGORY_CODE["red"]: 0, CATEGORY_CODE["yellow"]: 1, CATEGORY_CODE["green"]: 2}


def baseline_plan(instance: Instance) -> dict:
    model = build_model(instance)
    free_at = model.unit_start.copy()
    origin = model.unit_origin.copy()
    beds_left = model.beds.copy()
    order = sorted(
        (c for c in range(len(model.casualty_ids)) if model.category[c] != BLACK),
        key=lambda c: (_PRIORITY[int(model.category[c])], float(model.reported_at[c]), c),
    )
    trips = []
    for c in order:
        site = model.casualty_site[c]
        category = model.category[c]
        capable = model.capable_hospitals[c]
        with_bed = capable[beds_left[capable, category] > 0]
        legs = model.site_to_hospital[site, with_bed]
        if with_bed.size == 0 or not np.isfinite(legs).any():
            continue
        hospital = int(with_bed[np.argmin(legs)])
        reach = free_at + model.origin_to_site[origin, site]
        if model.needs_als[c]:
            reach = np.where(model.unit_als, reach, np.inf)
        if not np.isfinite(reach).any():
            continue
        unit = int(np.argmin(reach))
        loads_at = max(float(reach[unit]), float(model.reported_at[c]))
        arrives_at = loads_at + model.load + float(model.site_to_hospital[site, hospital])
        free_at[unit] = arrives_at + model.unload
        origin[unit] = model.hospital_origin[hospital]
        beds_left[hospital, category] -= 1
        trips.append(
            {
                "ambulance": model.unit_ids[unit],
                "casualties": [model.casualty_ids[c]],
                "hospital": model.hospital_ids[hospital],
            }
        )
    return {"format": PLAN_FORMAT, "trips": trips}
