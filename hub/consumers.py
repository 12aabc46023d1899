"""`/ws/terminal/`: the one socket every terminal speaks PROTOCOL.md over.

Thin on purpose: authenticate, parse, validate, check the rate, then hand the frame to the
owning service in a database thread (the busy types through hub.group_commit, which stores
many sockets' frames in one transaction) and answer with exactly one reply. Deliveries of
stored messages (replay, live, gap filling) all pass one lock per socket and a per-topic
cursor, so a subscriber sees each seq once and in order, whichever path brought it.
"""

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections
from django.utils import timezone

from hub import metrics, permissions
from hub.broadcast import bind_server_loop, group_for_topic
from hub.errors import Forbidden, Invalid, ProtocolError, RateLimited
from hub.group_commit import group_commit_for_this_loop
from hub.journal import Outcome, PendingFrame, StoredMessage, apply_once_many
from hub.lifecycle import IllegalTransition
from hub.models import Terminal
from hub.protocol import (
    MESSAGE_TYPES,
    Frame,
    FrameError,
    MessageType,
    Submission,
    frame_topic,
    parse_frame,
    topic_allowed_for,
    validate_payload,
)
from hub.selectors import journal_find, journal_read, terminal_for_token, terminal_for_user
from hub.services import audit_record, token_hash
from hub.sql import json_text
from hub.timefmt import iso_millis
from hub.topics import TopicRef, parse_topic
from hub.watch import watch_for_this_loop

logger = logging.getLogger(__name__)

REPLAY_BATCH = 500
CLOSE_BAD_CREDENTIAL = 4401
CLOSE_REVOKED = 4403
CLOSE_TRY_AGAIN_LATER = 4503
CLOSE_GOING_AWAY = 1001


class _PooledDatabaseCall(SyncToAsync):
    """Database work in the shared thread pool, with Django's connection hygiene.

    Channels' database_sync_to_async is thread-sensitive: every socket of the process would
    queue behind one thread. Frames of different sockets are independent, so they may run in
    parallel, each pool thread keeping its own persistent connection.
    """

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            close_old_connections()


# Each frame's transaction mostly waits for PostgreSQL to flush its commit, so the number of
# frames in flight per process is the number of database threads; asyncio's default pool
# (cores + 4) would cap a 2-core hub at six commits at a time.
_database_threads = ThreadPoolExecutor(max_workers=settings.HUB_DATABASE_THREADS,
                                       thread_name_prefix="hub-db")


def in_database_thread(function: Any) -> Any:
    return _PooledDatabaseCall(function, thread_sensitive=False, executor=_database_threads)


@dataclass
class Subscription:
    topic: str
    last_seq: int


