"""The after-action report of a small event driven through the real hub: its figures, its CSV,
its PDF, and the build's progress as the page sees it."""

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import requests
from pypdf import PdfReader

from tests.command_center.browser.screens import PASSWORD, WireTerminal, user_for_terminal
from tests.conftest import casualty_report_data

EVENT = "event:wic-test"
ATMIST = {"age": "about 40", "time": "", "mechanism": "crowd crush at gate 3",
          "injuries": "chest", "signs": "HR 118", "treatment": "O2"}


def csrf(session: requests.Session) -> str:
    return str(session.cookies.get("csrftoken"))


def log_in(base_url: str, username: str, language: str = "en") -> requests.Session:
    session = requests.Session()
    session.cookies.set("django_language", language)
    session.get(f"{base_url}/login/", timeout=10).raise_for_status()
    reply = session.post(f"{base_url}/login/", timeout=10, data={
        "username": username, "password": PASSWORD,
        "csrfmiddlewaretoken": csrf(session), "next": "/",
    })
    reply.raise_for_status()
    assert "sessionid" in session.cookies, "login failed"
    return session


def build_report(session: requests.Session, base_url: str, slug: str = "wic-test"
                 ) -> tuple[dict, list[tuple[str, int]]]:
    """Ask for a build and poll it as the page does; returns the last status and every
    (state, progress) seen."""
    reply = session.post(f"{base_url}/command/{slug}/review/reports/", timeout=10,
                         headers={"X-CSRFToken": csrf(session)})
    assert reply.status_code == 202, reply.text
    status = reply.json()
    seen = [(status["state"], status["progress"])]
    deadline = time.monotonic() + 120
    while status["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"build stuck: {seen}"
        time.sleep(0.05)
        status = session.get(f"{base_url}{status['status_url']}", timeout=10).json()
        if (status["state"], status["progress"]) != seen[-1]:
            seen.append((status["state"], status["progress"]))
    return status, seen


def drive_event(live_hub, roles) -> dict[str, str]:
    """Capacity, four casualties; red carried to TX1 with a handover; yellow assigned then
    released; green and black left on scene."""
    field = WireTerminal(live_hub.ws_url, roles.field)
    command = WireTerminal(live_hub.ws_url, roles.command)
    wz01 = WireTerminal(live_hub.ws_url, roles.ambulance)
    tx1 = WireTerminal(live_hub.ws_url, roles.hospital_screen)
    ids = {}
    try:
        tx1.send("capacity", "hospital:TX1",
                 {"beds": {"red": 3, "yellow": 8, "green": 20}, "diversion": False})
        for tag, category in (("R-1", "red"), ("Y-1", "yellow"), ("G-1", "green"),
                              ("B-1", "black")):
            data = casualty_report_data(tag=tag, category=category)
            field.send("casualty.report", EVENT, data)
            ids[category] = data["casualty"]
        wz01.send("position", "unit:WZ01", {"t": datetime.now(UTC).isoformat(),
                                            "lat": 30.744, "lon": 120.486})
        command.send("dispatch.override", EVENT,
                     {"casualty": ids["red"], "unit": "WZ01", "hospital": "TX1"})
        command.send("dispatch.override", EVENT,
                     {"casualty": ids["yellow"], "unit": "WZ02", "hospital": "TX1"})
        command.send("dispatch.release", EVENT, {"casualty": ids["yellow"]})
        for status in ("on_scene", "transporting", "at_hospital"):
            wz01.send("unit.status", "unit:WZ01", {"status": status})
        # A clock time of injury, minutes before the report, in the event's zone.
        from command_center.review.selectors import EVENT_TIME_ZONE
        from field_terminal.models import Casualty

        reported = Casualty.objects.get(pk=ids["red"]).reported_at
        injured = (reported - timedelta(minutes=3)).astimezone(EVENT_TIME_ZONE)
        wz01.send("handover", f"casualty:{ids['red']}",
                  {"atmist": {**ATMIST, "time": injured.strftime("%H:%M")}})
        tx1.send("handover.accept", "hospital:TX1", {"casualty": ids["red"]})
        wz01.send("unit.status", "unit:WZ01", {"status": "available"})
    finally:
        for terminal in (field, command, wz01, tx1):
            terminal.close()
    return ids


@pytest.fixture
def dispatcher(roles):
    return user_for_terminal("dispatcher", "command-1")


def test_report_figures_csv_and_pdf_of_an_event_driven_through_the_hub(
        live_hub, roles, dispatcher):
    from ambulance.models import Transport
    from command_center.models import MassEvent
    from field_terminal.models import Casualty
    from hub.models import Terminal

    ids = drive_event(live_hub, roles)
    # An exercise event's casualty: it must not reach the real event's report.
    drill = MassEvent.objects.create(slug="drill-x", name="Drill X", is_exercise=True)
    drill_casualty = Casualty.objects.create(
        event=drill, tag="DRILL-1", location=roles.event.venue_area.centroid, category="red",
        triage_method="START", reported_by=Terminal.objects.get(name="medic-1"),
        reported_at=datetime.now(UTC), status_changed_at=datetime.now(UTC))

    session = log_in(live_hub.http_url, "dispatcher")
    status, seen = build_report(session, live_hub.http_url)
    assert status["state"] == "done", status
    assert seen[0] == ("queued", 0)
    assert seen[-1] == ("done", 100)
    progress = [p for _state, p in seen]
    assert progress == sorted(progress), seen
    assert set(status["files"]) == {"html", "pdf", "casualties.csv", "units.csv"}

    carried = Transport.objects.get(casualty_id=ids["red"])
    assert carried.on_scene_at is not None and carried.arrived_at is not None
    red = Casualty.objects.get(pk=ids["red"])
    # The handover's clock time has minute precision.
    injured = (red.reported_at - timedelta(minutes=3)).replace(second=0, microsecond=0)

    rows = list(csv.DictReader(io.StringIO(
        session.get(f"{live_hub.http_url}{status['files']['casualties.csv']}", timeout=10).text)))
    assert list(rows[0]) == [
        "casualty", "tag", "category", "status", "exercise", "reported_at", "triaged_at",
        "injured_at", "injury_time_source", "transport", "unit", "hospital", "assigned_at",
        "on_scene_at", "departed_at", "arrived_at", "handed_over_at", "released_transports",
        "injury_to_triage_s", "triage_to_dispatch_s", "dispatch_to_on_scene_s",
        "on_scene_to_hospital_s", "injury_to_hospital_s"]
    by_tag = {row["tag"]: row for row in rows}
    assert set(by_tag) == {"R-1", "Y-1", "G-1", "B-1"}  # not the drill's casualty
    assert str(drill_casualty.pk) not in {row["casualty"] for row in rows}
    r1 = by_tag["R-1"]
    assert (r1["category"], r1["status"], r1["exercise"], r1["unit"], r1["hospital"],
            r1["injury_time_source"]) == ("red", "handed_over", "false", "WZ01", "TX1",
                                          "handover")
    assert datetime.fromisoformat(r1["arrived_at"]) == carried.arrived_at.replace(
        microsecond=carried.arrived_at.microsecond // 1000 * 1000)
    assert r1["arrived_at"].endswith("+08:00")
    assert float(r1["dispatch_to_on_scene_s"]) == pytest.approx(
        (carried.on_scene_at - carried.assigned_at).total_seconds(), abs=1e-3)
    assert float(r1["on_scene_to_hospital_s"]) == pytest.approx(
        (carried.arrived_at - carried.on_scene_at).total_seconds(), abs=1e-3)
    assert float(r1["injury_to_hospital_s"]) == pytest.approx(
        (carried.arrived_at - injured).total_seconds(), abs=1e-3)
    assert float(r1["injury_to_triage_s"]) == pytest.approx(
        (red.reported_at - injured).total_seconds(), abs=1e-3)
    y1 = by_tag["Y-1"]
    assert (y1["released_transports"], y1["unit"], y1["triage_to_dispatch_s"],
            y1["injury_to_hospital_s"]) == ("1", "", "", "")
    b1 = by_tag["B-1"]
    assert (b1["status"], b1["injury_to_triage_s"], b1["triage_to_dispatch_s"]) == (
        "reported", "0.000", "")

    units = list(csv.DictReader(io.StringIO(
        session.get(f"{live_hub.http_url}{status['files']['units.csv']}", timeout=10).text)))
    assert [u["unit"] for u in units] == ["WZ01", "WZ02"]
    wz01, wz02 = units
    assert (wz01["trips"], wz01["released"], wz02["trips"], wz02["released"]) == (
        "1", "0", "0", "1")
    assert 0 < float(wz01["busy_fraction"]) <= 1
    from ambulance.models import UnitStatusChange

    moves = dict(UnitStatusChange.objects.filter(unit=roles.unit).values_list(
        "to_status", "changed_at"))
    # Busy from its dispatch to its return to available, all of it inside the span.
    assert float(wz01["busy_s"]) == pytest.approx(
        (moves["available"] - moves["dispatched"]).total_seconds(), abs=1e-3)
    assert float(wz01["busy_fraction"]) == pytest.approx(
        float(wz01["busy_s"]) / float(wz01["span_s"]), abs=5e-3)  # figures rounded to ms

    html = session.get(f"{live_hub.http_url}{status['files']['html']}", timeout=10)
    assert html.headers["Content-Type"].startswith("text/html")
    assert "Asia/Shanghai (UTC+08:00)" in html.text
    assert "EXERCISE" not in html.text

    pdf = session.get(f"{live_hub.http_url}{status['files']['pdf']}", timeout=10)
    assert pdf.content.startswith(b"%PDF-")
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages]
    assert len(pages) >= 3  # intervals, hospital load, unit use
    assert "After-action report" in pages[0] and "WIC test" in pages[0]
    assert "Asia/Shanghai" in pages[0]
    assert "Key intervals by triage category" in pages[0]
    text = "\n".join(pages)
    assert "Hospital load" in text and "Unit use" in text and "TX1" in text
    assert "EXERCISE" not in text


def test_an_exercise_report_says_so_on_every_page_and_in_chinese(live_hub, roles, dispatcher):
    roles.event.is_exercise = True
    roles.event.save(update_fields=["is_exercise"])
    # An exercise event sends its patients to its own copies of the hospitals.
    roles.hospital.exercise_event = roles.event
    roles.hospital.save(update_fields=["exercise_event"])
    drive_event(live_hub, roles)
    session = log_in(live_hub.http_url, "dispatcher", language="zh-hans")
    status, _seen = build_report(session, live_hub.http_url)
    assert status["state"] == "done", status
    assert status["files"]["pdf"].endswith("/pdf")
    pdf = session.get(f"{live_hub.http_url}{status['files']['pdf']}", timeout=10)
    assert "exercise-wic-test-report.pdf" in pdf.headers["Content-Disposition"]
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages]
    assert len(pages) >= 3
    for number, text in enumerate(pages, 1):
        assert "EXERCISE" in text, f"page {number} is not marked"
    assert "事后评估报告" in pages[0]
    rows = list(csv.DictReader(io.StringIO(session.get(
        f"{live_hub.http_url}{status['files']['casualties.csv']}", timeout=10).text)))
    assert {row["exercise"] for row in rows} == {"true"}


