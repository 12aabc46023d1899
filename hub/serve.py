"""`python -m hub.serve ...`: Daphne, with what its options do not give a hub.

1. PROTOCOL.md says a message over 1 MiB closes the connection with 1009. Autobahn, under
   Daphne, detects it but by default "fails by drop": it cuts TCP without a close frame, so
   the terminal sees 1006 and cannot tell why. `failByDrop = False` sends the 1009 close.
2. A slow reader must not grow the server's memory without bound. Daphne writes every frame
   straight into Twisted's transport buffer, which has no limit. The hub's protocol registers
   itself as the transport's streaming producer, so Twisted says when the socket's buffer is
   full (pauseProducing) and drained again (resumeProducing); what is written meanwhile is
   counted, and past HUB_SLOW_READER_BYTES the socket is closed (4008). The terminal
   reconnects and resumes from its last seq, from the journal, at its own pace.

3. SIGTERM stops the process gracefully (`HubServer`). Daphne's own stop cancels every
   socket's coroutine at once, mid-transaction and before its ack; the hub first stops
   listening and taking frames, lets the frames in flight commit and be acknowledged, closes
   every socket with 1001 (going away) so its terminal reconnects to another Daphne, and
   only then stops the reactor. A second SIGTERM stops at once.
4. Python's cyclic garbage collector must not stop a loaded server for a tenth of a second.
   A full (oldest-generation) collection walks every tracked object: Django, the app and each
   socket's state, 300 000 objects once 600 terminals are connected, 60 to 180 ms on this
   hardware, during which no frame is read, stored or delivered. Under the mass-casualty load
   it ran every few seconds and made the whole p99 (docs/performance.md). Once the
   application is loaded, what it built is moved out of the collector's sight (`gc.freeze`),
   which halves a full collection; and a full collection waits for 100 collections of the
   middle generation instead of 10, about once a minute under that load instead of every few
   seconds. The young generations, where nearly all garbage dies, are collected as before.

Daphne builds its factory from `daphne.server.WebSocketFactory`, so the hub's subclass is
put there before Daphne's command line runs; every other option stays Daphne's.
"""

import asyncio
import atexit
import gc
import logging
import os
import signal
from types import FrameType
from typing import Any, cast

# Imported before twisted.internet.reactor: it installs the asyncio reactor that names.
import daphne.server
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from prometheus_client import multiprocess
from twisted.internet import reactor as installed_reactor

from hub import metrics

logger = logging.getLogger(__name__)
# Twisted's stubs type the installed reactor as a module.
reactor = cast(Any, installed_reactor)

CLOSE_SLOW_READER = 4008
# hub.consumers closes with it on a graceful stop (this module cannot import Django's code).
CLOSE_GOING_AWAY = 1001
DEFAULT_SLOW_READER_BYTES = 8 * 1024 * 1024
# gc.set_threshold's: Python's defaults for the young generations, 10x its wait for a full one.
GC_THRESHOLDS = (700, 10, 100)


def slow_reader_limit() -> int:
    raw = os.environ.get("HUB_SLOW_READER_BYTES", str(DEFAULT_SLOW_READER_BYTES))
    try:
        limit = int(raw)
    except ValueError:
        raise SystemExit(f"HUB_SLOW_READER_BYTES must be an integer, got {raw!r}") from None
    if limit < 65536:
        raise SystemExit(f"HUB_SLOW_READER_BYTES must be >= 65536, got {limit}")
    return limit


