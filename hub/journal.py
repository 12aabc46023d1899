"""The journal: every message any terminal can see, stored before anyone sees it.

How per-topic seq stays 1, 2, 3, ... with no gap and no duplicate, however many writers:
`_next_seq` increments the topic's row in one `INSERT ... ON CONFLICT DO UPDATE ...
RETURNING`. That takes the row lock of `hub_topic.name`, and PostgreSQL holds it until the
transaction ends. A second writer on the same topic blocks on the lock, then reads the
committed head; if the first rolled back, its increment is rolled back with it. So seq n+1
is taken only after seq n committed (or vanished), the unique (topic, seq) constraint is a
backstop, and "seq order" is "commit order" — which also means that when a subscriber sees
seq n committed, every seq below n is committed and readable for gap filling.
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from hub.models import JournalEntry, Terminal
from hub.timefmt import iso_millis

HUB_SENDER = "hub"


@dataclass(frozen=True)
class StoredMessage:
    topic: str
    seq: int
    type: str
    id: str
    sender: str
    data: dict[str, Any]
    stored_at: datetime

    def frame(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "topic": self.topic,
            "seq": self.seq,
            "ts": iso_millis(self.stored_at),
            "from": self.sender,
            "id": self.id,
            "data": self.data,
        }

    def frame_text(self) -> str:
        return json.dumps(self.frame(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_entry(cls, entry: JournalEntry) -> "StoredMessage":
        return cls(
            topic=entry.topic, seq=entry.seq, type=entry.type, id=entry.client_id,
            sender=entry.sender, data=entry.data, stored_at=entry.stored_at,
        )


def _next_seq(topic: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO hub_topic (name, head_seq) VALUES (%s, 1) "
            "ON CONFLICT (name) DO UPDATE SET head_seq = hub_topic.head_seq + 1 "
            "RETURNING head_seq",
            [topic],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def journal_append(
    *,
    topic: str,
    type: str,
    data: dict[str, Any],
    terminal: Terminal | None,
    client_id: str | None = None,
) -> StoredMessage:
    """Store one message in its topic; it is broadcast once the surrounding transaction commits.

    `terminal=None` makes a hub-made message (`from: "hub"`) with an id of the hub's own.
    Must run inside the transaction that makes the domain change it describes.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("journal_append must run inside the domain change's transaction")
    entry = JournalEntry.objects.create(
        topic=topic,
        seq=_next_seq(topic),
        type=type,
        client_id=client_id if terminal is not None and client_id else f"hub-{uuid.uuid4()}",
        terminal=terminal,
        sender=terminal.name if terminal is not None else HUB_SENDER,
        data=data,
        stored_at=timezone.now(),
    )
    message = StoredMessage.from_entry(entry)
    from hub.broadcast import broadcast

    transaction.on_commit(partial(broadcast, message))
    return message


def _idempotency_lock_key(terminal_id: int, client_id: str) -> int:
    digest = hashlib.blake2b(f"{terminal_id}:{client_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def apply_once(
    *, terminal: Terminal, client_id: str, apply: Callable[[], StoredMessage]
) -> tuple[StoredMessage, bool]:
    """Run `apply` in a transaction unless this terminal's frame id is already stored.

    Returns the stored message and whether it was stored now. Two copies of one frame that
    arrive at once (two sockets of one tablet) serialise on an advisory lock keyed by
    (terminal, id), whatever their topics, so the second sees the first's entry.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [_idempotency_lock_key(terminal.pk, client_id)]
            )
        existing = JournalEntry.objects.filter(terminal=terminal, client_id=client_id).first()
        if existing is not None:
            return StoredMessage.from_entry(existing), False
        return apply(), True