def test_only_the_events_command_users_may_open_the_review_or_its_report(
        live_hub, roles, dispatcher):
    from command_center.models import MassEvent
    from hub.services import terminal_token_issue

    user_for_terminal("medic", "medic-1")
    other = MassEvent.objects.create(slug="other-event", name="Other", status="active")
    terminal_token_issue(kind="command", name="command-other", event=other)
    user_for_terminal("other-dispatcher", "command-other")
    owner = log_in(live_hub.http_url, "dispatcher")
    status, _seen = build_report(owner, live_hub.http_url)
    paths = ["/command/wic-test/review/",
             f"/command/wic-test/review/state?at={quote(datetime.now(UTC).isoformat())}",
             status["status_url"], status["files"]["pdf"], status["files"]["casualties.csv"]]
    for username in ("medic", "other-dispatcher"):
        session = log_in(live_hub.http_url, username)
        for path in paths:
            reply = session.get(f"{live_hub.http_url}{path}", timeout=10, allow_redirects=False)
            assert reply.status_code == 403, (username, path, reply.status_code)
        started = session.post(f"{live_hub.http_url}/command/wic-test/review/reports/",
                               timeout=10, headers={"X-CSRFToken": csrf(session)})
        assert started.status_code == 403
    anonymous = requests.get(f"{live_hub.http_url}/command/wic-test/review/", timeout=10,
                             allow_redirects=False)
    assert anonymous.status_code == 302 and "/login/" in anonymous.headers["Location"]
    for path in paths:
        assert owner.get(f"{live_hub.http_url}{path}", timeout=10).status_code == 200
    bad = owner.get(f"{live_hub.http_url}/command/wic-test/review/state?at=yesterday",
                    timeout=10)
    assert bad.status_code == 400 and bad.json()["error"].startswith("at:")


