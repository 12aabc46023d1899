"""The terminal side of the hub's WebSocket protocol (PROTOCOL.md), for gateways, drills and
tests. asyncio only; no Django."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import HeadersLike
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from hub.client.backoff import Backoff
from hub.client.errors import (
    ClientClosed,
    ClientError,
    ConnectionLost,
    ConnectionRejected,
    ProtocolError,
    SubscriptionEnded,
)
from hub.client.frames import (
    RETRYABLE_ERROR_CODES,
    Ack,
    Frame,
    ack_from,
    decode,
    encode,
    new_id,
    sequenced,
)
from hub.client.outbox import MemoryOutbox, Outbox
from hub.client.sequencer import Sequencer, Verdict

logger = logging.getLogger(__name__)

State = Literal["idle", "connecting", "open", "reconnecting", "closed"]

# 4401: bad or missing credential; 4403: token revoked or rotated. The same credential can
# never succeed again, so reconnecting would only hammer the hub.
FINAL_CLOSE_CODES = frozenset({4401, 4403})
MESSAGE_TOO_BIG = 1009


class TerminalClient:
    """One terminal's connection to the hub, kept open across failures.

    Use as `async with TerminalClient([...], token=...) as client:`; or `await
    client.connect()` then `await client.close()`.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        token: str | None = None,
        extra_headers: HeadersLike | None = None,
        outbox: Outbox | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        hello_timeout: float = 10.0,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        max_incoming_bytes: int = 4 * 1_048_576,
        on_message: Callable[[Frame], None] | None = None,
        on_error: Callable[[ClientError, Frame | None], None] | None = None,
    ) -> None:
        if not urls:
            raise ValueError("TerminalClient needs at least one URL")
        self.urls = list(urls)
        self.token = token
        self.welcome: dict[str, Any] | None = None
        self.failure: ClientError | None = None
        self.state: State = "idle"
        self._extra_headers = extra_headers
        self._outbox: Outbox = outbox if outbox is not None else MemoryOutbox()
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._reconnect_backoff = Backoff(backoff_initial, backoff_max)
        self._hello_timeout = hello_timeout
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._max_incoming_bytes = max_incoming_bytes
        self._on_message = on_message
        self._on_error = on_error

        self._sequencer = Sequencer()
        self._inbox: asyncio.Queue[Frame | None] = asyncio.Queue()
        # `_welcomed` takes subscribes from the welcome on; `_connection` takes the
        # application's frames only once the outbox has been re-sent, to keep their order.
        self._welcomed: ClientConnection | None = None
        self._connection: ClientConnection | None = None
        self._closing = False
        self._opened = asyncio.Event()
        self._failed = asyncio.Event()
        self._drained = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.TimerHandle] = set()

        # Frame ids written on the current connection and not answered yet.
        self._in_flight: set[str] = set()
        # Callers of send(), by frame id; they outlive connections, like the outbox.
        self._send_waiters: dict[str, list[asyncio.Future[Ack]]] = {}
        # Callers of request(), by id (None: the next error with "id": null); they do not
        # outlive the connection the frame was written on.
        self._request_waiters: dict[str | None, deque[asyncio.Future[Frame]]] = {}
        self._retry_backoffs: dict[str, Backoff] = {}
        # The subscribe frame currently answering for each topic, and its reverse.
        self._subscribe_id_by_topic: dict[str, str] = {}
        self._topic_by_subscribe_id: dict[str, str] = {}
        self._subscribe_waiters: dict[str, list[asyncio.Future[Ack]]] = {}
        self._refresh_drained()

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        """Start the connection loop and wait for the first `welcome`; returns its data."""
        if self._runner is None:
            self.state = "connecting"
            self._runner = asyncio.create_task(self._run(), name="hub-terminal-client")
            self._runner.add_done_callback(self._runner_ended)
        await self._wait_or_fail(self._opened)
        assert self.welcome is not None
        return self.welcome

    def _runner_ended(self, runner: asyncio.Task[None]) -> None:
        # A bug in the loop must not leave callers waiting for a connection that never comes.
        if not runner.cancelled() and runner.exception() is not None and self.failure is None:
            self._fail(ClientError(f"connection loop crashed: {runner.exception()!r}"))

    async def close(self) -> None:
        """Stop for good. The outbox keeps what was not acknowledged."""
        self._closing = True
        if self._welcomed is not None:
            await self._welcomed.close()  # a clean 1000, so the hub logs no error
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        if self.failure is None:
            self._fail(ClientClosed("client closed"))

    async def __aenter__(self) -> TerminalClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def last_seq(self) -> Mapping[str, int]:
        return self._sequencer.last_seq

    # -- sending ---------------------------------------------------------------------------

    def enqueue(self, type: str, topic: str, data: dict[str, Any], *, id: str | None = None) -> str:
        """Store the frame in the outbox and send it when connected; returns its id. A final
        error for it goes to `on_error`."""
        self._raise_if_failed()
        frame: Frame = {"type": type, "id": id or new_id(), "topic": topic, "data": data}
        encode(frame)  # refuse what the hub would refuse before it reaches the outbox
        self._outbox.put(frame)
        self._drained.clear()
        self._write_if_open(frame)
        return str(frame["id"])

    async def send(
        self, type: str, topic: str, data: dict[str, Any], *, id: str | None = None
    ) -> Ack:
        """Send a message and wait for its ack, across reconnects and `rate_limited` /
        `unavailable` retries. Raises ProtocolError for a final error."""
        waiter: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        frame_id = id or new_id()
        self._send_waiters.setdefault(frame_id, []).append(waiter)
        try:
            self.enqueue(type, topic, data, id=frame_id)
        except BaseException:
            self._send_waiters.pop(frame_id, None)
            raise
        return await waiter

    async def flush(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - the agreed API
        """Wait until every frame in the outbox is acknowledged or finally refused; raises
        TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            await self._wait_or_fail(self._drained)

    async def request(self, frame: Frame | str | bytes) -> Frame:
        """Write a raw frame (not kept in the outbox) on the current connection and return
        the reply with its id (an `error` is returned, not raised). A str or bytes frame, or
        one without a string id, waits for the next reply whose id is null."""
        await self._wait_or_fail(self._opened)
        if isinstance(frame, dict):
            text: str | bytes = encode(frame)
            reply_id = frame.get("id") if isinstance(frame.get("id"), str) else None
        else:
            text = frame
            parsed = decode(frame)
            reply_id = parsed.get("id") if parsed and isinstance(parsed.get("id"), str) else None
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._request_waiters.setdefault(reply_id, deque()).append(waiter)
        assert self._connection is not None
        await self._connection.send(text)
        return await waiter

    async def ping(self) -> Frame:
        return await self.request({"type": "ping", "id": new_id()})

    # -- subscriptions ---------------------------------------------------------------------

    async def subscribe(self, topic: str, since: int | None = None) -> Ack:
        """Track the topic and subscribe; resolves on the subscribe's ack, when the replay
        of everything after `since` (default: the last seq held) has been delivered."""
        self._raise_if_failed()
        self._sequencer.track(topic, since)
        waiter: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._subscribe_waiters.setdefault(topic, []).append(waiter)
        self._write_subscribe(topic)
        return await waiter

    async def unsubscribe(self, topic: str) -> None:
        """Stop tracking the topic; its messages are dropped from now on."""
        self._sequencer.forget(topic)
        self._forget_subscribe_frames(topic)
        for waiter in self._subscribe_waiters.pop(topic, []):
            if not waiter.done():
                waiter.set_exception(SubscriptionEnded(topic))
        if self._connection is None:
            return  # a new connection starts with no subscription
        reply = await self.request({"type": "unsubscribe", "id": new_id(), "topic": topic})
        if reply.get("type") == "error":
            raise _protocol_error(reply)

    # -- receiving -------------------------------------------------------------------------

    async def messages(self) -> AsyncIterator[Frame]:
        """Delivered messages, per topic in seq order without duplicates, plus
        `subscription.ended` and frames of types this client does not know. Ends when the
        client closes."""
        while True:
            frame = await self._inbox.get()
            if frame is None:
                self._inbox.put_nowait(None)  # let any other reader end too
                return
            yield frame

    # -- the connection loop ---------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            url = self.urls[attempt % len(self.urls)]
            attempt += 1  # a lost or refused connection moves on to the next hub
            try:
                async with connect(
                    url,
                    additional_headers=self._extra_headers,
                    open_timeout=self._open_timeout,
                    ping_interval=self._ping_interval,
                    max_size=self._max_incoming_bytes,
                ) as connection:
                    await self._session(connection)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
                reason = closed.rcvd.reason if closed.rcvd is not None else ""
                self._connection_lost(code, reason)
                if code in FINAL_CLOSE_CODES:
                    assert code is not None
                    self._fail(ConnectionRejected(code, reason))
                    return
                if code == MESSAGE_TOO_BIG:
                    self._report(ConnectionLost(code, reason), None)
                logger.info("connection to %s closed (%s); reconnecting", url, code)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                self._connection_lost(None)
                logger.info("cannot connect to %s (%s); trying again", url, exc)
            if self._closing:
                return
            self.state = "reconnecting"
            await asyncio.sleep(self._reconnect_backoff.next_delay())

    async def _session(self, connection: ClientConnection) -> None:
        hello: Frame = {"type": "hello", "id": new_id()}
        if self.token is not None:
            hello["data"] = {"token": self.token}
        await connection.send(encode(hello))
        welcome = await asyncio.wait_for(
            self._read_welcome(connection, hello["id"]), self._hello_timeout
        )
        self.welcome = welcome.get("data") or {}
        self._welcomed = connection
        self._reconnect_backoff.reset()
        resume = asyncio.create_task(self._resume(connection))
        try:
            while True:
                self._handle(await connection.recv())
        finally:
            resume.cancel()
            await asyncio.gather(resume, return_exceptions=True)

    async def _read_welcome(self, connection: ClientConnection, hello_id: str) -> Frame:
        while True:
            frame = decode(await connection.recv())
            if frame is not None and frame.get("type") == "welcome" and frame.get("id") == hello_id:
                return frame
            logger.warning("frame before welcome ignored: %r", frame)

    async def _resume(self, connection: ClientConnection) -> None:
        # Subscribes go first so that the replay of what was missed starts while the outbox
        # drains; both are pipelined, and the reader matches their replies in any order.
        for topic in self._sequencer.topics:
            if topic not in self._subscribe_id_by_topic:
                await connection.send(encode(self._subscribe_frame(topic)))
        # Loop until nothing unsent is left: frames enqueued while this awaits are caught by
        # the next pass, and there is no await between the last check and `_connection`
        # being set, so no frame can slip between the two.
        while unsent := [f for f in self._outbox.pending() if f["id"] not in self._in_flight]:
            for frame in unsent:
                self._in_flight.add(frame["id"])
                await connection.send(encode(frame))
        self._connection = connection
        self.state = "open"
        self._opened.set()

    def _connection_lost(self, code: int | None, reason: str = "") -> None:
        self._connection = None
        self._welcomed = None
        self._opened.clear()
        self._in_flight.clear()
        self._sequencer.reset_subscriptions()
        self._subscribe_id_by_topic.clear()
        self._topic_by_subscribe_id.clear()
        lost = ConnectionLost(code, reason)
        for waiters in self._request_waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(lost)
        self._request_waiters.clear()

    # -- writing ---------------------------------------------------------------------------

    def _write_if_open(self, frame: Frame) -> None:
        connection = self._connection
        if connection is None or frame["id"] in self._in_flight:
            return  # the next connection's resume sends it
        self._in_flight.add(frame["id"])
        self._spawn(connection.send(encode(frame)))

    def _write_subscribe(self, topic: str) -> None:
        if self._welcomed is not None:
            self._spawn(self._welcomed.send(encode(self._subscribe_frame(topic))))

    def _subscribe_frame(self, topic: str) -> Frame:
        self._forget_subscribe_frames(topic)
        frame_id = new_id()
        self._subscribe_id_by_topic[topic] = frame_id
        self._topic_by_subscribe_id[frame_id] = topic
        since = self._sequencer.subscribing(topic)
        return {"type": "subscribe", "id": frame_id, "topic": topic, "since": since}

    def _forget_subscribe_frames(self, topic: str) -> None:
        old_id = self._subscribe_id_by_topic.pop(topic, None)
        if old_id is not None:
            self._topic_by_subscribe_id.pop(old_id, None)

    def _spawn(self, write: Awaitable[None]) -> None:
        async def guarded() -> None:
            # A write on a closing connection: the reader sees the close and reconnects, and
            # the outbox still holds the frame.
            with contextlib.suppress(ConnectionClosed):
                await write

        task = asyncio.create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _later(self, frame_id: str, action: Callable[[], None]) -> None:
        backoff = self._retry_backoffs.setdefault(
            frame_id, Backoff(self._backoff_initial, self._backoff_max)
        )

        def fire() -> None:
            self._timers.discard(handle)
            action()

        handle = asyncio.get_running_loop().call_later(backoff.next_delay(), fire)
        self._timers.add(handle)

    # -- reading ---------------------------------------------------------------------------

    def _handle(self, text: str | bytes) -> None:
        frame = decode(text)
        if frame is None:
            logger.warning("hub sent a frame that is not a JSON object; ignored")
            return
        kind = frame.get("type")
        if kind in ("ack", "error"):
            self._handle_reply(frame)
        elif kind in ("pong", "welcome"):
            self._resolve_request(frame)
        elif kind == "subscription.ended":
            self._handle_ended(frame)
        elif (position := sequenced(frame)) is not None:
            self._handle_message(frame, *position)
        else:
            self._deliver(frame)  # a type this client does not know: the application decides

    def _handle_reply(self, frame: Frame) -> None:
        frame_id = frame.get("id")
        if self._resolve_request(frame):
            return
        if isinstance(frame_id, str) and frame_id in self._topic_by_subscribe_id:
            self._handle_subscribe_reply(self._topic_by_subscribe_id[frame_id], frame)
        elif isinstance(frame_id, str) and frame_id in self._in_flight:
            self._handle_send_reply(frame_id, frame)
        elif frame.get("type") == "error":
            self._report(_protocol_error(frame), frame)
        # else: a repeated ack of a frame already settled (re-sent across a reconnect)

    def _resolve_request(self, frame: Frame) -> bool:
        frame_id = frame.get("id")
        waiters = self._request_waiters.get(frame_id if isinstance(frame_id, str) else None)
        if not waiters:
            return False
        waiter = waiters.popleft()
        if not waiters:
            del self._request_waiters[frame_id if isinstance(frame_id, str) else None]
        if not waiter.done():
            waiter.set_result(frame)
        return True

    def _handle_send_reply(self, frame_id: str, reply: Frame) -> None:
        self._in_flight.discard(frame_id)
        if reply["type"] == "error" and reply.get("code") in RETRYABLE_ERROR_CODES:
            self._later(frame_id, lambda: self._retry_send(frame_id))
            return
        self._retry_backoffs.pop(frame_id, None)
        frame = next((f for f in self._outbox.pending() if f["id"] == frame_id), None)
        self._outbox.remove(frame_id)
        self._refresh_drained()
        waiters = self._send_waiters.pop(frame_id, [])
        if reply["type"] == "ack":
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(ack_from(reply))
            return
        error = _protocol_error(reply)
        if not waiters:
            self._report(error, frame)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)

    def _retry_send(self, frame_id: str) -> None:
        frame = next((f for f in self._outbox.pending() if f["id"] == frame_id), None)
        if frame is not None:
            self._write_if_open(frame)

    def _handle_subscribe_reply(self, topic: str, reply: Frame) -> None:
        if reply["type"] == "error" and reply.get("code") in RETRYABLE_ERROR_CODES:
            self._forget_subscribe_frames(topic)
            self._later(reply["id"], lambda: self._retry_subscribe(topic))
            return
        self._retry_backoffs.pop(reply["id"], None)
        waiters = self._subscribe_waiters.pop(topic, [])
        if reply["type"] == "ack":
            self._sequencer.subscribed(topic)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(ack_from(reply))
            return
        self._sequencer.forget(topic)
        self._forget_subscribe_frames(topic)
        error = _protocol_error(reply)
        if not waiters:
            self._report(error, reply)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)

    def _retry_subscribe(self, topic: str) -> None:
        if self._sequencer.is_tracked(topic):
            self._write_subscribe(topic)

    def _handle_ended(self, frame: Frame) -> None:
        topic = frame.get("topic")
        if isinstance(topic, str):
            self._sequencer.forget(topic)
            self._forget_subscribe_frames(topic)
            for waiter in self._subscribe_waiters.pop(topic, []):
                if not waiter.done():
                    waiter.set_exception(SubscriptionEnded(topic))
        self._deliver(frame)

    def _handle_message(self, frame: Frame, topic: str, seq: int) -> None:
        verdict = self._sequencer.accept(topic, seq)
        if verdict is Verdict.DELIVER:
            self._deliver(frame)
        elif verdict is Verdict.GAP:
            logger.info("gap in %s at seq %d; re-subscribing", topic, seq)
            self._write_subscribe(topic)

    def _deliver(self, frame: Frame) -> None:
        if self._on_message is not None:
            self._on_message(frame)
        else:
            self._inbox.put_nowait(frame)

    # -- failure ---------------------------------------------------------------------------

    def _report(self, error: ClientError, frame: Frame | None) -> None:
        if self._on_error is not None:
            self._on_error(error, frame)
        else:
            logger.warning("%s (frame %r)", error, frame)

    def _fail(self, error: ClientError) -> None:
        self.failure = error
        self.state = "closed"
        self._connection = None
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for waiters in [*self._send_waiters.values(), *self._subscribe_waiters.values()]:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)
        self._send_waiters.clear()
        self._subscribe_waiters.clear()
        for request_waiters in self._request_waiters.values():
            for request_waiter in request_waiters:
                if not request_waiter.done():
                    request_waiter.set_exception(error)
        self._request_waiters.clear()
        self._failed.set()
        self._inbox.put_nowait(None)

    def _raise_if_failed(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _refresh_drained(self) -> None:
        if self._outbox.pending():
            self._drained.clear()
        else:
            self._drained.set()

    async def _wait_or_fail(self, event: asyncio.Event) -> None:
        self._raise_if_failed()
        done = asyncio.ensure_future(event.wait())
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            await asyncio.wait({done, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.cancel()
            failed.cancel()
        if not event.is_set():
            self._raise_if_failed()


def _protocol_error(reply: Frame) -> ProtocolError:
    frame_id = reply.get("id")
    return ProtocolError(
        str(reply.get("code", "unknown")),
        str(reply.get("message", "")),
        frame_id if isinstance(frame_id, str) else None,
    )
