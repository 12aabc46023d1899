"""hub.watch's rule: a socket catches up from the journal only on what was already behind at
the watcher's previous pass, so a message merely late in the channel layer is not read twice
while a lost one still arrives within two passes. The journal's heads are given; the rule is
the watcher's own code."""

import asyncio
from dataclasses import dataclass, field

from hub.consumers import Subscription
from hub.watch import SubscriptionWatch

TOPIC = "casualty:00000000-0000-4000-8000-000000000001"


@dataclass
class _Terminal:
    pk: int


@dataclass
class _Socket:
    """What the watcher reads and calls of a TerminalConsumer."""

    last_seq: int
    terminal: _Terminal = field(default_factory=lambda: _Terminal(pk=7))
    auth_token_hash: str | None = "hash"
    caught_up: list[str] = field(default_factory=list)
    revoked: bool = False

    def __post_init__(self) -> None:
        self.subscriptions = {TOPIC: Subscription(topic=TOPIC, last_seq=self.last_seq)}

    def __hash__(self) -> int:
        return id(self)

    async def catch_up(self, topic: str) -> None:
        self.caught_up.append(topic)

    async def close_revoked(self) -> None:
        self.revoked = True


async def _pass(watch: SubscriptionWatch, head: int, monkeypatch) -> None:
    monkeypatch.setattr(SubscriptionWatch, "_read", staticmethod(
        lambda topics, terminal_ids: ({TOPIC: head}, {7: ("hash", False)})))
    await watch.tick()
    await asyncio.sleep(0)


async def _seq_6_committed_since_the_last_pass(monkeypatch) -> tuple[SubscriptionWatch,
                                                                      _Socket]:
    """A socket at seq 5, and a watcher whose last pass read head 6: most likely on its way
    through Redis, so nothing is read yet."""
    watch = SubscriptionWatch(interval=3600)
    socket = _Socket(last_seq=5)
    watch.consumers.add(socket)  # type: ignore[arg-type]
    await _pass(watch, head=5, monkeypatch=monkeypatch)
    await _pass(watch, head=6, monkeypatch=monkeypatch)
    assert socket.caught_up == []
    return watch, socket


async def test_a_message_late_in_the_layer_is_not_read_from_the_journal(monkeypatch):
    watch, socket = await _seq_6_committed_since_the_last_pass(monkeypatch)
    # It arrived live before the next pass: still nothing to read.
    socket.subscriptions[TOPIC].last_seq = 6
    await _pass(watch, head=6, monkeypatch=monkeypatch)
    assert socket.caught_up == [] and not socket.revoked


async def test_a_message_the_layer_lost_is_read_from_the_journal_at_the_second_pass(monkeypatch):
    watch, socket = await _seq_6_committed_since_the_last_pass(monkeypatch)
    # Seq 6 never came: behind the head the previous pass read, so read it now.
    await _pass(watch, head=6, monkeypatch=monkeypatch)
    assert socket.caught_up == [TOPIC]


async def test_a_socket_whose_token_was_rotated_is_closed_at_the_next_pass(monkeypatch):
    watch = SubscriptionWatch(interval=3600)
    socket = _Socket(last_seq=5, auth_token_hash="old-hash")
    watch.consumers.add(socket)  # type: ignore[arg-type]
    await _pass(watch, head=5, monkeypatch=monkeypatch)
    assert socket.revoked
