"""One watcher per server process: the backstop that makes delivery and revocation self-healing.

Live delivery rides on the channel layer, which may drop a message (Redis restarting, a
publish that failed after commit). Once a second the watcher reads the journal head of every
topic any local socket subscribes to, in one query, and has each socket that is still behind
the head it read on the pass before catch up from the journal. A message that committed
since the last pass is most likely on its way through the layer: reading it from the journal
too would double a busy hub's delivery work exactly when it has least to spare, and so
make the backlog that made it late grow. In the same pass it closes sockets whose token was
rotated or revoked (4403), so that works without Redis too.
"""

import asyncio
import logging
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError

from hub.selectors import terminal_credentials, topic_heads

if TYPE_CHECKING:
    from hub.consumers import TerminalConsumer

logger = logging.getLogger(__name__)


class SubscriptionWatch:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.consumers: weakref.WeakSet[TerminalConsumer] = weakref.WeakSet()
        self._task: asyncio.Task[None] | None = None
        # Strong references: the loop keeps only weak ones to tasks it runs.
        self._pending: set[asyncio.Future[None]] = set()
        self._previous_heads: dict[str, int] = {}

    def register(self, consumer: "TerminalConsumer") -> None:
        self.consumers.add(consumer)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def unregister(self, consumer: "TerminalConsumer") -> None:
        self.consumers.discard(consumer)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except DatabaseError:
                logger.warning("watch pass skipped: database unavailable")
            except Exception:
                logger.exception("watch pass failed")

    async def tick(self) -> None:
        consumers = [c for c in list(self.consumers) if c.terminal is not None]
        if not consumers:
            return
        topics = sorted({topic for c in consumers for topic in c.subscriptions})
        terminal_ids = sorted({c.terminal.pk for c in consumers if c.terminal is not None})
        heads, credentials = await database_sync_to_async(self._read)(topics, terminal_ids)
        overdue, self._previous_heads = self._previous_heads, heads
        for consumer in consumers:
            assert consumer.terminal is not None
            token_hash, revoked = credentials.get(consumer.terminal.pk, (None, True))
            if revoked or (consumer.auth_token_hash is not None
                           and token_hash != consumer.auth_token_hash):
                self._spawn(consumer.close_revoked())
                continue
            for topic, subscription in list(consumer.subscriptions.items()):
                if overdue.get(topic, 0) > subscription.last_seq:
                    self._spawn(consumer.catch_up(topic))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    @staticmethod
    def _read(
        topics: list[str], terminal_ids: list[int]
    ) -> tuple[dict[str, int], dict[int, tuple[str | None, bool]]]:
        return topic_heads(topics=topics), terminal_credentials(terminal_ids=terminal_ids)


_watches: dict[int, SubscriptionWatch] = {}


def watch_for_this_loop() -> SubscriptionWatch:
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _watches:
        _watches[loop_id] = SubscriptionWatch(settings.HUB_WATCH_INTERVAL_SECONDS)
    return _watches[loop_id]