class TokenBucket:
    """PROTOCOL.md leaves the rate to the hub: a sustained rate with a burst on top."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


# Per terminal and per process, shared by that terminal's sockets in this process.
_buckets: dict[int, TokenBucket] = {}


def _bucket_for(terminal_id: int) -> TokenBucket:
    bucket = _buckets.get(terminal_id)
    if bucket is None:
        bucket = TokenBucket(settings.HUB_RATE_LIMIT_PER_SECOND, settings.HUB_RATE_LIMIT_BURST)
        _buckets[terminal_id] = bucket
    return bucket


def _pending_frame(message_type: MessageType, submission: Submission) -> PendingFrame:
    def check() -> None:
        if not message_type.may_send(submission.terminal, submission.topic):
            raise Forbidden(f"topic: {submission.terminal.kind} terminal "
                            f"{submission.terminal.name} may not send {message_type.type} here")

    return PendingFrame(terminal=submission.terminal, client_id=submission.client_id,
                        topic=str(submission.topic), check=check,
                        apply=partial(message_type.store, submission),
                        store_many=message_type.store_many,
                        check_many=message_type.may_send_many,
                        lock_rows_many=message_type.lock_rows_many, item=submission)


def _store_alone(frame: PendingFrame) -> StoredMessage:
    started = time.perf_counter()
    [outcome] = apply_once_many(frames=[frame])
    metrics.JOURNAL_WRITE.observe(time.perf_counter() - started)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _store_together(frames: list[PendingFrame]) -> list[Outcome]:
    started = time.perf_counter()
    outcomes = apply_once_many(frames=frames)
    metrics.JOURNAL_WRITE.observe(time.perf_counter() - started)
    return outcomes


_write_batch = in_database_thread(_store_together)


def _subscribe_check(terminal: Terminal, topic: TopicRef) -> bool:
    allowed = permissions.may_read(terminal, topic)
    if allowed and topic.kind == "casualty":
        audit_record(actor=terminal.name, action="casualty.subscribe", target=str(topic),
                     detail={"kind": terminal.kind})
    return allowed


class _ProcessStop:
    """What a graceful stop (hub.serve, on SIGTERM) needs to know of this process's sockets."""

    def __init__(self) -> None:
        self.requested = False
        self.frames_in_flight = 0
        self.sockets: weakref.WeakSet[TerminalConsumer] = weakref.WeakSet()
        self.frames_answered = asyncio.Event()
        self.sockets_closed = asyncio.Event()

    def frame_answered(self) -> None:
        self.frames_in_flight -= 1
        if self.requested and not self.frames_in_flight:
            self.frames_answered.set()

    def socket_closed(self, socket: "TerminalConsumer") -> None:
        self.sockets.discard(socket)
        if self.requested and not self.sockets:
            self.sockets_closed.set()


_process_stop = _ProcessStop()


async def _within(seconds: float, event: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)


async def sockets_close_gracefully(*, drain_seconds: float, close_seconds: float) -> None:
    """Stop taking frames, wait for those in flight to be answered, close every socket (1001).

    A frame that arrives from now on is answered `unavailable`, so its terminal sends it again
    with the same id after reconnecting (to another server). Frames already in flight commit
    and are acknowledged first: their transactions are not cut off half-way, and nothing that
    committed goes unacknowledged on a socket that is still open.
    """
    _process_stop.requested = True
    if not _process_stop.frames_in_flight:
        _process_stop.frames_answered.set()
    await _within(drain_seconds, _process_stop.frames_answered)
    if _process_stop.frames_in_flight:
        logger.warning("stopping with %d frame(s) unanswered", _process_stop.frames_in_flight)
    sockets = list(_process_stop.sockets)
    if not sockets:
        _process_stop.sockets_closed.set()
    failures = [outcome for outcome in await asyncio.gather(
        *(socket.close(code=CLOSE_GOING_AWAY) for socket in sockets), return_exceptions=True
    ) if isinstance(outcome, BaseException)]
    if failures:
        logger.warning("%d socket(s) could not be closed: %r", len(failures), failures[0])
    await _within(close_seconds, _process_stop.sockets_closed)
    logger.info("closed %d socket(s); %d still closing", len(sockets),
                len(_process_stop.sockets))


Receive = Callable[[], Awaitable[dict[str, Any]]]


