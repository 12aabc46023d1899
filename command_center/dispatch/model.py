"""A numeric view of an instance, indexed by integers, shared by baseline, solver and bounds.

Only the travel legs a plan can use are kept: from a unit's start place or a hospital (the
places a unit can leave from) to a casualty's place, and from a casualty's place to a hospital.
That keeps memory proportional to (units + hospitals) x pick-up places even when every casualty
sits at its own point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .instance import CATEGORIES, Instance

CATEGORY_CODE = {name: code for code, name in enumerate(CATEGORIES)}
BLACK = CATEGORY_CODE["black"]


@dataclass
class Model:
    instance: Instance
    load: float
    unload: float
    # casualties (index c)
    casualty_ids: list[str]
    casualty_site: np.ndarray  # int, index into site_ids
    category: np.ndarray  # int code into CATEGORIES
    injured_at: np.ndarray
    reported_at: np.ndarray
    needs_als: np.ndarray  # bool
    # p(t) = b0 / (1 + scale * (max(t, 0) / b1) ** b2); a constant model has scale 0.
    b0: np.ndarray
    b1: np.ndarray
    b2: np.ndarray
    scale: np.ndarray
    capable_hospitals: list[np.ndarray]  # per casualty: hospitals whose capabilities cover needs
    # units (index u)
    unit_ids: list[str]
    unit_origin: np.ndarray  # int, index into origin_ids
    unit_start: np.ndarray  # max(now, available_at)
    unit_capacity: np.ndarray
    unit_als: np.ndarray  # bool
    # hospitals (index h)
    hospital_ids: list[str]
    hospital_origin: np.ndarray  # int, index into origin_ids
    beds: np.ndarray  # int [hospital, category]
    # travel, np.inf where the matrix lacks the pair
    site_ids: list[str]
    origin_ids: list[str]
    origin_to_site: np.ndarray  # [origin, site]
    site_to_hospital: np.ndarray  # [site, hospital]

    def probability(self, casualty: int | np.ndarray, arrival: float | np.ndarray) -> np.ndarray:
        t = np.maximum(np.asarray(arrival, dtype=float) - self.injured_at[casualty], 0.0)
        return self.b0[casualty] / (
            1.0 + self.scale[casualty] * (t / self.b1[casualty]) ** self.b2[casualty]
        )


def _leg_matrix(instance: Instance, origins: list[str], destinations: list[str]) -> np.ndarray:
    matrix = np.full((len(origins), len(destinations)), np.inf)
    for i, origin in enumerate(origins):
        row = instance.travel_minutes.get(origin, {})
        for j, destination in enumerate(destinations):
            if origin == destination:
                matrix[i, j] = 0.0
            elif destination in row:
                matrix[i, j] = row[destination]
    return matrix


def build_model(instance: Instance) -> Model:
    casualties = instance.casualties
    site_ids = list(dict.fromkeys(c.place for c in casualties))
    site_index = {place: i for i, place in enumerate(site_ids)}
    origin_ids = list(
        dict.fromkeys(
            [a.place for a in instance.ambulances] + [h.place for h in instance.hospitals]
        )
    )
    origin_index = {place: i for i, place in enumerate(origin_ids)}

    curves = []
    for casualty in casualties:
        survival = casualty.survival
        if survival is None:  # black without a curve: never transported, value irrelevant
            curves.append((0.0, 1.0, 1.0, 0.0))
        elif survival.model == "constant":
            curves.append((survival.p, 1.0, 1.0, 0.0))
        else:
            curves.append((survival.b0, survival.b1, survival.b2, 1.0))
    b0, b1, b2, scale = np.array(curves, dtype=float).reshape(len(casualties), 4).T

    hospitals = instance.hospitals
    capable_hospitals = []
    for casualty in casualties:
        capable_hospitals.append(
            np.array(
                [
                    h
                    for h, hospital in enumerate(hospitals)
                    if casualty.needs <= hospital.capabilities
                ],
                dtype=int,
            )
        )
    beds = np.array(
        [[hospital.beds_of(name) for name in CATEGORIES] for hospital in hospitals], dtype=int
    )
    beds = beds.reshape(len(hospitals), len(CATEGORIES))

    return Model(
        instance=instance,
        load=instance.load_minutes,
        unload=instance.unload_minutes,
        casualty_ids=[c.id for c in casualties],
        casualty_site=np.array([site_index[c.place] for c in casualties], dtype=int),
        category=np.array([CATEGORY_CODE[c.category] for c in casualties], dtype=int),
        injured_at=np.array([c.injured_at for c in casualties], dtype=float),
        reported_at=np.array([c.reported_at for c in casualties], dtype=float),
        needs_als=np.array([c.needs_als for c in casualties], dtype=bool),
        b0=np.array(b0, dtype=float),
        b1=np.array(b1, dtype=float),
        b2=np.array(b2, dtype=float),
        scale=np.array(scale, dtype=float),
        capable_hospitals=capable_hospitals,
        unit_ids=[a.id for a in instance.ambulances],
        unit_origin=np.array([origin_index[a.place] for a in instance.ambulances], dtype=int),
        unit_start=np.array(
            [max(instance.now, a.available_at) for a in instance.ambulances], dtype=float
        ),
        unit_capacity=np.array([a.capacity for a in instance.ambulances], dtype=int),
        unit_als=np.array([a.level == "ALS" for a in instance.ambulances], dtype=bool),
        hospital_ids=[h.id for h in hospitals],
        hospital_origin=np.array([origin_index[h.place] for h in hospitals], dtype=int),
        beds=beds,
        site_ids=site_ids,
        origin_ids=origin_ids,
        origin_to_site=_leg_matrix(instance, origin_ids, site_ids),
        site_to_hospital=_leg_matrix(instance, site_ids, [h.place for h in hospitals]),
    )
