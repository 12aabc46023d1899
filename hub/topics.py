"""Topic names of PROTOCOL.md: `kind:key`."""

import re
import uuid
from dataclasses import dataclass

from hub.errors import Invalid

TOPIC_KINDS = ("event", "casualty", "unit", "hospital", "consult", "terminal")
_UUID_KINDS = {"casualty", "consult"}
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class TopicRef:
    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


def parse_topic(value: object, field: str = "topic") -> TopicRef:
    if not isinstance(value, str):
        raise Invalid(f"{field}: must be a string like 'casualty:<uuid>'")
    kind, sep, key = value.partition(":")
    if not sep or kind not in TOPIC_KINDS:
        raise Invalid(f"{field}: must start with one of {', '.join(k + ':' for k in TOPIC_KINDS)}")
    if kind in _UUID_KINDS:
        try:
            parsed = uuid.UUID(key)
        except ValueError:
            raise Invalid(f"{field}: {kind} key must be a UUID") from None
        if str(parsed) != key.lower():
            raise Invalid(f"{field}: {kind} key must be a UUID in its canonical form")
        return TopicRef(kind, str(parsed))
    if not _KEY.match(key):
        raise Invalid(f"{field}: key must be 1..100 letters, digits, '.', '_' or '-'")
    return TopicRef(kind, key)
