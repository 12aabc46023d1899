"""Building blocks for protocol payloads, declared once and used to validate and to document.

PROTOCOL.md is strict: a boolean or a string is not a number, null is not a value, unknown
fields are invalid, text lengths count code points. Pydantic's lax coercions would accept
`"72"` for a heart rate, so every scalar here is a rule that checks its JSON type itself and
words its error as the contract does ("must be 0..300"). A rule is Annotated metadata:
`hr: Annotated[float | None, number(0, 300, "/min")] = None` is an optional heart rate.
"""

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PrivateAttr,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema


class Payload(BaseModel):
    """Base of every `data` object: closed (unknown fields are invalid) and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _wire: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_what_was_sent(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        model = handler(value)
        if isinstance(value, dict):
            model._wire = value
        return model

    def wire(self) -> dict[str, Any]:
        """The data exactly as the terminal sent it (validated): what the journal stores."""
        return dict(self._wire)


@dataclass(frozen=True)
class Rule:
    """A validator that replaces pydantic's own for one field, with its JSON schema."""

    check: Callable[[Any], Any]
    json_schema: dict[str, Any] = field(hash=False)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return dict(self.json_schema)


def _fail(kind: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, context or None)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound_text(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def number(lo: float, hi: float, unit: str = "") -> Rule:
    lo_text, hi_text = _bound_text(lo), _bound_text(hi)

    def check(value: Any) -> float:
        if not _is_number(value):
            raise _fail("number", "must be a number")
        if not math.isfinite(value) or not lo <= value <= hi:
            raise _fail("range", "must be {lo}..{hi}", lo=lo_text, hi=hi_text)
        return float(value)

    schema: dict[str, Any] = {"type": "number", "minimum": lo, "maximum": hi}
    if unit:
        schema["x-unit"] = unit
    return Rule(check, schema)


def integer(lo: int, hi: int) -> Rule:
    def check(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail("integer", "must be an integer")
        if not lo <= value <= hi:
            raise _fail("range", "must be {lo}..{hi}", lo=lo, hi=hi)
        return value

    return Rule(check, {"type": "integer", "minimum": lo, "maximum": hi})


def text(max_length: int, min_length: int = 1) -> Rule:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _fail("text", "must be text")
        if not min_length <= len(value) <= max_length:
            raise _fail(
                "length", "must be text of {lo}..{hi} characters", lo=min_length, hi=max_length
            )
        return value

    return Rule(check, {"type": "string", "minLength": min_length, "maxLength": max_length})


def one_of(*choices: str) -> Rule:
    allowed = frozenset(choices)
    listed = ", ".join(choices)

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise _fail("choice", "must be one of {listed}", listed=listed)
        return value

    return Rule(check, {"enum": list(choices)})


def list_of(*choices: str) -> Rule:
    allowed = frozenset(choices)
    listed = ", ".join(choices)

    def check(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise _fail("list", "must be a list")
        for item in value:
            if not isinstance(item, str) or item not in allowed:
                raise _fail("choice", "items must be among {listed}", listed=listed)
        # A need listed twice is the same need; keeping the first order reads naturally.
        return list(dict.fromkeys(value))

    return Rule(
        check, {"type": "array", "items": {"enum": list(choices)}, "uniqueItems": True}
    )


def number_list(min_items: int, max_items: int) -> Rule:
    def check(value: Any) -> list[float]:
        if not isinstance(value, list):
            raise _fail("list", "must be a list of numbers")
        if not min_items <= len(value) <= max_items:
            raise _fail("length", "must have {lo}..{hi} numbers", lo=min_items, hi=max_items)
        for index, item in enumerate(value):
            if not _is_number(item) or not math.isfinite(item):
                raise _fail("number", "item {index} must be a number", index=index)
        return [float(item) for item in value]

    return Rule(
        check,
        {"type": "array", "items": {"type": "number"}, "minItems": min_items,
         "maxItems": max_items},
    )


def uuid_list(min_items: int, max_items: int) -> Rule:
    def check(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise _fail("list", "must be a list of UUIDs")
        if not min_items <= len(value) <= max_items:
            raise _fail("length", "must have {lo}..{hi} UUIDs", lo=min_items, hi=max_items)
        canonical = []
        for index, item in enumerate(value):
            try:
                canonical.append(_check_uuid(item))
            except PydanticCustomError:
                raise _fail("uuid", "item {index} must be a UUID string", index=index) from None
        return list(dict.fromkeys(canonical))

    return Rule(
        check,
        {"type": "array", "items": {"type": "string", "format": "uuid"}, "minItems": min_items,
         "maxItems": max_items, "uniqueItems": True},
    )


def _check_boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail("boolean", "must be true or false")
    return value


def _check_timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _fail("time", "must be an ISO 8601 time with a zone")
    iso = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise _fail("time", "must be an ISO 8601 time with a zone") from None
    if parsed.tzinfo is None:
        raise _fail("time", "must be an ISO 8601 time with a zone")
    return parsed


def _check_uuid(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail("uuid", "must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _fail("uuid", "must be a UUID string") from None


boolean = Rule(_check_boolean, {"type": "boolean"})
timestamp = Rule(_check_timestamp, {"type": "string", "format": "date-time"})
uuid_text = Rule(_check_uuid, {"type": "string", "format": "uuid"})

CATEGORIES = ("red", "yellow", "green", "black")
TRIAGE_METHODS = ("START", "JumpSTART", "SALT", "manual")
NEEDS = ("trauma", "burns", "pediatric", "cardiac", "stroke")


class Location(Payload):
    lat: Annotated[float, number(-90, 90, "degree")]
    lon: Annotated[float, number(-180, 180, "degree")]


class NoData(Payload):
    """A message whose data is an empty object (or absent)."""
