"""Group commit: the frames of many sockets stored in one transaction, acknowledged after it.

Each frame stored alone costs a transaction of its own: a WAL flush, a BEGIN and a COMMIT,
its lookups, and a database thread that competes for the GIL with fifteen others. On the
busy types (vitals, waveforms, positions) a process's frames go instead to its writers (one
by default, HUB_GROUP_COMMIT_WRITERS): a writer takes everything that queued up while the
previous transaction committed and stores it with `journal.apply_once_many`. A frame that
arrives while a writer is idle goes at once, alone, so a quiet hub waits for nothing; a
loaded one shares a commit among as many frames as arrived meanwhile.
"""

import asyncio
from collections.abc import Awaitable, Callable

from django.conf import settings

from hub import metrics
from hub.journal import Outcome, PendingFrame, StoredMessage

WriteBatch = Callable[[list[PendingFrame]], Awaitable[list[Outcome]]]


class GroupCommit:
    def __init__(self, write_batch: WriteBatch, *, writers: int, max_frames: int) -> None:
        self.write_batch = write_batch
        self.writers = writers
        self.max_frames = max_frames
        self.queue: list[tuple[PendingFrame, asyncio.Future[StoredMessage]]] = []
        # Writers that will look at the queue again. Counted by the writers themselves as they
        # stop, not by their tasks' done callbacks: those run a loop step later, and a frame
        # queued in between (by a socket resuming from the last batch's ack) would find every
        # writer still "running", start none, and wait for the next frame to come along.
        self.writing = 0
        # Strong references: the loop keeps only weak ones to tasks it runs.
        self.running: set[asyncio.Task[None]] = set()

    async def store(self, frame: PendingFrame) -> StoredMessage:
        """The frame's message once its transaction committed, or the exception it raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredMessage] = loop.create_future()
        self.queue.append((frame, future))
        if self.writing < self.writers:
            self.writing += 1
            task = loop.create_task(self._write())
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        # A socket that closes meanwhile cancels only the wait: the batch stores the frame
        # all the same, and the terminal's resend is acknowledged with its seq.
        return await future

    async def _write(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue[:self.max_frames], self.queue[self.max_frames:]
                metrics.JOURNAL_BATCH_FRAMES.observe(len(batch))
                frames = [frame for frame, _ in batch]
                try:
                    outcomes = await self.write_batch(frames)
                except Exception as error:
                    outcomes = [error for _ in frames]
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            # In the step that found the queue empty: whatever is queued after it starts a writer.
            self.writing -= 1


_group_commits: dict[int, GroupCommit] = {}


def group_commit_for_this_loop(write_batch: WriteBatch) -> GroupCommit:
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _group_commits:
        _group_commits[loop_id] = GroupCommit(
            write_batch, writers=settings.HUB_GROUP_COMMIT_WRITERS,
            max_frames=settings.HUB_GROUP_COMMIT_MAX_FRAMES,
        )
    return _group_commits[loop_id]
