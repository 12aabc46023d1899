"""Group commit's writers: every queued frame is stored, whatever the loop runs first."""

import asyncio
from typing import Any, cast

import pytest

from hub.group_commit import GroupCommit

pytestmark = pytest.mark.asyncio


async def _write_batch(frames: list[Any]) -> list[Any]:
    await asyncio.sleep(0)  # a database thread's round trip, in short
    return [f"stored {frame}" for frame in frames]


async def test_a_frame_queued_in_the_step_its_sender_hears_the_last_batch_is_stored():
    """A socket whose next frame is already read hands it over in the loop step that resumes
    it from its ack, before the finished writer's task callbacks have run: a writer must
    still be there for it."""
    group = GroupCommit(_write_batch, writers=1, max_frames=10)

    async def sender() -> Any:
        assert await group.store(cast(Any, "first")) == "stored first"
        return await group.store(cast(Any, "second"))

    assert await asyncio.wait_for(sender(), timeout=5) == "stored second"
    assert group.writing == 0


async def test_frames_queued_together_are_stored_in_arrival_order_in_batches_of_max_frames():
    """max_frames a batch; the rest wait for the next, in the order they came."""
    batches: list[list[Any]] = []

    async def write_batch(frames: list[Any]) -> list[Any]:
        batches.append(list(frames))
        return await _write_batch(frames)

    group = GroupCommit(write_batch, writers=1, max_frames=2)
    results = await asyncio.wait_for(asyncio.gather(
        *(group.store(cast(Any, index)) for index in range(5))), timeout=5)
    assert results == [f"stored {index}" for index in range(5)]
    assert batches == [[0, 1], [2, 3], [4]]
    assert group.writing == 0