async def _dispatch_as_they_arrive(sources: list[Receive],
                                   dispatch: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """Channels' await_many_dispatch, without its cost per message.

    That one waits on the socket and the channel layer with `asyncio.wait` and a new task for
    every message it takes: with its dispatch, 12 % of the server loop's samples under load,
    8 % this way (docs/performance.md, fifth round). Here one task per source keeps reading
    and queues what it reads, and the messages are dispatched one at a time, in the order they
    arrived, as Channels does. A source that fails ends the consumer with its error, as in
    Channels.
    """
    arrived: asyncio.Queue[tuple[dict[str, Any] | None, BaseException | None]] = asyncio.Queue()

    async def read(source: Receive) -> None:
        try:
            while True:
                arrived.put_nowait((await source(), None))
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            arrived.put_nowait((None, error))

    readers = [asyncio.ensure_future(read(source)) for source in sources]
    try:
        while True:
            message, error = await arrived.get()
            if error is not None:
                raise error
            assert message is not None
            await dispatch(message)
    finally:
        for reader in readers:
            reader.cancel()
        for reader in readers:
            # The channel layer's receive leaves its channel when cancelled.
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class TerminalConsumer(AsyncWebsocketConsumer):
    terminal: Terminal | None
    auth_token_hash: str | None

    async def __call__(self, scope: dict[str, Any], receive: Receive,
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Channels' AsyncConsumer.__call__ (4.3), with _dispatch_as_they_arrive for its loop."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            await _dispatch_as_they_arrive(sources, self.dispatch)

    async def connect(self) -> None:
        self.terminal = None
        self.auth_token_hash = None
        self.subscriptions: dict[str, Subscription] = {}
        self.delivery_lock = asyncio.Lock()
        bind_server_loop(asyncio.get_running_loop())
        if _process_stop.requested:
            await self.close(code=CLOSE_GOING_AWAY)
            return
        _process_stop.sockets.add(self)
        await self.accept()
        self.hello_timer = asyncio.ensure_future(self._close_without_hello())

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch runs close_old_connections() before every handler through
        # sync_to_async on the one thread-sensitive thread of the process: every frame and
        # every delivery of every socket queued on that thread for the GIL, so latency grew
        # with the number of sockets. This consumer touches the database only in the pool
        # threads, which clean their connections themselves (_PooledDatabaseCall).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        _process_stop.socket_closed(self)
        if not hasattr(self, "hello_timer"):
            return  # refused in connect: the server was stopping
        self.hello_timer.cancel()
        if self.terminal is not None:
            metrics.TERMINALS_CONNECTED.labels(self.terminal.kind).dec()
        watch_for_this_loop().unregister(self)
        for topic in list(self.subscriptions):
            await self._leave_group(topic)
        self.subscriptions.clear()

    async def _close_without_hello(self) -> None:
        await asyncio.sleep(settings.HUB_HELLO_TIMEOUT_SECONDS)
        if self.terminal is None:
            await self.close(code=CLOSE_BAD_CREDENTIAL)

    async def close_revoked(self) -> None:
        await self.close(code=CLOSE_REVOKED)

    # --- frames from the terminal ------------------------------------------------------------

    async def send_json(self, frame: dict[str, Any]) -> None:
        metrics.FRAMES_OUT.labels(frame["type"]).inc()
        await self.send(text_data=json_text(frame))

    async def send_error(self, frame_id: str | None, code: str, message: str) -> None:
        metrics.ERRORS.labels(code).inc()
        await self.send_json({"type": "error", "id": frame_id, "code": code, "message": message})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            if self.terminal is None:
                await self.close(code=CLOSE_BAD_CREDENTIAL)
                return
            await self.send_error(None, "invalid", "frame: binary frames are not accepted")
            return
        try:
            frame = parse_frame(text_data)
        except FrameError as error:
            if self.terminal is None:
                await self.close(code=CLOSE_BAD_CREDENTIAL)
            else:
                await self.send_error(error.frame_id, error.code, error.message)
            return
        if _process_stop.requested:
            await self._refuse_while_stopping(frame)
            return
        if self.terminal is None:
            await self._hello(frame)
            return
        _process_stop.frames_in_flight += 1
        try:
            await self._answer(frame)
        finally:
            _process_stop.frame_answered()

    async def _refuse_while_stopping(self, frame: Frame) -> None:
        if self.terminal is None:
            await self.close(code=CLOSE_GOING_AWAY)
            return
        await self._refuse(frame, "unavailable", "server: stopping; send it again with the same "
                                                 "id once reconnected")

    async def _answer(self, frame: Frame) -> None:
        assert self.terminal is not None
        received = time.perf_counter()
        try:
            if not _bucket_for(self.terminal.pk).take():
                raise RateLimited(f"frame: over {settings.HUB_RATE_LIMIT_PER_SECOND:g} frames/s; "
                                  "send it again later with the same id")
            await self._route(frame)
        except ProtocolError as error:
            await self._refuse(frame, error.code, error.message)
        except IllegalTransition as error:
            await self._refuse(frame, "conflict", str(error))
        except ObjectDoesNotExist:
            await self._refuse(frame, "forbidden", "topic: not readable by this terminal")
        except (OperationalError, InterfaceError):
            logger.warning("database unavailable for %s frame %s", frame.type, frame.id)
            await self._refuse(frame, "unavailable",
                               "storage: unavailable; send it again later with the same id")
        except DatabaseError:
            logger.exception("database error on %s frame %s", frame.type, frame.id)
            await self._refuse(frame, "unavailable",
                               "storage: the frame was not stored; send it again later")
        else:
            # _route returns once the ack (or pong) is sent.
            metrics.FRAMES_IN.labels(frame.type, "ack").inc()
            metrics.ACK_LATENCY.labels(frame.type).observe(time.perf_counter() - received)

    async def _refuse(self, frame: Frame, code: str, message: str) -> None:
        metrics.FRAMES_IN.labels(frame.type, code).inc()
        await self.send_error(frame.id, code, message)

    async def _hello(self, frame: Frame) -> None:
        if frame.type != "hello":
            await self.close(code=CLOSE_BAD_CREDENTIAL)
            return
        data = frame.raw.get("data", {})
        terminal: Terminal | None = None
        try:
            if isinstance(data, dict) and set(data) == {"token"} and isinstance(data["token"], str):
                terminal = await in_database_thread(terminal_for_token)(token=data["token"])
                if terminal is not None:
                    self.auth_token_hash = token_hash(data["token"])
            elif isinstance(data, dict) and not data and self.scope.get("hub.browser_origin"):
                user = self.scope.get("user")
                if user is not None and user.is_authenticated:
                    terminal = await in_database_thread(terminal_for_user)(user_id=user.pk)
        except DatabaseError:
            # The credential could not be checked, which is not the same as bad: 4503 (the
            # hub's "try again later"; Autobahn refuses 1013) lets the terminal reconnect,
            # where 4401 would stop it for good.
            logger.warning("database unavailable during hello")
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if terminal is None:
            await self.close(code=CLOSE_BAD_CREDENTIAL)
            return
        self.terminal = terminal
        metrics.TERMINALS_CONNECTED.labels(terminal.kind).inc()
        self.hello_timer.cancel()
        watch_for_this_loop().register(self)
        await self.send_json({
            "type": "welcome",
            "id": frame.id,
            "data": {
                "terminal": {
                    "kind": terminal.kind,
                    "name": terminal.name,
                    "unit": terminal.unit.callsign if terminal.unit else None,
                    "hospital": terminal.hospital.code if terminal.hospital else None,
                },
                "event": terminal.event.slug if terminal.event else None,
                "server_time": iso_millis(timezone.now()),
            },
        })

    async def _route(self, frame: Frame) -> None:
        if frame.type == "hello":
            raise Invalid("type: this connection already said hello")
        if frame.type == "ping":
            await self.send_json({"type": "pong", "id": frame.id,
                                  "data": {"server_time": iso_millis(timezone.now())}})
            return
        topic = frame_topic(frame.raw)
        if frame.type == "subscribe":
            await self._subscribe(frame, topic)
        elif frame.type == "unsubscribe":
            await self._unsubscribe(frame, topic)
        else:
            await self._store(frame, MESSAGE_TYPES[frame.type], topic)

    async def _store(self, frame: Frame, message_type: MessageType, topic: TopicRef) -> None:
        assert self.terminal is not None
        try:
            topic_allowed_for(message_type, topic)
            payload = validate_payload(message_type, frame.raw)
        except Invalid:
            # A frame already stored is acknowledged again whatever it now carries.
            stored = await in_database_thread(journal_find)(terminal=self.terminal,
                                                            client_id=frame.id)
            if stored is None:
                raise
        else:
            pending = _pending_frame(message_type, Submission(
                terminal=self.terminal, topic=topic, client_id=frame.id, payload=payload))
            if message_type.group_commit:
                stored = await group_commit_for_this_loop(_write_batch).store(pending)
            else:
                stored = await in_database_thread(_store_alone)(pending)
        await self.send_json({"type": "ack", "id": frame.id, "topic": stored.topic,
                              "seq": stored.seq})

    # --- subscriptions -------------------------------------------------------------------------

    async def _subscribe(self, frame: Frame, topic: TopicRef) -> None:
        assert self.terminal is not None
        since = frame.raw.get("since", 0)
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            raise Invalid("since: must be an integer >= 0")
        if not await in_database_thread(_subscribe_check)(self.terminal, topic):
            raise Forbidden("topic: not readable by this terminal")
        name = str(topic)
        async with self.delivery_lock:
            subscription = Subscription(topic=name, last_seq=since)
            self.subscriptions[name] = subscription
            # Join the live stream before reading the journal: whatever commits meanwhile
            # arrives live and is dropped by seq if the replay already sent it.
            await self._join_group(name)
            try:
                await self._deliver_from_journal(subscription, until_seq=None)
            except DatabaseError:
                self.subscriptions.pop(name, None)
                await self._leave_group(name)
                raise
            last = subscription.last_seq
        await self.send_json({"type": "ack", "id": frame.id, "topic": name, "seq": last})

    async def _unsubscribe(self, frame: Frame, topic: TopicRef) -> None:
        name = str(topic)
        async with self.delivery_lock:
            subscription = self.subscriptions.pop(name, None)
        if subscription is not None:
            await self._leave_group(name)
        await self.send_json({"type": "ack", "id": frame.id, "topic": name,
                              "seq": subscription.last_seq if subscription else 0})

    async def _join_group(self, topic: str) -> None:
        try:
            await self.channel_layer.group_add(group_for_topic(topic), self.channel_name)
        except Exception:
            # Without the layer the watcher still brings this socket every message.
            logger.warning("channel layer unavailable; %s is served by the watcher", topic)

    async def _leave_group(self, topic: str) -> None:
        try:
            await self.channel_layer.group_discard(group_for_topic(topic), self.channel_name)
        except Exception:
            logger.warning("channel layer unavailable while leaving %s", topic)

    async def _deliver_from_journal(self, subscription: Subscription,
                                    until_seq: int | None) -> None:
        """Send every stored message after the cursor (up to until_seq). Holds delivery_lock."""
        while True:
            batch = await in_database_thread(journal_read)(
                topic=subscription.topic, after_seq=subscription.last_seq, limit=REPLAY_BATCH,
                until_seq=until_seq,
            )
            for message in batch:
                if message.seq == subscription.last_seq + 1:
                    metrics.FRAMES_OUT.labels(message.type).inc()
                    await self.send(text_data=message.frame_text())
                    subscription.last_seq = message.seq
            if len(batch) < REPLAY_BATCH:
                return

    async def catch_up(self, topic: str) -> None:
        async with self.delivery_lock:
            subscription = self.subscriptions.get(topic)
            if subscription is not None:
                await self._deliver_from_journal(subscription, until_seq=None)

    # --- events from the channel layer ---------------------------------------------------------

    async def journal_message(self, event: dict[str, Any]) -> None:
        seq = int(event["seq"])
        async with self.delivery_lock:
            subscription = self.subscriptions.get(event["topic"])
            if subscription is None or seq <= subscription.last_seq:
                return
            if seq > subscription.last_seq + 1:
                # Something between was lost or overtaken: it is committed, so read it.
                await self._deliver_from_journal(subscription, until_seq=seq - 1)
            if seq == subscription.last_seq + 1:
                # Events from a hub of an older release (rolling restart) carry no type.
                metrics.FRAMES_OUT.labels(event.get("message_type", "message")).inc()
                await self.send(text_data=event["text"])
                subscription.last_seq = seq

    async def access_changed(self, event: dict[str, Any]) -> None:
        topic = event["topic"]
        if topic not in self.subscriptions or self.terminal is None:
            return
        still_allowed = await in_database_thread(permissions.may_read)(
            self.terminal, parse_topic(topic)
        )
        if still_allowed:
            return
        async with self.delivery_lock:
            self.subscriptions.pop(topic, None)
        await self._leave_group(topic)
        await self.send_json({"type": "subscription.ended", "topic": topic})
