"""Reads of the hub: the journal, topic heads, terminals by credential."""

from hub.journal import StoredMessage
from hub.models import JournalEntry, Terminal, Topic
from hub.services import token_hash
from hub.sql import binary_cursor, json_text


def journal_read(*, topic: str, after_seq: int, limit: int, until_seq: int | None = None
                 ) -> list[StoredMessage]:
    entries = JournalEntry.objects.filter(topic=topic, seq__gt=after_seq)
    if until_seq is not None:
        entries = entries.filter(seq__lte=until_seq)
    return [StoredMessage.from_entry(entry) for entry in entries.order_by("seq")[:limit]]


def journal_find(*, terminal: Terminal, client_id: str) -> StoredMessage | None:
    entry = JournalEntry.objects.filter(terminal=terminal, client_id=client_id).first()
    return StoredMessage.from_entry(entry) if entry is not None else None


def topic_heads(*, topics: list[str]) -> dict[str, int]:
    # A raw statement (hub.sql): the watcher asks this of every subscribed topic each second,
    # and the ORM's compiling of a list of hundreds of names held the GIL for milliseconds
    # and left thousands of objects for the garbage collector (docs/performance.md).
    if not topics:
        return {}
    with binary_cursor() as cursor:
        cursor.execute(
            f"SELECT name, head_seq FROM {Topic._meta.db_table} "
            "WHERE name IN (SELECT jsonb_array_elements_text(%b::jsonb))",
            [json_text(topics)],
        )
        return dict(cursor.fetchall())


def terminal_for_token(*, token: str) -> Terminal | None:
    return (
        Terminal.objects.select_related("event", "unit", "hospital")
        .filter(token_hash=token_hash(token), revoked_at__isnull=True)
        .first()
    )


def terminal_for_user(*, user_id: int) -> Terminal | None:
    return (
        Terminal.objects.select_related("event", "unit", "hospital")
        .filter(user_id=user_id, user__is_active=True, revoked_at__isnull=True)
        .first()
    )


def terminal_credentials(*, terminal_ids: list[int]) -> dict[int, tuple[str | None, bool]]:
    """Current token hash and revocation of each terminal, for closing revoked sockets."""
    # Raw, as topic_heads: the watcher's other question of every pass.
    if not terminal_ids:
        return {}
    with binary_cursor() as cursor:
        cursor.execute(
            f"SELECT id, token_hash, revoked_at IS NOT NULL FROM {Terminal._meta.db_table} "
            "WHERE id IN (SELECT jsonb_array_elements_text(%b::jsonb)::bigint)",
            [json_text(terminal_ids)],
        )
        return {pk: (hashed, revoked) for pk, hashed, revoked in cursor.fetchall()}
