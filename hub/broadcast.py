"""The one way a stored message reaches live subscribers.

Called only by `journal_append`'s on-commit hook, so nothing is sent that is not durable.
The channel layer is best effort: a message it drops (Redis restarting, a slow consumer) is
still in the journal, and every consumer fills gaps from there (see hub.watch).
"""

import asyncio
import hashlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

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


def _start_publish(group: str, event: dict[str, Any]) -> None:
    task = asyncio.get_running_loop().create_task(_publish(group, event))
    _publishing.add(task)
    task.add_done_callback(_publishing.discard)


def _dispatch(group: str, event: dict[str, Any]) -> None:
    loop = _server_loop
    if loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            _start_publish(group, event)
        else:
            # Not run_coroutine_threadsafe: nobody waits for the result, and its
            # concurrent Future (a lock and a condition per message) was a tenth of the
            # process's GIL time under group commit.
            loop.call_soon_threadsafe(_start_publish, group, event)
        return
    async_to_sync(_publish)(group, event)


def broadcast(message: StoredMessage) -> None:
    _dispatch(
        group_for_topic(message.topic),
        {"type": "journal.message", "topic": message.topic, "seq": message.seq,
         "message_type": message.type, "text": message.frame_text()},
    )


def broadcast_access_change(topic: str) -> None:
    """Tell subscribers of `topic` to re-check their right to read it (a transport ended...)."""
    _dispatch(group_for_topic(topic), {"type": "access.changed", "topic": topic})
