"""Local search over unit routes until a deadline.

A route is the ordered list of trips of one unit; a trip is (site, casualties, hospital). The
objective is separable by route except for beds, which are tracked in `beds_left`, so a move
re-simulates only the one or two routes it touches. Routes are short (about casualties / units
trips), so exact re-simulation in plain Python is cheaper than keeping incremental state.

Moves: relocate a trip (to another unit or another position of its own unit), swap two trips
between units, send a trip to another hospital, pair a casualty into a trip at the same place,
split a casualty out of a shared trip, and insert a casualty left out. Only improving moves
are kept.
"""

from __future__ import annotations

import math
import random
import time

import numpy as np

from .construct import Trip
from .model import BLACK, Model

_NEAREST_HOSPITALS_TRIED = 6


class RouteSearch:
    def __init__(self, model: Model, routes: list[list[Trip]], *, seed: int) -> None:
        self.rng = random.Random(seed)
        self.site = model.casualty_site.tolist()
        self.reported = model.reported_at.tolist()
        self.injured = model.injured_at.tolist()
        self.b0 = model.b0.tolist()
        self.b1 = model.b1.tolist()
        self.b2 = model.b2.tolist()
        self.scale = model.scale.tolist()
        self.category = model.category.tolist()
        self.needs_als = model.needs_als.tolist()
        self.capable = [set(h.tolist()) for h in model.capable_hospitals]
        self.capacity = model.unit_capacity.tolist()
        self.unit_als = model.unit_als.tolist()
        self.start = model.unit_start.tolist()
        self.unit_origin = model.unit_origin.tolist()
        self.hospital_origin = model.hospital_origin.tolist()
        self.origin_to_site = model.origin_to_site.tolist()
        self.site_to_hospital = model.site_to_hospital.tolist()
        self.load = model.load
        self.unload = model.unload
        self.nearest_hospitals = [
            [int(h) for h in np.argsort(row, kind="stable") if math.isfinite(row[h])]
            for row in model.site_to_hospital
        ]
        self.units = list(range(len(self.start)))
        self.als_units = [u for u in self.units if self.unit_als[u]]

        self.routes = [list(route) for route in routes]
        self.values = [self.route_value(u, route) for u, route in enumerate(self.routes)]
        self.beds_left = model.beds.copy().tolist()
        self.unit_of = [-1] * len(self.site)
        for u, route in enumerate(self.routes):
            for _, aboard, hospital in route:
                for c in aboard:
                    self.unit_of[c] = u
                    self.beds_left[hospital][self.category[c]] -= 1
        self.by_site: dict[int, list[int]] = {}
        for c, site in enumerate(self.site):
            if self.category[c] != BLACK and self.capable[c]:
                self.by_site.setdefault(site, []).append(c)
        self.candidates = [c for members in self.by_site.values() for c in members]

    # --- evaluation -------------------------------------------------------------------------

    def _advance(self, t: float, origin: int, trip: Trip) -> tuple[float, int, float]:
        """One trip from (free time, place): the unit's next free time and place, and the
        expected survivors it delivers."""
        site, aboard, hospital = trip
        reported, injured = self.reported, self.injured
        b0, b1, b2, scale = self.b0, self.b1, self.b2, self.scale
        t += self.origin_to_site[origin][site]
        for c in aboard:
            if reported[c] > t:
                t = reported[c]
        t += self.load + self.site_to_hospital[site][hospital]
        value = 0.0
        for c in aboard:
            x = t - injured[c]
            if x < 0.0:
                x = 0.0
            value += b0[c] / (1.0 + scale[c] * (x / b1[c]) ** b2[c])
        return t + self.unload, self.hospital_origin[hospital], value

    def _tail_value(
        self, t: float, origin: int, first: Trip, route: list[Trip], index: int
    ) -> float:
        """Survivors of `first` followed by route[index:], starting free at (t, origin)."""
        advance = self._advance
        t, origin, value = advance(t, origin, first)
        for position in range(index, len(route)):
            t, origin, gained = advance(t, origin, route[position])
            value += gained
        # A missing leg makes the time infinite; such a route is never acceptable.
        return value if t < math.inf else -math.inf

    def route_value(self, unit: int, route: list[Trip]) -> float:
        """Expected survivors carried by one unit's route; -inf if a leg is missing."""
        if not route:
            return 0.0
        return self._tail_value(self.start[unit], self.unit_origin[unit], route[0], route, 1)

    def total(self) -> float:
        return sum(self.values)

    @staticmethod
    def _accept(gain: float) -> bool:
        # Strict descent: the current plan is always the best seen, so stopping at any moment
        # (the deadline) returns the best plan without keeping copies.
        return gain > 1e-12

    # --- helpers ----------------------------------------------------------------------------

    def _locate(self, c: int) -> tuple[int, int]:
        u = self.unit_of[c]
        for i, (_, aboard, _) in enumerate(self.routes[u]):
            if c in aboard:
                return u, i
        raise AssertionError(f"casualty {c} missing from route of unit {u}")

    def _can_carry(self, unit: int, aboard: tuple[int, ...]) -> bool:
        if len(aboard) > self.capacity[unit]:
            return False
        return self.unit_als[unit] or not any(self.needs_als[c] for c in aboard)

    def _random_unit_for(self, aboard: tuple[int, ...]) -> int:
        pool = self.als_units if any(self.needs_als[c] for c in aboard) else self.units
        if not pool:
            return -1
        for _ in range(4):
            unit = self.rng.choice(pool)
            if self.capacity[unit] >= len(aboard):
                return unit
        return -1

    def _nearby_unit_for(self, trip: Trip) -> int:
        """A unit already serving the same place: the likeliest to take the trip cheaply."""
        neighbour = self.rng.choice(self.by_site[trip[0]])
        unit = self.unit_of[neighbour]
        return unit if unit >= 0 and self._can_carry(unit, trip[1]) else -1

    def _best_insertion(self, unit: int, route: list[Trip], trip: Trip) -> tuple[float, int]:
        """Best position for `trip` in `route`; the prefix before each position is simulated
        once, so trying every position costs half of re-simulating each candidate route."""
        best_value, best_position = -math.inf, -1
        t, origin, prefix = self.start[unit], self.unit_origin[unit], 0.0
        for position in range(len(route) + 1):
            value = prefix + self._tail_value(t, origin, trip, route, position)
            if value > best_value:
                best_value, best_position = value, position
            if position < len(route):
                t, origin, gained = self._advance(t, origin, route[position])
                prefix += gained
        return best_value, best_position

    def _commit(self, unit: int, route: list[Trip], value: float) -> None:
        self.routes[unit] = route
        self.values[unit] = value
        for _, aboard, _ in route:
            for c in aboard:
                self.unit_of[c] = unit

    # --- moves ------------------------------------------------------------------------------

    def relocate(self, c: int) -> None:
        u, i = self._locate(c)
        trip = self.routes[u][i]
        rest = self.routes[u][:i] + self.routes[u][i + 1 :]
        roll = self.rng.random()
        v = (
            u
            if roll < 0.3
            else self._nearby_unit_for(trip)
            if roll < 0.65
            else self._random_unit_for(trip[1])
        )
        if v < 0:
            return
        if v == u:
            value, position = self._best_insertion(u, rest, trip)
            if position >= 0 and self._accept(value - self.values[u]):
                self._commit(u, [*rest[:position], trip, *rest[position:]], value)
            return
        rest_value = self.route_value(u, rest)
        value, position = self._best_insertion(v, self.routes[v], trip)
        if position >= 0 and self._accept(rest_value + value - self.values[u] - self.values[v]):
            target = self.routes[v]
            self._commit(u, rest, rest_value)
            self._commit(v, [*target[:position], trip, *target[position:]], value)

    def swap(self, c: int) -> None:
        other = self.rng.choice(self.candidates)
        if self.unit_of[other] < 0 or self.unit_of[other] == self.unit_of[c]:
            return
        u, i = self._locate(c)
        v, j = self._locate(other)
        trip_u, trip_v = self.routes[u][i], self.routes[v][j]
        if not (self._can_carry(v, trip_u[1]) and self._can_carry(u, trip_v[1])):
            return
        route_u = [*self.routes[u][:i], trip_v, *self.routes[u][i + 1 :]]
        route_v = [*self.routes[v][:j], trip_u, *self.routes[v][j + 1 :]]
        value_u, value_v = self.route_value(u, route_u), self.route_value(v, route_v)
        if self._accept(value_u + value_v - self.values[u] - self.values[v]):
            self._commit(u, route_u, value_u)
            self._commit(v, route_v, value_v)

    def rehospital(self, c: int) -> None:
        u, i = self._locate(c)
        site, aboard, current = self.routes[u][i]
        needed: dict[int, int] = {}
        for member in aboard:
            needed[self.category[member]] = needed.get(self.category[member], 0) + 1
        best_value, best_hospital = self.values[u], current
        route = self.routes[u]
        tried = 0
        for hospital in self.nearest_hospitals[site]:
            if tried == _NEAREST_HOSPITALS_TRIED:
                break
            if hospital == current or not all(hospital in self.capable[m] for m in aboard):
                continue
            if any(self.beds_left[hospital][cat] < count for cat, count in needed.items()):
                continue
            tried += 1
            value = self.route_value(u, [*route[:i], (site, aboard, hospital), *route[i + 1 :]])
            if value > best_value + 1e-12:
                best_value, best_hospital = value, hospital
        if best_hospital != current:
            for cat, count in needed.items():
                self.beds_left[current][cat] += count
                self.beds_left[best_hospital][cat] -= count
            self._commit(
                u, [*route[:i], (site, aboard, best_hospital), *route[i + 1 :]], best_value
            )

    def pair(self, c: int) -> None:
        u, i = self._locate(c)
        site, aboard, hospital = self.routes[u][i]
        if len(aboard) >= self.capacity[u]:
            return
        other = self.rng.choice(self.by_site[site])
        if other in aboard or hospital not in self.capable[other]:
            return
        if self.needs_als[other] and not self.unit_als[u]:
            return
        v = self.unit_of[other]
        other_category = self.category[other]
        if v < 0:
            if self.beds_left[hospital][other_category] <= 0:
                return
            old_hospital = -1
        else:
            v, j = self._locate(other)
            old_hospital = self.routes[v][j][2]
            if old_hospital != hospital and self.beds_left[hospital][other_category] <= 0:
                return
        joined = (site, (*aboard, other), hospital)
        if v < 0:
            route_u = [*self.routes[u][:i], joined, *self.routes[u][i + 1 :]]
            value_u = self.route_value(u, route_u)
            if not self._accept(value_u - self.values[u]):
                return
            self._commit(u, route_u, value_u)
        else:
            left_site, left_aboard, left_hospital = self.routes[v][j]
            remaining = tuple(m for m in left_aboard if m != other)
            if v == u:
                route = list(self.routes[u])
                route[i] = joined
                if remaining:
                    route[j] = (left_site, remaining, left_hospital)
                else:
                    del route[j]
                value = self.route_value(u, route)
                if not self._accept(value - self.values[u]):
                    return
                self._commit(u, route, value)
            else:
                route_u = [*self.routes[u][:i], joined, *self.routes[u][i + 1 :]]
                route_v = list(self.routes[v])
                if remaining:
                    route_v[j] = (left_site, remaining, left_hospital)
                else:
                    del route_v[j]
                value_u, value_v = self.route_value(u, route_u), self.route_value(v, route_v)
                if not self._accept(value_u + value_v - self.values[u] - self.values[v]):
                    return
                self._commit(u, route_u, value_u)
                self._commit(v, route_v, value_v)
        if old_hospital != hospital:
            if old_hospital >= 0:
                self.beds_left[old_hospital][other_category] += 1
            self.beds_left[hospital][other_category] -= 1
        self.unit_of[other] = u

    def split(self, c: int) -> None:
        u, i = self._locate(c)
        site, aboard, hospital = self.routes[u][i]
        if len(aboard) < 2:
            return
        alone: Trip = (site, (c,), hospital)
        rest = list(self.routes[u])
        rest[i] = (site, tuple(m for m in aboard if m != c), hospital)
        v = u if self.rng.random() < 0.5 else self._random_unit_for((c,))
        if v < 0:
            return
        if v == u:
            value, position = self._best_insertion(u, rest, alone)
            if position >= 0 and self._accept(value - self.values[u]):
                self._commit(u, [*rest[:position], alone, *rest[position:]], value)
            return
        rest_value = self.route_value(u, rest)
        value, position = self._best_insertion(v, self.routes[v], alone)
        if position >= 0 and self._accept(rest_value + value - self.values[u] - self.values[v]):
            target = self.routes[v]
            self._commit(u, rest, rest_value)
            self._commit(v, [*target[:position], alone, *target[position:]], value)

    def insert_left_out(self, c: int) -> None:
        """Bring in a casualty left out. When its hospital has no bed of its category, the bed
        is freed by sending an occupant of that category elsewhere, or by leaving it out."""
        site, category = self.site[c], self.category[c]
        hospitals = [h for h in self.nearest_hospitals[site] if h in self.capable[c]]
        if not hospitals:
            return
        hospital = self.rng.choice(hospitals[:_NEAREST_HOSPITALS_TRIED])
        v = self._random_unit_for((c,))
        if v < 0:
            return
        trip: Trip = (site, (c,), hospital)
        if self.beds_left[hospital][category] > 0:
            value, position = self._best_insertion(v, self.routes[v], trip)
            if position >= 0 and value - self.values[v] > 1e-12:
                route = self.routes[v]
                self._commit(v, [*route[:position], trip, *route[position:]], value)
                self.beds_left[hospital][category] -= 1
            return
        occupants = [
            (u, i)
            for u, route in enumerate(self.routes)
            for i, (_, aboard, h) in enumerate(route)
            if h == hospital and any(self.category[m] == category for m in aboard)
        ]
        if not occupants:
            return
        u, i = self.rng.choice(occupants)
        o_site, o_aboard, _ = self.routes[u][i]
        occupant = next(m for m in o_aboard if self.category[m] == category)
        elsewhere = next(
            (
                h
                for h in self.nearest_hospitals[o_site]
                if h != hospital
                and all(h in self.capable[m] for m in o_aboard)
                and all(
                    self.beds_left[h][self.category[m]]
                    > sum(1 for n in o_aboard if self.category[n] == self.category[m]) - 1
                    for m in o_aboard
                )
            ),
            -1,
        )
        if elsewhere >= 0:
            changed: Trip = (o_site, o_aboard, elsewhere)
        else:
            remaining = tuple(m for m in o_aboard if m != occupant)
            changed = (o_site, remaining, hospital)
        route_u = self.routes[u][:i] + ([changed] if changed[1] else []) + self.routes[u][i + 1 :]
        if v == u:
            value, position = self._best_insertion(u, route_u, trip)
            gain = value - self.values[u]
        else:
            value_u = self.route_value(u, route_u)
            value, position = self._best_insertion(v, self.routes[v], trip)
            gain = value_u + value - self.values[u] - self.values[v]
        if position < 0 or gain <= 1e-12:
            return
        if v == u:
            self._commit(u, [*route_u[:position], trip, *route_u[position:]], value)
        else:
            self._commit(u, route_u, value_u)
            target = self.routes[v]
            self._commit(v, [*target[:position], trip, *target[position:]], value)
        if elsewhere >= 0:
            for m in o_aboard:
                self.beds_left[hospital][self.category[m]] += 1
                self.beds_left[elsewhere][self.category[m]] -= 1
            self.beds_left[hospital][category] -= 1  # the bed just freed goes to c
        else:
            self.unit_of[occupant] = -1  # its bed passes straight to c

    # --- driver -----------------------------------------------------------------------------

    def run(self, *, deadline: float) -> None:
        if not self.candidates or not self.units:
            return
        # Weighted by how often each move pays off on the benchmark families.
        moves = (self.relocate,) * 5 + (self.swap,) * 2 + (self.rehospital, self.pair, self.split)
        iteration = 0
        while True:
            iteration += 1
            if iteration % 16 == 0 and time.perf_counter() >= deadline:
                return
            c = self.rng.choice(self.candidates)
            if self.unit_of[c] < 0:
                self.insert_left_out(c)
            else:
                self.rng.choice(moves)(c)
