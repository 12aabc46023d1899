"""How the replay and the report cope with a large event: prints figures, asserts nothing.

    .venv/bin/python -m command_center.review.bench [--casualties 3000] [--units 120]
        [--fixes-per-unit 6000] [--vitals-per-casualty 80]

Builds a throw-away database (test_review_bench) with one synthetic event, about a million
journal entries with the defaults (unit positions, vitals, the event's own messages) and the
history rows the services would have written, then times the replay's picture at a few
moments and the report's build. The database is dropped at the end.
"""

import argparse
import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import django

START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def populate(*, casualties: int, units: int, fixes_per_unit: int, vitals_per_casualty: int
             ) -> object:
    from django.contrib.gis.geos import Point
    from django.db import connection

    from ambulance.models import Station, Transport, Unit, UnitStatusChange
    from command_center.models import MassEvent
    from field_terminal.models import Casualty, CasualtyStatusChange, TriageAssessment
    from hospital_intake.models import CapacityReport, Hospital
    from hub.models import Terminal

    rng = random.Random(7)
    event = MassEvent.objects.create(slug="bench", name="Bench event", status="closed")
    medic = Terminal.objects.create(kind="field", name="bench-medic", event=event)
    station = Station.objects.create(code="BST", name="Bench station",
                                     location=Point(120.49, 30.744, srid=4326))
    fleet = Unit.objects.bulk_create([
        Unit(callsign=f"B{i:03d}", level="ALS" if i % 3 else "BLS", station=station,
             event=event) for i in range(units)])
    hospitals = Hospital.objects.bulk_create([
        Hospital(code=f"BH{i}", name=f"Bench hospital {i}",
                 location=Point(120.5 + i / 20, 30.7, srid=4326), beds_red=50, beds_yellow=100,
                 beds_green=300) for i in range(4)])
    CapacityReport.objects.bulk_create([
        CapacityReport(hospital=h, beds_red=50 - k, beds_yellow=100 - k, beds_green=300 - k,
                       diversion=False, reported_by="bench",
                       reported_at=START + timedelta(minutes=10 * k))
        for h in hospitals for k in range(24)])
    rows, statuses, triages, transports, moves = [], [], [], [], []
    for index in range(casualties):
        reported = START + timedelta(seconds=rng.uniform(0, 7200))
        category = rng.choices(("red", "yellow", "green", "black"), (2, 3, 6, 1))[0]
        casualty = Casualty(
            id=uuid.uuid4(), event=event, tag=f"B-{index:05d}", category=category,
            location=Point(120.48 + rng.random() / 100, 30.74 + rng.random() / 100, srid=4326),
            triage_method="START", reported_by=medic, reported_at=reported,
            status="reported" if category == "black" else "handed_over",
            status_changed_at=reported)
        rows.append(casualty)
        triages.append(TriageAssessment(casualty=casualty, category=category, method="START",
                                        assessed_by="bench-medic", assessed_at=reported))
        if category == "black":
            continue
        assigned = reported + timedelta(minutes=rng.uniform(1, 30))
        on_scene = assigned + timedelta(minutes=rng.uniform(4, 15))
        departed = on_scene + timedelta(minutes=2)
        arrived = departed + timedelta(minutes=rng.uniform(8, 30))
        handed = arrived + timedelta(minutes=5)
        unit = fleet[index % units]
        transports.append(Transport(
            casualty=casualty, unit=unit, hospital=hospitals[index % len(hospitals)],
            status="handed_over", assigned_by="bench", assigned_at=assigned,
            on_scene_at=on_scene, departed_at=departed, arrived_at=arrived,
            handed_over_at=handed))
        for (frm, to), at in zip(
                (("reported", "awaiting_transport"), ("awaiting_transport", "assigned"),
                 ("assigned", "en_route"), ("en_route", "arrived"),
                 ("arrived", "handed_over")),
                (reported, assigned, departed, arrived, handed), strict=True):
            statuses.append(CasualtyStatusChange(casualty=casualty, from_status=frm,
                                                 to_status=to, changed_by="bench",
                                                 changed_at=at))
        for frm, to, at in (("available", "dispatched", assigned),
                            ("dispatched", "on_scene", on_scene),
                            ("on_scene", "transporting", departed),
                            ("transporting", "at_hospital", arrived),
                            ("at_hospital", "available", handed)):
            moves.append(UnitStatusChange(unit=unit, from_status=frm, to_status=to,
                                          changed_by="bench", changed_at=at))
    Casualty.objects.bulk_create(rows, batch_size=2000)
    TriageAssessment.objects.bulk_create(triages, batch_size=2000)
    CasualtyStatusChange.objects.bulk_create(statuses, batch_size=5000)
    Transport.objects.bulk_create(transports, batch_size=2000)
    UnitStatusChange.objects.bulk_create(moves, batch_size=5000)

    with connection.cursor() as cursor:
        # Positions: the bulk of a real journal, and of the position history.
        cursor.execute("""
            INSERT INTO hub_journalentry (topic, seq, type, client_id, terminal_id, sender,
                                          data, stored_at)
            SELECT 'unit:' || u.callsign, g, 'position', md5(u.id || '-' || g), NULL,
                   'amb-' || u.callsign,
                   jsonb_build_object('lat', 30.74 + (g %% 100) / 1000.0,
                                      'lon', 120.48 + (g %% 100) / 1000.0),
                   %s + g * interval '2 seconds'
            FROM ambulance_unit u, generate_series(1, %s) g WHERE u.event_id = %s
        """, [START, fixes_per_unit, event.pk])
        cursor.execute("""
            INSERT INTO ambulance_unitposition (unit_id, measured_at, received_at, location)
            SELECT u.id, %s + g * interval '2 seconds', %s + g * interval '2 seconds',
                   ST_SetSRID(ST_MakePoint(120.48 + (g %% 100) / 1000.0,
                                           30.74 + (g %% 100) / 1000.0), 4326)
            FROM ambulance_unit u, generate_series(1, %s) g WHERE u.event_id = %s
        """, [START, START, fixes_per_unit, event.pk])
        cursor.execute("""
            INSERT INTO hub_journalentry (topic, seq, type, client_id, terminal_id, sender,
                                          data, stored_at)
            SELECT 'casualty:' || c.id, g, 'vitals', md5(c.id || '-' || g), NULL,
                   'bench-medic', jsonb_build_object('hr', 80 + g %% 40),
                   c.reported_at + g * interval '30 seconds'
            FROM field_terminal_casualty c, generate_series(1, %s) g WHERE c.event_id = %s
        """, [vitals_per_casualty, event.pk])
        # The event topic: each casualty's report and status moves, in time order.
        cursor.execute("""
            INSERT INTO hub_journalentry (topic, seq, type, client_id, terminal_id, sender,
                                          data, stored_at)
            SELECT %s, row_number() OVER (ORDER BY at, id), type, md5(id || type || at),
                   NULL, 'hub', data, at
            FROM (
              SELECT c.id::text AS id, 'casualty.report' AS type, c.reported_at AS at,
                     jsonb_build_object('casualty', c.id, 'category', c.category) AS data
              FROM field_terminal_casualty c WHERE c.event_id = %s
              UNION ALL
              SELECT s.casualty_id::text, 'casualty.status', s.changed_at,
                     jsonb_build_object('casualty', s.casualty_id, 'to', s.to_status)
              FROM field_terminal_casualtystatuschange s
              JOIN field_terminal_casualty c ON c.id = s.casualty_id WHERE c.event_id = %s
            ) moves
        """, [event.topic, event.pk, event.pk])
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM hub_journalentry")
        print(f"journal entries: {cursor.fetchone()[0]}", flush=True)
        cursor.execute("SELECT count(*) FROM ambulance_unitposition")
        print(f"unit positions:  {cursor.fetchone()[0]}")
    return event


