from typing import Annotated

from hub.payloads import Payload, integer, text, uuid_list, uuid_text

CALLSIGN = text(32)
HOSPITAL_CODE = text(32)


class DispatchAccept(Payload):
    recommendation: Annotated[int, integer(1, 2**63 - 1)]
    # Absent: accept every assignment of the recommendation that can be carried out now.
    casualties: Annotated[list[str] | None, uuid_list(1, 1000)] = None


class DispatchOverride(Payload):
    casualty: Annotated[str, uuid_text]
    unit: Annotated[str, CALLSIGN]
    hospital: Annotated[str, HOSPITAL_CODE]


class DispatchRelease(Payload):
    casualty: Annotated[str, uuid_text]
