"""Per-topic seq bookkeeping: which delivered messages to pass on, drop, or re-fetch."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping


class Verdict(enum.Enum):
    DELIVER = "deliver"
    DUPLICATE = "duplicate"
    # A seq jumped ahead: the caller re-subscribes with since=last and drops the message.
    GAP = "gap"
    # A gap is already being filled by a re-subscribe whose ack has not arrived yet.
    AWAITING_FILL = "awaiting_fill"
    UNTRACKED = "untracked"


class Sequencer:
    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._resubscribing: set[str] = set()

    @property
    def last_seq(self) -> Mapping[str, int]:
        return self._last

    @property
    def topics(self) -> Iterable[str]:
        return list(self._last)

    def is_tracked(self, topic: str) -> bool:
        return topic in self._last

    def track(self, topic: str, since: int | None = None) -> int:
        """Start (or keep) tracking; an explicit `since` moves the mark so that the replay
        from there is delivered again. Returns the `since` to subscribe with."""
        if since is not None:
            self._last[topic] = since
        else:
            self._last.setdefault(topic, 0)
        return self._last[topic]

    def forget(self, topic: str) -> None:
        self._last.pop(topic, None)
        self._resubscribing.discard(topic)

    def subscribing(self, topic: str) -> int:
        """A subscribe for the topic is on its way; returns its `since`."""
        self._resubscribing.add(topic)
        return self._last[topic]

    def subscribed(self, topic: str) -> None:
        """The subscribe's ack arrived: the replay is complete, so a later jump is a new gap."""
        self._resubscribing.discard(topic)

    def reset_subscriptions(self) -> None:
        """The connection is gone, and every subscription with it."""
        self._resubscribing.clear()

    def accept(self, topic: str, seq: int) -> Verdict:
        last = self._last.get(topic)
        if last is None:
            return Verdict.UNTRACKED
        if seq <= last:
            return Verdict.DUPLICATE
        if seq == last + 1:
            self._last[topic] = seq
            return Verdict.DELIVER
        if topic in self._resubscribing:
            return Verdict.AWAITING_FILL
        self._resubscribing.add(topic)
        return Verdict.GAP