def measure(event: object, moments: int) -> None:
    from django.utils import translation

    from command_center.review import document
    from command_center.review.selectors import (
        review_journal_around,
        review_report_input,
        review_span,
        review_state_at,
    )

    start, end = review_span(event=event)  # type: ignore[arg-type]
    print(f"span: {start.isoformat()} .. {end.isoformat()}")
    timings, journal_timings, sizes = [], [], []
    for step in range(moments):
        at = start + (end - start) * (step + 0.5) / moments
        began = time.perf_counter()
        picture = review_state_at(event=event, at=at)  # type: ignore[arg-type]
        timings.append((time.perf_counter() - began) * 1000)
        sizes.append(len(json.dumps(picture)))
        began = time.perf_counter()
        review_journal_around(event=event, at=at)  # type: ignore[arg-type]
        journal_timings.append((time.perf_counter() - began) * 1000)
    print(f"picture at a moment ({moments} moments): median {statistics.median(timings):.0f} ms,"
          f" max {max(timings):.0f} ms; of which journal panel median "
          f"{statistics.median(journal_timings):.0f} ms; JSON median "
          f"{statistics.median(sizes) / 1024:.0f} KiB, max {max(sizes) / 1024:.0f} KiB")
    began = time.perf_counter()
    data = review_report_input(event=event)  # type: ignore[arg-type]
    collected = time.perf_counter()
    with translation.override("en"):
        context = document.report_context(data, lambda percent, step: None)
        html = document.report_html(context, for_pdf=True, generated_at=datetime.now(UTC))
        rendered = time.perf_counter()
        pdf = document.report_pdf(html)
    printed = time.perf_counter()
    casualties_csv = document.casualties_csv(data)
    done = time.perf_counter()
    print(f"report: collect {collected - began:.1f} s, figures+plots+HTML "
          f"{rendered - collected:.1f} s, PDF {printed - rendered:.1f} s "
          f"({len(pdf) / 1024:.0f} KiB), CSV {done - printed:.2f} s "
          f"({len(casualties_csv) / 1024:.0f} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--casualties", type=int, default=3000)
    parser.add_argument("--units", type=int, default=120)
    parser.add_argument("--fixes-per-unit", type=int, default=6000)
    parser.add_argument("--vitals-per-casualty", type=int, default=80)
    parser.add_argument("--moments", type=int, default=20)
    parser.add_argument("--keep", action="store_true",
                        help="leave the database test_review_bench for inspection")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
    os.environ.setdefault("SECRET_KEY", "review-bench-secret-key-not-for-production-0123456789")
    django.setup()
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = "test_review_bench"
    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        began = time.perf_counter()
        event = populate(casualties=options.casualties, units=options.units,
                         fixes_per_unit=options.fixes_per_unit,
                         vitals_per_casualty=options.vitals_per_casualty)
        print(f"populated in {time.perf_counter() - began:.0f} s")
        measure(event, options.moments)
    finally:
        if not options.keep:
            connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