def test_a_failed_build_records_its_reason_and_a_silent_one_shows_as_failed(
        roles, monkeypatch):
    from command_center.models import ReviewReport
    from command_center.review import document
    from command_center.review.selectors import review_report_status
    from command_center.review.services import review_report_build

    now = datetime.now(UTC)
    report = ReviewReport.objects.create(event=roles.event, language="en",
                                         requested_by="dispatcher", requested_at=now,
                                         heartbeat_at=now)

    def no_pango(html: str) -> bytes:
        raise OSError("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr(document, "report_pdf", no_pango)
    review_report_build(report_id=report.pk)
    report.refresh_from_db()
    assert (report.state, report.step, report.progress) == ("failed", "failed", 75)
    assert report.error == "OSError: cannot load library 'libpango-1.0-0'"
    assert not report.pdf_file and report.finished_at is not None

    stalled = ReviewReport.objects.create(
        event=roles.event, language="en", requested_by="dispatcher", requested_at=now,
        heartbeat_at=now - timedelta(minutes=11), state="running", progress=40, step="plots")
    shown = review_report_status(report=stalled)
    assert (shown["state"], shown["progress"]) == ("failed", 40)
    assert shown["error"].startswith("interrupted")
    fresh = ReviewReport.objects.create(
        event=roles.event, language="en", requested_by="dispatcher", requested_at=now,
        heartbeat_at=now - timedelta(minutes=1), state="running", progress=40, step="plots")
    assert review_report_status(report=fresh)["state"] == "running"
