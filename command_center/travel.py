"""Driving times between points, behind one interface, for the dispatch snapshot and ETAs.

`EstimatedTravelTimes` (the default) is an ESTIMATE, not a routing result: great-circle distance
times a circuity factor (roads are longer than the straight line; 1.3 is the usual urban
figure) at a constant road speed (`DISPATCH_ROAD_SPEED_KMH`). It needs no map data, so it works
anywhere and costs microseconds, but it knows nothing of rivers, one-way streets or traffic.
Production should point `OSRM_URL` at an OSRM server loaded with the region's roads
(`DISPATCH_TRAVEL_PROVIDER=osrm`); if that server cannot be reached, the estimate is used and
a warning is logged, so a routing outage slows nothing down and never stops dispatch.
"""

import json
import logging
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

LatLon = tuple[float, float]
CIRCUITY = 1.3
_EARTH_RADIUS_KM = 6371.0088


def haversine_km(a: LatLon, b: LatLon) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class TravelTimes(Protocol):
    def minutes(
        self, origins: Sequence[LatLon], destinations: Sequence[LatLon]
    ) -> list[list[float]]:
        """Driving minutes: row i is origin i, column j destination j."""
        ...


class EstimatedTravelTimes:
    """Distance x circuity / speed: an estimate (see the module docstring)."""

    def __init__(self, speed_kmh: float, circuity: float = CIRCUITY) -> None:
        if speed_kmh <= 0:
            raise ValueError("speed_kmh must be > 0")
        self.minutes_per_km = circuity * 60.0 / speed_kmh

    def between(self, origin: LatLon, destination: LatLon) -> float:
        return haversine_km(origin, destination) * self.minutes_per_km

    def minutes(
        self, origins: Sequence[LatLon], destinations: Sequence[LatLon]
    ) -> list[list[float]]:
        return [[self.between(o, d) for d in destinations] for o in origins]


class OsrmTravelTimes:
    """OSRM's table service (`/table/v1/driving/...?annotations=duration`), in minutes.

    A pair OSRM cannot route (null in its answer) and every pair of a failed request get the
    estimate instead, so the matrix is always complete.
    """

    def __init__(self, url: str, *, timeout: float, fallback: EstimatedTravelTimes) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.fallback = fallback

    def _request_url(self, origins: Sequence[LatLon], destinations: Sequence[LatLon]) -> str:
        # OSRM wants lon,lat; sources and destinations index one coordinate list.
        points = [*origins, *destinations]
        coordinates = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
        sources = ";".join(str(i) for i in range(len(origins)))
        targets = ";".join(str(len(origins) + j) for j in range(len(destinations)))
        return (f"{self.url}/table/v1/driving/{coordinates}"
                f"?sources={sources}&destinations={targets}&annotations=duration")

    def minutes(
        self, origins: Sequence[LatLon], destinations: Sequence[LatLon]
    ) -> list[list[float]]:
        if not origins or not destinations:
            return [[] for _ in origins]
        try:
            with urllib.request.urlopen(
                self._request_url(origins, destinations), timeout=self.timeout
            ) as response:
                answer = json.loads(response.read())
            if answer.get("code") != "Ok":
                raise ValueError(f"OSRM answered code {answer.get('code')!r}")
            durations = answer["durations"]
            if len(durations) != len(origins) or any(
                len(row) != len(destinations) for row in durations
            ):
                raise ValueError("OSRM durations do not match the request's shape")
        except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError) as error:
            logger.warning("OSRM at %s unusable (%s); using the distance estimate",
                           self.url, error)
            return self.fallback.minutes(origins, destinations)
        return [
            [
                seconds / 60.0 if isinstance(seconds, int | float) and seconds >= 0
                else self.fallback.between(origin, destination)
                for seconds, destination in zip(row, destinations, strict=True)
            ]
            for row, origin in zip(durations, origins, strict=True)
        ]


def estimated_travel_times() -> EstimatedTravelTimes:
    return EstimatedTravelTimes(speed_kmh=settings.DISPATCH_ROAD_SPEED_KMH)


def travel_times() -> TravelTimes:
    """The provider the settings choose (DISPATCH_TRAVEL_PROVIDER, OSRM_URL)."""
    if settings.DISPATCH_TRAVEL_PROVIDER == "osrm":
        return OsrmTravelTimes(settings.OSRM_URL, timeout=settings.OSRM_TIMEOUT_SECONDS,
                               fallback=estimated_travel_times())
    return estimated_travel_times()
