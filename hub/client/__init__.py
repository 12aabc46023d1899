"""Client of the hub's terminal protocol (PROTOCOL.md) for gateways, drills and tests.

It does not import Django, so third-party code can use it on its own.
"""

from hub.client.backoff import Backoff
from hub.client.errors import (
    ClientClosed,
    ClientError,
    ConnectionLost,
    ConnectionRejected,
    FrameTooLarge,
    ProtocolError,
    SubscriptionEnded,
)
from hub.client.frames import MAX_FRAME_BYTES, Ack, Frame
from hub.client.outbox import FileOutbox, MemoryOutbox, Outbox, OutboxLocked
from hub.client.sequencer import Sequencer, Verdict
from hub.client.terminal import TerminalClient

__all__ = [
    "MAX_FRAME_BYTES",
    "Ack",
    "Backoff",
    "ClientClosed",
    "ClientError",
    "ConnectionLost",
    "ConnectionRejected",
    "FileOutbox",
    "Frame",
    "FrameTooLarge",
    "MemoryOutbox",
    "Outbox",
    "OutboxLocked",
    "ProtocolError",
    "Sequencer",
    "SubscriptionEnded",
    "TerminalClient",
    "Verdict",
]
