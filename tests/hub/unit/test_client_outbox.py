import json
from pathlib import Path

import pytest

from hub.client import FileOutbox, MemoryOutbox, OutboxLocked


def frame(frame_id: str, hr: int = 80) -> dict[str, object]:
    return {"type": "vitals", "id": frame_id, "topic": "casualty:c1", "data": {"hr": hr}}


@pytest.fixture(params=["memory", "file"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "memory":
        yield MemoryOutbox()
    else:
        with FileOutbox(tmp_path / "outbox.jsonl") as file_outbox:
            yield file_outbox


def test_pending_frames_come_back_in_insertion_order(outbox) -> None:
    for frame_id in ["c", "a", "b"]:
        outbox.put(frame(frame_id))
    assert [f["id"] for f in outbox.pending()] == ["c", "a", "b"]


def test_putting_a_known_id_again_replaces_the_frame_but_keeps_its_place(outbox) -> None:
    outbox.put(frame("a", hr=80))
    outbox.put(frame("b"))
    outbox.put(frame("a", hr=90))
    assert [(f["id"], f["data"]["hr"]) for f in outbox.pending()] == [("a", 90), ("b", 80)]


def test_removing_an_unknown_id_changes_nothing(outbox) -> None:
    outbox.put(frame("a"))
    outbox.remove("never-put")
    assert [f["id"] for f in outbox.pending()] == ["a"]


def test_removed_frames_are_no_longer_pending(outbox) -> None:
    outbox.put(frame("a"))
    outbox.put(frame("b"))
    outbox.remove("a")
    assert [f["id"] for f in outbox.pending()] == ["b"]


def test_file_outbox_keeps_unacknowledged_frames_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    with FileOutbox(path) as first_run:
        first_run.put(frame("a"))
        first_run.put(frame("b", hr=120))
        first_run.put(frame("c"))
        first_run.remove("a")
    with FileOutbox(path) as second_run:
        assert second_run.pending() == [frame("b", hr=120), frame("c")]


def test_file_outbox_compacts_to_the_pending_frames_on_open(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    with FileOutbox(path) as first_run:
        for number in range(50):
            first_run.put(frame(f"f{number}"))
        for number in range(49):
            first_run.remove(f"f{number}")
    assert len(path.read_text().splitlines()) == 50 + 49
    FileOutbox(path).close()
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"put": frame("f49")}]


def test_file_outbox_drops_a_line_torn_by_a_crash_and_keeps_appending(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    with FileOutbox(path) as first_run:
        first_run.put(frame("a"))
    with path.open("a") as crashed:
        crashed.write('{"put":{"type":"vitals","id":"torn"')
    with FileOutbox(path) as second_run:
        assert [f["id"] for f in second_run.pending()] == ["a"]
        second_run.put(frame("b"))
    with FileOutbox(path) as third_run:
        assert [f["id"] for f in third_run.pending()] == ["a", "b"]


def test_file_outbox_writes_each_put_before_returning(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    with FileOutbox(path) as outbox:
        outbox.put(frame("a"))
        # Read by another handle while the outbox is open, as after a kill -9.
        assert json.loads(path.read_text().splitlines()[-1]) == {"put": frame("a")}


def test_a_second_process_cannot_open_the_same_outbox_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    with FileOutbox(path), pytest.raises(OutboxLocked):
        FileOutbox(path)
    FileOutbox(path).close()  # free again once the first holder closed it


def test_file_outbox_keeps_non_ascii_text_intact(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    note = {
        "type": "note",
        "id": "n1",
        "topic": "casualty:c1",
        "data": {"text": "Bewusstlos, Pupillen ↔"},
    }
    with FileOutbox(path) as first_run:
        first_run.put(note)
    with FileOutbox(path) as second_run:
        assert second_run.pending() == [note]