class HubWebSocketProtocol(WebSocketProtocol):
    slow_reader_bytes = DEFAULT_SLOW_READER_BYTES

    def onOpen(self) -> None:
        self.reader_is_behind = False
        self.bytes_while_behind = 0
        # The HTTP channel that did the upgrade is still the transport's producer; the
        # connection is this protocol's now, and a transport takes one producer.
        if self.transport.producer is not None:
            self.transport.unregisterProducer()
        self.transport.registerProducer(self, True)
        super().onOpen()

    # IPushProducer, called by Twisted about the transport's write buffer.
    def pauseProducing(self) -> None:
        self.reader_is_behind = True

    def resumeProducing(self) -> None:
        self.reader_is_behind = False
        self.bytes_while_behind = 0

    def stopProducing(self) -> None:
        self.reader_is_behind = True

    def serverClose(self, code: int | None = None) -> None:
        if code == CLOSE_GOING_AWAY:
            # RFC 6455 gives 1001 to a server that is going down, and terminals reconnect on
            # it; Autobahn's sendClose allows applications only 1000 and 3000-4999 and
            # raises, so the close frame is sent the way sendClose itself sends it.
            self.sendCloseFrame(code=CLOSE_GOING_AWAY, isReply=False)
            return
        super().serverClose(code)

    def serverSend(self, content: Any, binary: bool = False) -> None:
        if self.state != self.STATE_OPEN:
            # Closing (a graceful stop, a slow reader): Autobahn would raise, and crash the
            # socket's consumer before its disconnect; the terminal resends after reconnecting.
            return
        if getattr(self, "reader_is_behind", False):
            self.bytes_while_behind += len(content)
            if self.bytes_while_behind > self.slow_reader_bytes:
                logger.warning("closing slow reader %s: %d bytes behind", self.client_addr,
                               self.bytes_while_behind)
                # Nothing more is written once closing; Autobahn drops the TCP connection if
                # the close handshake does not complete within its timeout.
                self.sendClose(code=CLOSE_SLOW_READER, reason="slow reader: resume with since")
                return
        super().serverSend(content, binary)


class HubWebSocketFactory(WebSocketFactory):
    protocol = HubWebSocketProtocol

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setProtocolOptions(failByDrop=False)


def _settle_garbage_collector() -> None:
    """The module's docstring, point 4: run once the application is loaded, before traffic."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    logger.info("garbage collector: %d startup objects frozen, thresholds %s",
                gc.get_freeze_count(), GC_THRESHOLDS)


class HubServer(daphne.server.Server):
    """Daphne's server with a graceful SIGTERM (the module's docstring, point 3)."""

    def run(self) -> None:
        self.ports: list[Any] = []
        self.stopping = False
        # After startup: Twisted installs its own SIGTERM handler (an immediate stop) then.
        reactor.callWhenRunning(self._take_over_sigterm)
        reactor.callWhenRunning(_settle_garbage_collector)
        super().run()

    def listen_success(self, port: Any) -> None:
        self.ports.append(port)
        super().listen_success(port)

    def _take_over_sigterm(self) -> None:
        signal.signal(signal.SIGTERM, self._sigterm)

    def _sigterm(self, signum: int, frame: FrameType | None) -> None:
        reactor.callFromThread(self.stop_gracefully)

    def stop_gracefully(self) -> None:
        if self.stopping:
            logger.warning("second SIGTERM: stopping now")
            reactor.stop()
            return
        self.stopping = True
        from django.conf import settings

        from hub.consumers import sockets_close_gracefully

        logger.info("SIGTERM: no new connections or frames; draining %d socket(s)",
                    len(self.connections))
        for port in self.ports:
            port.stopListening()
        closing = asyncio.ensure_future(self._applications_finish(sockets_close_gracefully(
            drain_seconds=settings.HUB_STOP_DRAIN_SECONDS,
            close_seconds=settings.HUB_STOP_CLOSE_SECONDS,
        ), settings.HUB_STOP_CLOSE_SECONDS))
        closing.add_done_callback(self._drained)

    async def _applications_finish(self, sockets_closed: Any, seconds: float) -> None:
        await sockets_closed
        # After its disconnect a socket's application still unsubscribes its channel from
        # Redis, one at a time per connection; Daphne's stop would cancel those waits
        # half-way (channels_redis logs an error for each).
        running = [details["application_instance"] for details in self.connections.values()
                   if details.get("application_instance") is not None
                   and not details["application_instance"].done()]
        if running:
            await asyncio.wait(running, timeout=seconds)

    def _drained(self, closing: "asyncio.Future[None]") -> None:
        if not closing.cancelled() and closing.exception() is not None:
            logger.error("graceful stop failed; stopping now", exc_info=closing.exception())
        if reactor.running:
            reactor.stop()


def main() -> None:
    HubWebSocketProtocol.slow_reader_bytes = slow_reader_limit()
    # Connected-terminal gauges sum live processes only: this one's go when it exits, and a
    # predecessor's that was killed go now (hub/metrics.py).
    metrics.forget_dead_processes()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        atexit.register(multiprocess.mark_process_dead, os.getpid())
    daphne.server.WebSocketFactory = HubWebSocketFactory
    CommandLineInterface.server_class = HubServer
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
