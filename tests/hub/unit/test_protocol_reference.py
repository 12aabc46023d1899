from pathlib import Path

from hub.protocol_reference import render_protocol_reference

DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"


def test_the_committed_protocol_reference_matches_the_declarations():
    assert DOC.read_text(encoding="utf-8") == render_protocol_reference(), (
        "docs/protocol.md is stale: run `python manage.py protocol_reference`")


def test_the_reference_documents_every_range_of_the_contract():
    text = render_protocol_reference()
    for row in ("`hr` | number 0..300", "`gcs` | integer 3..15", "`samples` | list of 1..4000",
                "`beds.red` | integer 0..10000", "`heading` | number 0..360"):
        assert row in text


def test_the_command_prints_the_reference_with_stdout_and_leaves_the_file_alone():
    import subprocess
    import sys

    before = DOC.stat().st_mtime_ns
    printed = subprocess.run([sys.executable, "manage.py", "protocol_reference", "--stdout"],
                             cwd=DOC.parents[1], capture_output=True, text=True, timeout=60,
                             check=True).stdout
    # Django's OutputWrapper may end what it writes with a newline of its own.
    assert printed.rstrip("\n") == render_protocol_reference().rstrip("\n")
    assert DOC.stat().st_mtime_ns == before
