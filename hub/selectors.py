"""Reads of the hub: the journal, topic heads, terminals by credential."""

from django.db.models import Q

from hub.journal import StoredMessage
from hub.models import JournalEntry, Terminal, Topic
from hub.services import token_hash


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
    return dict(Topic.objects.filter(name__in=topics).values_list("name", "head_seq"))


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
    rows = Terminal.objects.filter(Q(pk__in=terminal_ids)).values_list(
        "pk", "token_hash", "revoked_at"
    )
    return {pk: (hashed, revoked_at is not None) for pk, hashed, revoked_at in rows}
