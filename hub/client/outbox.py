"""Where a terminal keeps the frames the hub has not acknowledged yet.

The protocol gives exactly-once storage only if every unacknowledged frame is re-sent with
its original id after a reconnect, so the outbox must outlive a connection, and for a gateway
it must outlive the process too (FileOutbox).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any, Protocol

from hub.client.frames import Frame


class Outbox(Protocol):
    def put(self, frame: Frame) -> None:
        """Keep the frame until `remove(frame["id"])`; a second put of the same id replaces
        the frame but keeps its place."""

    def remove(self, frame_id: str) -> None:
        """Forget the frame; an id that is not held is ignored."""

    def pending(self) -> list[Frame]:
        """The frames held, in the order they were first put."""


class MemoryOutbox:
    def __init__(self) -> None:
        self._frames: dict[str, Frame] = {}

    def put(self, frame: Frame) -> None:
        self._frames[frame["id"]] = frame

    def remove(self, frame_id: str) -> None:
        self._frames.pop(frame_id, None)

    def pending(self) -> list[Frame]:
        return list(self._frames.values())


class OutboxLocked(RuntimeError):
    """Another process holds the outbox file: two senders would re-send each other's frames."""


class FileOutbox:
    """An append-only JSON-lines journal: `{"put": frame}` and `{"remove": id}` records.

    The file is compacted on open (only the frames still pending are rewritten), so it grows
    only with the traffic of one process lifetime.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._frames: dict[str, Frame] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise OutboxLocked(str(self.path)) from None
        self._load()
        self._compact()

    def _load(self) -> None:
        self._file.seek(0)
        for line in self._file:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # A line torn by a crash in the middle of a put: that put never returned, so
                # its frame was never written to the socket, and dropping it is correct.
                continue
            if "put" in record:
                frame = record["put"]
                self._frames[frame["id"]] = frame
            elif "remove" in record:
                self._frames.pop(record["remove"], None)

    def _compact(self) -> None:
        temporary = self.path.with_name(self.path.name + ".compact")
        compacted = open(temporary, "w", encoding="utf-8")  # noqa: SIM115 - becomes self._file
        # Locked before it takes the name: a process that opens the path after the rename
        # must find the new file already held.
        fcntl.flock(compacted.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        for frame in self._frames.values():
            compacted.write(_record({"put": frame}))
        compacted.flush()
        os.fsync(compacted.fileno())
        os.replace(temporary, self.path)
        _fsync_directory(self.path.parent)
        self._file.close()
        self._file = compacted

    def put(self, frame: Frame) -> None:
        self._file.write(_record({"put": frame}))
        self._file.flush()
        # The caller writes the frame to the socket right after this returns; a frame the hub
        # may have stored must survive a power cut, or it would never be re-sent.
        os.fsync(self._file.fileno())
        self._frames[frame["id"]] = frame

    def remove(self, frame_id: str) -> None:
        if self._frames.pop(frame_id, None) is None:
            return
        # No fsync: a lost tombstone only makes the frame be re-sent, and the hub acknowledges
        # a known id again without storing it twice.
        self._file.write(_record({"remove": frame_id}))
        self._file.flush()

    def pending(self) -> list[Frame]:
        return list(self._frames.values())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> FileOutbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _record(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
