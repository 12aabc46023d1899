"""The journal: every message any terminal can see, stored before anyone sees it.

How per-topic seq stays 1, 2, 3, ... with no gap and no duplicate, however many writers:
`journal_append_many` moves the topic's head with an `INSERT ... ON CONFLICT DO UPDATE` (a
CTE of its one statement). That takes the row lock of `hub_topic.name`, and PostgreSQL holds
it until the transaction ends. A second writer on the same topic blocks on the lock, then
reads the committed head; if the first rolled back, its increment is rolled back with it.
So seq n+1 is taken only after seq n committed (or vanished), the unique (topic, seq)
constraint is a backstop, and "seq order" is "commit order" — which also means that when a
subscriber sees seq n committed, every seq below n is committed and readable for gap
filling.

Because those row locks last to commit, a transaction that appends to several topics can
deadlock with one that appends to the same topics in another order. Two defences: a
transaction that knows its topics before its first append takes them all at once in name
order (`journal_topics_lock`), and the transactions the hub opens for terminals' frames run
again when PostgreSQL aborts them as a deadlock or serialisation failure
(`retry_rolled_back`): the whole transaction rolled back and was never acknowledged, so
running it again stores each frame once.
"""

import hashlib
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import psycopg.errors
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from hub import metrics
from hub.models import JournalEntry, Terminal
from hub.sql import binary_cursor, json_text
from hub.timefmt import iso_millis

logger = logging.getLogger(__name__)

HUB_SENDER = "hub"
# A deadlock costs PostgreSQL's deadlock_timeout (1 s) to detect; beyond a few attempts the
# terminal's own resend is as good, and the frame's socket should hear `unavailable` first.
TRANSACTION_ATTEMPTS = 4
RETRY_PAUSE_SECONDS = 0.02

T = TypeVar("T")


@dataclass(frozen=True)
class StoredMessage:
    topic: str
    seq: int
    type: str
    id: str
    sender: str
    data: dict[str, Any]
    stored_at: datetime
    # `data` as JSON text when the writer already has it: the frame then costs no second
    # serialisation of the data (a waveform's samples are most of its frame).
    data_text: str | None = field(default=None, compare=False, repr=False)

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
        if self.data_text is None:
            return json_text(self.frame())
        envelope = json_text({"type": self.type, "topic": self.topic, "seq": self.seq,
                              "ts": iso_millis(self.stored_at), "from": self.sender,
                              "id": self.id})
        return f'{envelope[:-1]},"data":{self.data_text}}}'

    @classmethod
    def from_entry(cls, entry: JournalEntry) -> "StoredMessage":
        return cls(
            topic=entry.topic, seq=entry.seq, type=entry.type, id=entry.client_id,
            sender=entry.sender, data=entry.data, stored_at=entry.stored_at,
        )


