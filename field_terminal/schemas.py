"""Payloads the field and ambulance terminals send about a casualty (PROTOCOL.md core types)."""

from datetime import datetime
from typing import Annotated

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from hub.payloads import (
    CATEGORIES,
    NEEDS,
    TRIAGE_METHODS,
    Location,
    Payload,
    integer,
    list_of,
    number,
    number_list,
    one_of,
    text,
    timestamp,
    uuid_text,
)


class CasualtyReport(Payload):
    """A new casualty. Its own topic `casualty:<uuid>` exists from this moment."""

    casualty: Annotated[str, uuid_text]
    location: Location
    category: Annotated[str, one_of(*CATEGORIES)]
    method: Annotated[str, one_of(*TRIAGE_METHODS)]
    tag: Annotated[str | None, text(32)] = None
    age_group: Annotated[str | None, one_of("adult", "child", "infant")] = None
    sex: Annotated[str | None, one_of("female", "male", "unknown")] = None
    complaint: Annotated[str | None, text(500)] = None
    needs: Annotated[list[str] | None, list_of(*NEEDS)] = None


class TriageUpdate(Payload):
    category: Annotated[str, one_of(*CATEGORIES)]
    method: Annotated[str, one_of(*TRIAGE_METHODS)]
    reason: Annotated[str | None, text(500)] = None


VITAL_FIELDS = ("hr", "spo2", "rr", "sbp", "dbp", "temp", "gcs", "etco2")


class Vitals(Payload):
    """One set of measurements; at least one of the vital fields is present."""

    t: Annotated[datetime, timestamp]
    hr: Annotated[float | None, number(0, 300, "/min")] = None
    spo2: Annotated[float | None, number(0, 100, "%")] = None
    rr: Annotated[float | None, number(0, 80, "/min")] = None
    sbp: Annotated[float | None, number(0, 300, "mm[Hg]")] = None
    dbp: Annotated[float | None, number(0, 200, "mm[Hg]")] = None
    temp: Annotated[float | None, number(25, 45, "Cel")] = None
    gcs: Annotated[int | None, integer(3, 15)] = None
    etco2: Annotated[float | None, number(0, 150, "mm[Hg]")] = None

    @model_validator(mode="after")
    def _at_least_one_measurement(self) -> "Vitals":
        if all(getattr(self, name) is None for name in VITAL_FIELDS):
            raise PydanticCustomError(
                "vitals", "must carry at least one of " + ", ".join(VITAL_FIELDS)
            )
        return self


class Waveform(Payload):
    t0: Annotated[datetime, timestamp]
    hz: Annotated[float, number(1, 2000, "Hz")]
    signal: Annotated[str, one_of("ecg_ii", "ecg_i", "ecg_iii", "pleth", "resp", "co2")]
    unit: Annotated[str, one_of("mV", "%", "mmHg", "au")]
    samples: Annotated[list[float], number_list(1, 4000)]
