"""`python -m hub.serve ...`: Daphne, with two protections its options do not expose.

1. PROTOCOL.md says a message over 1 MiB closes the connection with 1009. Autobahn, under
   Daphne, detects it but by default "fails by drop": it cuts TCP without a close frame, so
   the terminal sees 1006 and cannot tell why. `failByDrop = False` sends the 1009 close.
2. A slow reader must not grow the server's memory without bound. Daphne writes every frame
   straight into Twisted's transport buffer, which has no limit. The hub's protocol registers
   itself as the transport's streaming producer, so Twisted says when the socket's buffer is
   full (pauseProducing) and drained again (resumeProducing); what is written meanwhile is
   counted, and past HUB_SLOW_READER_BYTES the socket is closed (4008). The terminal
   reconnects and resumes from its last seq, from the journal, at its own pace.

Daphne builds its factory from `daphne.server.WebSocketFactory`, so the hub's subclass is
put there before Daphne's command line runs; every other option stays Daphne's.
"""

import atexit
import logging
import os
from typing import Any

import daphne.server
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from prometheus_client import multiprocess

from hub import metrics

logger = logging.getLogger(__name__)

CLOSE_SLOW_READER = 4008
DEFAULT_SLOW_READER_BYTES = 8 * 1024 * 1024


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

    def serverSend(self, content: Any, binary: bool = False) -> None:
        if getattr(self, "reader_is_behind", False):
            if self.state != self.STATE_OPEN:
                return
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


def main() -> None:
    HubWebSocketProtocol.slow_reader_bytes = slow_reader_limit()
    # Connected-terminal gauges sum live processes only: this one's go when it exits, and a
    # predecessor's that was killed go now (hub/metrics.py).
    metrics.forget_dead_processes()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        atexit.register(multiprocess.mark_process_dead, os.getpid())
    daphne.server.WebSocketFactory = HubWebSocketFactory
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