def journal_topics_lock(*, topics: list[str] | set[str]) -> None:
    """Take the append locks of these topics now, in name order, for the rest of the transaction.

    For a transaction that knows the topics it will append to before its first append: its
    later appends to them wait for nothing, and two such transactions cannot hold one topic
    each that the other waits for. A topic without a row gets one at head 0. The order is
    the statement's: INSERT ... SELECT ... ORDER BY takes the rows' locks in that order.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("journal_topics_lock must run inside the transaction it locks for")
    names = sorted(set(topics))
    if not names:
        return
    with binary_cursor() as cursor:
        cursor.execute(
            "INSERT INTO hub_topic (name, head_seq) "
            "SELECT name, 0 FROM jsonb_array_elements_text(%b::jsonb) AS t(name) ORDER BY name "
            "ON CONFLICT (name) DO UPDATE SET head_seq = hub_topic.head_seq",
            [json_text(names)],
        )


def _rollback_reason(error: BaseException) -> str | None:
    """'deadlock' or 'serialization' when PostgreSQL aborted the transaction to be run again."""
    cause = error if isinstance(error, psycopg.Error) else error.__cause__
    if isinstance(cause, psycopg.errors.DeadlockDetected):
        return "deadlock"
    if isinstance(cause, psycopg.errors.TransactionRollback):
        return "serialization"
    return None


def retry_rolled_back(work: Callable[[], T], *, what: str) -> T:
    """Run `work`, a whole transaction, again when PostgreSQL aborted it as a deadlock (40P01)
    or a serialisation failure (40001), up to TRANSACTION_ATTEMPTS times in all.

    Only the outermost transaction may be run again: inside another one, the abort has
    already doomed the caller's transaction, so the error goes up at once. `work` must have
    no effect outside its transaction (on_commit callbacks of a rolled-back one never run).
    """
    if connection.in_atomic_block:
        return work()
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            return work()
        except DatabaseError as error:
            reason = _rollback_reason(error)
            if reason is None or attempt == TRANSACTION_ATTEMPTS:
                raise
            metrics.TRANSACTION_RETRIES.labels(reason).inc()
            logger.info("%s: %s on attempt %d, running it again", what, reason, attempt)
            # Jitter, so that the two transactions that met do not meet again at once.
            time.sleep(RETRY_PAUSE_SECONDS * attempt * (0.5 + random.random()))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _client_id_and_sender(terminal: Terminal | None, client_id: str | None) -> tuple[str, str]:
    if terminal is None or not client_id:
        return f"hub-{uuid.uuid4()}", terminal.name if terminal is not None else HUB_SENDER
    return client_id, terminal.name


def _broadcast_after_commit(messages: list[StoredMessage]) -> None:
    from hub.broadcast import broadcast

    # One callback for a whole batch: Django's on_commit bookkeeping, per message, was a
    # fifth of a batch's journal work.
    transaction.on_commit(partial(broadcast, *messages))


@dataclass(frozen=True)
class JournalDraft:
    """One message for journal_append_many; the fields are journal_append's, and `row`.

    `row` is a domain row stored with the message in the journal's own statement, by one of
    journal_append_many's `row_writes`: a list of JSON values that the insert reads as
    `row->0`, `row->>1`...
    """

    topic: str
    type: str
    data: dict[str, Any]
    terminal: Terminal | None
    client_id: str | None = None
    row: list[Any] | None = None


# One statement for any number of messages (rows as one JSON parameter, hub.sql). `heads`
# moves each topic's head by its number of messages, the topics in name order (so two such
# writers lock them in the same order); `stored` gives each message its seq, a topic's
# messages in list order; `journal` stores them. Row writes join as more CTEs over `stored`
# (its columns: ord, topic, type, client_id, terminal_id, sender, data, row, stored_at, seq):
# the messages and their domain rows in one round trip, where they took one a table.
_APPEND = (
    "WITH input AS ("
    "SELECT e.ord, m->>0 AS topic, m->>1 AS type, m->>2 AS client_id, "
    "(m->>3)::bigint AS terminal_id, m->>4 AS sender, m->5 AS data, m->6 AS row, "
    "%b::timestamptz AS stored_at "
    "FROM jsonb_array_elements(%b::jsonb) WITH ORDINALITY AS e(m, ord)), "
    "heads AS ("
    "INSERT INTO hub_topic (name, head_seq) "
    "SELECT topic, count(*) FROM input GROUP BY topic ORDER BY topic "
    "ON CONFLICT (name) DO UPDATE SET head_seq = hub_topic.head_seq + EXCLUDED.head_seq "
    "RETURNING name, head_seq), "
    "stored AS ("
    "SELECT input.*, heads.head_seq - count(*) OVER per_topic "
    "+ row_number() OVER (per_topic ORDER BY input.ord) AS seq "
    "FROM input JOIN heads ON heads.name = input.topic "
    "WINDOW per_topic AS (PARTITION BY input.topic)), "
    f"journal AS (INSERT INTO {JournalEntry._meta.db_table} "
    "(topic, seq, type, client_id, terminal_id, sender, data, stored_at) "
    "SELECT topic, seq, type, client_id, terminal_id, sender, data, stored_at FROM stored)"
    "{row_writes} "
    "SELECT seq FROM stored ORDER BY ord"
)


def journal_append_many(*, drafts: list[JournalDraft],
                        row_writes: tuple[str, ...] = ()) -> list[StoredMessage]:
    """journal_append for many messages, in one statement whatever their number.

    `row_writes` are `INSERT INTO table (...) SELECT ... FROM stored WHERE ...` (or `UPDATE
    ... FROM stored WHERE ...`) statements for the drafts' domain rows, run in the same
    statement (see _APPEND): `stored.row` is a draft's row, `stored.seq` its message's seq.
    They see the tables as they were before the statement, not each other's rows. Returns the
    messages in the drafts' order.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("journal_append_many must run inside the domain change's transaction")
    if not drafts:
        return []
    stored_at = timezone.now()
    parts = []
    addressed = []
    for draft in drafts:
        client_id, sender = _client_id_and_sender(draft.terminal, draft.client_id)
        data_text = json_text(draft.data)
        addressed.append((client_id, sender, data_text))
        # The data is spliced in as the JSON text the frame will carry.
        head = json_text([draft.topic, draft.type, client_id,
                          draft.terminal.pk if draft.terminal is not None else None, sender])
        row = f",{json_text(draft.row)}" if draft.row is not None else ""
        parts.append(f"{head[:-1]},{data_text}{row}]")
    writes = "".join(f", row_write_{index} AS ({write})" for index, write in enumerate(row_writes))
    with binary_cursor() as cursor:
        cursor.execute(_APPEND.format(row_writes=writes), [stored_at, f"[{','.join(parts)}]"])
        seqs = [row[0] for row in cursor.fetchall()]
    messages = [
        StoredMessage(topic=draft.topic, seq=seq, type=draft.type, id=client_id, sender=sender,
                      data=draft.data, stored_at=stored_at, data_text=data_text)
        for draft, seq, (client_id, sender, data_text) in zip(drafts, seqs, addressed,
                                                              strict=True)
    ]
    _broadcast_after_commit(messages)
    return messages


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
    [message] = journal_append_many(drafts=[JournalDraft(
        topic=topic, type=type, data=data, terminal=terminal, client_id=client_id)])
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
    def attempt() -> tuple[StoredMessage, bool]:
        with transaction.atomic():
            with binary_cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%b)",
                               [_idempotency_lock_key(terminal.pk, client_id)])
            existing = _already_stored(pairs={(terminal.pk, client_id)})
            if existing:
                return existing[(terminal.pk, client_id)], False
            return apply(), True

    return retry_rolled_back(attempt, what=f"frame {client_id} of {terminal.name}")


