from datetime import datetime
from typing import Annotated

from hub.payloads import Payload, number, one_of, timestamp

UNIT_STATUSES = (
    "available", "dispatched", "on_scene", "transporting", "at_hospital", "returning",
    "out_of_service",
)


class Position(Payload):
    t: Annotated[datetime, timestamp]
    lat: Annotated[float, number(-90, 90, "degree")]
    lon: Annotated[float, number(-180, 180, "degree")]
    heading: Annotated[float | None, number(0, 360, "degree")] = None
    speed: Annotated[float | None, number(0, 100, "m/s")] = None
    accuracy: Annotated[float | None, number(0, 10000, "m")] = None


class UnitStatus(Payload):
    status: Annotated[str, one_of(*UNIT_STATUSES)]
