"""The one way a stored message reaches live subscribers.

Called only by `journal_append`'s on-commit hook, so nothing is sent that is not durable.
The channel layer is best effort: a message it drops (Redis restarting, a slow consumer) is
still in the journal, and every consumer fills gaps from there (see hub.watch).

In the server process the publishes are coalesced: whatever the database threads hand over
while a round of publishes is in flight goes out in the next round, all of it in one Redis
pipeline (one write and one read for the round, not a task, a lock and a round trip per
message). A round keeps the order the events were handed over in, and one round runs at a
time, so each topic's messages reach Redis, and so every subscriber, in commit order.
"""

import asyncio
import hashlib
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import create_pool
from redis import asyncio as aioredis

from hub.journal import StoredMessage

logger = logging.getLogger(__name__)

_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Let database threads hand publishing to the server's loop instead of blocking on it."""
    global _server_loop
    _server_loop = loop


def group_for_topic(topic: str) -> str:
    # Channels group names allow only [a-zA-Z0-9_.-] up to 100 characters; topics allow more.
    return "topic." + hashlib.sha1(topic.encode()).hexdigest()


async def _publish(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, event)
    except Exception:
        logger.warning("channel layer publish to %s failed; subscribers catch up from the journal",
                       group, exc_info=True)


# Strong references: the loop keeps only weak ones to tasks it runs.
_publishing: set[asyncio.Task[None]] = set()


class _CoalescingPublisher:
    """The server loop's publishes, a pipeline per round (see the module's docstring).

    With the pub/sub layer it speaks to Redis with a client of its own, built from the
    layer's host settings, and publishes what the layer's `group_send` would: the layer's
    serialisation of the event on the layer's channel for the group, so the layer's
    subscribers receive it unchanged. Another layer gets its `group_send`s in order.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, layer: Any) -> None:
        self.loop = loop
        self.layer = layer
        self.lock = threading.Lock()
        self.pending: list[tuple[str, dict[str, Any]]] = []
        # A round is scheduled or running: later events join it or the next one.
        self.scheduled = False
        self.clients: dict[int, aioredis.Redis] = {}

    def hand_over(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """From any thread; it never waits for Redis. `events` are (group, event) in order."""
        with self.lock:
            self.pending.extend(events)
            if self.scheduled:
                return
            self.scheduled = True
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._start()
        else:
            # One wake-up of the loop per round, not per message.
            self.loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        task = self.loop.create_task(self._rounds())
        _publishing.add(task)
        task.add_done_callback(_publishing.discard)

    async def _rounds(self) -> None:
        try:
            while True:
                with self.lock:
                    batch, self.pending = self.pending, []
                    if not batch:
                        self.scheduled = False
                        return
                await self._publish_round(batch)
        except BaseException:
            with self.lock:
                self.scheduled = False
            raise

    async def _publish_round(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        if not isinstance(self.layer, RedisPubSubChannelLayer):
            for group, event in batch:
                await _publish(group, event)
            return
        try:
            # channels_redis 4.3's own naming and sharding (RedisPubSubLoopLayer.group_send).
            loop_layer = self.layer._get_layer()
            by_shard: dict[int, list[tuple[str, bytes]]] = {}
            for group, event in batch:
                channel = loop_layer._get_group_channel_name(group)
                shard = loop_layer._shards.index(loop_layer._get_shard(channel))
                by_shard.setdefault(shard, []).append((channel, self.layer.serialize(event)))
            for shard, publishes in by_shard.items():
                client = self.clients.get(shard)
                if client is None:
                    client = aioredis.Redis(
                        connection_pool=create_pool(loop_layer._shards[shard].host))
                    self.clients[shard] = client
                pipeline = client.pipeline(transaction=False)
                for channel, data in publishes:
                    pipeline.publish(channel, data)
                await pipeline.execute()
        except Exception:
            logger.warning("channel layer publish of %d messages failed; subscribers catch up "
                           "from the journal", len(batch), exc_info=True)


_publishers: dict[int, _CoalescingPublisher] = {}
# Two database threads must not each make a publisher for one loop: their events would
# then race each other to Redis.
_publishers_lock = threading.Lock()


def _publisher_for(loop: asyncio.AbstractEventLoop) -> _CoalescingPublisher | None:
    layer = get_channel_layer()
    if layer is None:
        return None
    with _publishers_lock:
        publisher = _publishers.get(id(loop))
        if publisher is None or publisher.loop is not loop or publisher.layer is not layer:
            publisher = _CoalescingPublisher(loop, layer)
            _publishers[id(loop)] = publisher
    return publisher


def _dispatch(events: list[tuple[str, dict[str, Any]]]) -> None:
    loop = _server_loop
    if loop is not None and loop.is_running():
        publisher = _publisher_for(loop)
        if publisher is not None:
            publisher.hand_over(events)
        return
    if loop is not None:
        # The server is stopping: async_to_sync would wait forever on its stopped loop and
        # hold the exit. The messages are in the journal; subscribers read them on reconnect.
        logger.info("server loop stopped; %d event(s) left to the journal", len(events))
        return
    for group, event in events:
        async_to_sync(_publish)(group, event)


def broadcast(*messages: StoredMessage) -> None:
    """Publish committed messages, in the order given (a transaction's, in commit order)."""
    _dispatch([
        (group_for_topic(message.topic),
         {"type": "journal.message", "topic": message.topic, "seq": message.seq,
          "message_type": message.type, "text": message.frame_text()})
        for message in messages
    ])


def broadcast_access_change(topic: str) -> None:
    """Tell subscribers of `topic` to re-check their right to read it (a transport ended...)."""
    _dispatch([(group_for_topic(topic), {"type": "access.changed", "topic": topic})])