@dataclass(frozen=True)
class PendingFrame:
    """A terminal's frame for `apply_once_many`.

    `check` raises (Forbidden...) before anything is written; `apply` stores the frame and
    returns its message; `topic` orders the writes. Frames that share a `store_many` are
    stored in one call of it with their `item`s, in place of `apply` each; frames that share
    a `check_many` are checked by one call of it, and only those it refuses run `check`
    (which raises their error).
    """

    terminal: Terminal
    client_id: str
    topic: str
    check: Callable[[], None]
    apply: Callable[[], StoredMessage]
    store_many: Callable[[list[Any]], list[StoredMessage]] | None = None
    check_many: Callable[[list[Any]], list[bool]] | None = None
    lock_rows_many: Callable[[list[Any]], None] | None = None
    item: Any = None


Outcome = StoredMessage | Exception


def _apply_alone(frame: PendingFrame) -> Outcome:
    def checked_apply() -> StoredMessage:
        frame.check()
        return frame.apply()

    try:
        stored, _ = apply_once(terminal=frame.terminal, client_id=frame.client_id,
                               apply=checked_apply)
    except Exception as error:
        return error
    return stored


def _storage_is_down(error: Exception) -> bool:
    # A deadlock or serialisation failure that outlived its retries is still PostgreSQL's
    # "try again", which the frames then get one by one; any other lost connection would
    # fail each of them again, slowly.
    if _rollback_reason(error) is not None:
        return False
    return isinstance(error, (OperationalError, InterfaceError))


def _already_stored(*, pairs: set[tuple[int, str]]) -> dict[tuple[int, str], StoredMessage]:
    """The journal's messages of these (terminal, frame id) pairs that are stored already.

    Most batches hold none: the first statement asks only which, through the unique index,
    and the (rare) resent frames' messages are read whole afterwards.
    """
    with binary_cursor() as cursor:
        cursor.execute(
            # LIMIT keeps the subquery apart, so each pair is one probe of the unique index
            # whatever the planner thinks of the journal's size: a prepared statement keeps
            # its plan while the journal grows.
            "SELECT entry.id FROM jsonb_array_elements(%b::jsonb) AS frame "
            f"CROSS JOIN LATERAL (SELECT id FROM {JournalEntry._meta.db_table} "
            "WHERE terminal_id = (frame->>0)::bigint AND client_id = frame->>1 LIMIT 1) AS entry",
            [json_text(sorted(pairs))],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return {}
    return {(entry.terminal_id or 0, entry.client_id): StoredMessage.from_entry(entry)
            for entry in JournalEntry.objects.filter(pk__in=ids)}


def _apply_together(frames: list[PendingFrame]) -> list[Outcome]:
    """The body of apply_once_many's transaction; any exception it raises rolls back all."""
    # No advisory locks here, unlike apply_once: a copy of one of these frames that another
    # transaction stores meanwhile (the same tablet on two sockets, rare) makes this batch's
    # journal insert fail on the unique (terminal, id), and then every frame runs again alone,
    # where apply_once's lock and lookup find the other's entry. A statement per batch saved.
    known = _already_stored(pairs={(f.terminal.pk, f.client_id) for f in frames})
    outcomes: list[Outcome | None] = [None] * len(frames)
    unchecked = [index for index, frame in enumerate(frames)
                 if (frame.terminal.pk, frame.client_id) not in known]
    for index, frame in enumerate(frames):
        already = known.get((frame.terminal.pk, frame.client_id))
        if already is not None:
            outcomes[index] = already
    allowed: set[int] = set()
    checked_together: dict[Callable[[list[Any]], list[bool]], list[int]] = {}
    for index in unchecked:
        check_many = frames[index].check_many
        if check_many is not None:
            checked_together.setdefault(check_many, []).append(index)
    for check_many, indices in checked_together.items():
        answers = check_many([frames[index].item for index in indices])
        allowed.update(index for index, yes in zip(indices, answers, strict=True) if yes)
    to_store: list[int] = []
    for index in unchecked:
        if index not in allowed:
            try:
                frames[index].check()
            except DatabaseError:
                raise
            except Exception as error:
                # Refused before it wrote anything: the transaction is still good for the rest.
                outcomes[index] = error
                continue
        to_store.append(index)
    # Rows before topics (the hub's lock order): a unit's status change holds its row while
    # it appends to the unit's topic, so a batch must not hold that topic while it waits
    # for the row.
    rows_locked_together: dict[Callable[[list[Any]], None], list[Any]] = {}
    for index in to_store:
        lock_rows_many = frames[index].lock_rows_many
        if lock_rows_many is not None:
            rows_locked_together.setdefault(lock_rows_many, []).append(frames[index].item)
    for lock_rows_many, items in rows_locked_together.items():
        lock_rows_many(items)
    # The stored frames' own topics at once, in name order, before the first append: two
    # batches then never hold one of them each that the other waits for. Then topic order,
    # arrival order within a topic. A batch whose frames all share one store_many needs no
    # statement for it: that store's one journal_append_many takes them all, in name order.
    store_functions = {frames[index].store_many for index in to_store}
    if len(store_functions) > 1 or None in store_functions:
        journal_topics_lock(topics={frames[index].topic for index in to_store})
    stored: dict[tuple[int, str], StoredMessage] = {}
    together: dict[Callable[[list[Any]], list[StoredMessage]], list[PendingFrame]] = {}
    claimed: set[tuple[int, str]] = set()
    for index in sorted(to_store, key=lambda i: frames[i].topic):
        frame = frames[index]
        pair = (frame.terminal.pk, frame.client_id)
        if pair in claimed:
            # A second copy of one frame (two sockets of one tablet): the first's message.
            continue
        claimed.add(pair)
        if frame.store_many is None:
            stored[pair] = frame.apply()
        else:
            together.setdefault(frame.store_many, []).append(frame)
    for store_many, group in together.items():
        messages = store_many([frame.item for frame in group])
        for frame, message in zip(group, messages, strict=True):
            stored[(frame.terminal.pk, frame.client_id)] = message
    for index in to_store:
        outcomes[index] = stored[(frames[index].terminal.pk, frames[index].client_id)]
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


def apply_once_many(*, frames: list[PendingFrame]) -> list[Outcome]:
    """`apply_once` for many frames in one transaction: one commit (one WAL flush) for all.

    Each frame keeps its own seq, its idempotency and its own outcome, in the frames' order:
    the stored message, or the exception it would have raised alone. A frame refused by its
    check is answered without disturbing the others. A frame that fails while writing aborts
    the shared transaction, so then every frame runs again alone, each in its own
    transaction: the others are stored and the failing one gets its own error. Nothing is
    broadcast for a rolled-back batch (on_commit), and nothing is acknowledged before the
    commit that holds the frame.
    """
    if len(frames) == 1 and frames[0].store_many is None:
        # A frame of a type with no store_many may append to topics its own topic does not
        # name (a report writes the event's topic too): it takes its locks as it goes, alone.
        return [_apply_alone(frames[0])]

    def attempt() -> list[Outcome]:
        with transaction.atomic():
            return _apply_together(frames)

    try:
        return retry_rolled_back(attempt, what=f"batch of {len(frames)} frames")
    except Exception as error:
        if _storage_is_down(error):
            return [error for _ in frames]
        return [_apply_alone(frame) for frame in frames]
