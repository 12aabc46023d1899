"""The after-action intervals on a hand-built timeline whose answers are worked out by hand."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from command_center.review.intervals import (
    CasualtyTimeline,
    TransportTimeline,
    arrivals,
    beds_claimed,
    busy_seconds,
    casualty_intervals,
    category_figures,
    injury_time,
    nearest_rank,
    summarise,
)

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def carried(transport: int, assigned: float, on_scene: float, arrived: float | None,
            unit: str = "WZ01", hospital: str = "TX1") -> TransportTimeline:
    return TransportTimeline(
        transport=transport, unit=unit, hospital=hospital, assigned_at=at(assigned),
        on_scene_at=at(on_scene), departed_at=at(on_scene + 1),
        arrived_at=at(arrived) if arrived is not None else None,
        handed_over_at=at(arrived + 2) if arrived is not None else None,
    )


def released(transport: int, assigned: float, cancelled: float,
             hospital: str = "TX1") -> TransportTimeline:
    return TransportTimeline(transport=transport, unit="WZ02", hospital=hospital,
                             assigned_at=at(assigned), cancelled_at=at(cancelled))


def casualty(name: str, category: str, reported: float, transports=(),
             injured: float | None = None, status: str = "handed_over") -> CasualtyTimeline:
    return CasualtyTimeline(
        casualty=name, tag=name, category=category, status=status, reported_at=at(reported),
        triaged_at=at(reported), injury_stated_at=at(injured) if injured is not None else None,
        transports=tuple(transports),
    )


# Red: three casualties carried, one of them after a released first transport.
RED_A = casualty("R1", "red", 0, [carried(1, 2, 10, 30)], injured=-5)
RED_B = casualty("R2", "red", 1, [released(2, 3, 4), carried(3, 6, 12, 40)])
RED_C = casualty("R3", "red", 2, [carried(4, 12, 20, 50)])
# Yellow: one carried, one never transported (still waiting at the end).
YELLOW_A = casualty("Y1", "yellow", 0, [carried(5, 20, 30, 55)])
YELLOW_B = casualty("Y2", "yellow", 5, status="awaiting_transport")
# Black: expectant, left on scene.
BLACK_A = casualty("B1", "black", 3, status="reported")
TIMELINE = [RED_A, RED_B, RED_C, YELLOW_A, YELLOW_B, BLACK_A]


def test_intervals_of_a_carried_casualty_use_the_stated_injury_time():
    assert casualty_intervals(RED_A) == {
        "injury_to_triage": 300.0, "triage_to_dispatch": 120.0,
        "dispatch_to_on_scene": 480.0, "on_scene_to_hospital": 1200.0,
        "injury_to_hospital": 2100.0,
    }


def test_a_released_transport_does_not_count_the_carrying_one_does():
    intervals = casualty_intervals(RED_B)
    carrying = RED_B.carrying_transport
    assert carrying is not None and carrying.transport == 3
    assert RED_B.released_transports == 1
    # Triage at minute 1, the carrying assignment at 6: the release cost the wait.
    assert intervals["triage_to_dispatch"] == 300.0
    assert intervals["dispatch_to_on_scene"] == 360.0
    # No injury time stated: the report is the first known moment.
    assert intervals["injury_to_triage"] == 0.0
    assert intervals["injury_to_hospital"] == 39 * 60.0


def test_a_casualty_never_transported_has_only_injury_to_triage():
    intervals = casualty_intervals(YELLOW_B)
    assert intervals["injury_to_triage"] == 0.0
    assert [intervals[name] for name in ("triage_to_dispatch", "dispatch_to_on_scene",
                                         "on_scene_to_hospital", "injury_to_hospital")] == [
        None, None, None, None]


def test_a_transport_on_scene_but_not_arrived_has_no_hospital_interval():
    on_the_way = casualty("R9", "red", 0, [carried(9, 1, 5, None)], status="en_route")
    intervals = casualty_intervals(on_the_way)
    assert intervals["dispatch_to_on_scene"] == 240.0
    assert intervals["on_scene_to_hospital"] is None
    assert intervals["injury_to_hospital"] is None


def test_only_released_transports_mean_never_transported():
    waiting = casualty("Y3", "yellow", 0, [released(7, 1, 2), released(8, 3, 4)],
                       status="awaiting_transport")
    assert waiting.carrying_transport is None
    assert waiting.released_transports == 2
    assert casualty_intervals(waiting)["triage_to_dispatch"] is None


def test_category_figures_count_and_summarise_per_category():
    red, yellow, green, black = category_figures(TIMELINE)
    assert (red.category, red.count, red.transported, red.never_transported, red.released,
            red.injury_stated) == ("red", 3, 3, 0, 1, 1)
    # Triage -> dispatch of R1, R2, R3: 2, 5 and 10 minutes.
    dispatch = red.intervals["triage_to_dispatch"]
    assert (dispatch.n, dispatch.median, dispatch.p90, dispatch.max) == (3, 300.0, 600.0, 600.0)
    # Injury -> hospital: R1 35 min (stated injury at -5), R2 39, R3 48.
    hospital = red.intervals["injury_to_hospital"]
    assert (hospital.median, hospital.p90, hospital.max) == (39 * 60.0, 48 * 60.0, 48 * 60.0)
    assert (yellow.count, yellow.transported, yellow.never_transported) == (2, 1, 1)
    assert yellow.intervals["triage_to_dispatch"].n == 1
    assert yellow.intervals["injury_to_triage"].n == 2
    assert (green.count, green.intervals["injury_to_hospital"].median) == (0, None)
    assert (black.count, black.transported, black.never_transported) == (1, 0, 1)
    assert black.intervals["triage_to_dispatch"].n == 0


def test_percentiles_are_nearest_rank_and_the_median_of_an_even_count_is_the_mean():
    values = [float(v) for v in range(1, 11)]
    assert nearest_rank(values, 0.9) == 9.0
    assert nearest_rank([5.0], 0.9) == 5.0
    assert nearest_rank([3.0, 1.0, 2.0], 0.5) == 2.0
    summary = summarise([4.0, None, 1.0, 2.0, 3.0])
    assert (summary.n, summary.median, summary.p90, summary.max) == (4, 2.5, 4.0, 4.0)
    assert summarise([None, None]).n == 0


def test_injury_time_reads_clock_times_in_the_event_zone_and_iso_times():
    reported = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)  # 09:30 local
    assert injury_time(stated="09:02", reported_at=reported, zone=SHANGHAI) == datetime(
        2026, 11, 20, 1, 2, tzinfo=UTC)
    # Later than the report on the clock: it was the day before.
    assert injury_time(stated="23:50", reported_at=reported, zone=SHANGHAI) == datetime(
        2026, 11, 19, 15, 50, tzinfo=UTC)
    assert injury_time(stated="2026-11-20T09:10:00+08:00", reported_at=reported,
                       zone=SHANGHAI) == datetime(2026, 11, 20, 1, 10, tzinfo=UTC)
    for unreadable in ("about 9", "unknown", "25:00", "2026-11-20T09:10:00", ""):
        assert injury_time(stated=unreadable, reported_at=reported, zone=SHANGHAI) is None


def test_busy_time_counts_dispatched_to_returning_inside_the_span():
    changes = [(at(-5), "dispatched"), (at(-1), "available"), (at(10), "dispatched"),
               (at(15), "on_scene"), (at(20), "transporting"), (at(30), "at_hospital"),
               (at(35), "returning"), (at(45), "available"), (at(50), "out_of_service")]
    # Busy 10..45 = 35 min of the 60-minute span; the moves before the span set its start.
    assert busy_seconds(status_at_start="available", changes=changes, start=at(0),
                        end=at(60)) == 35 * 60.0
    # Busy at the span's start and still busy at its end.
    assert busy_seconds(status_at_start="on_scene", changes=[(at(5), "transporting")],
                        start=at(0), end=at(20)) == 20 * 60.0
    assert busy_seconds(status_at_start="available", changes=[], start=at(0),
                        end=at(20)) == 0.0


def test_beds_claimed_drop_with_a_release_and_arrivals_accumulate():
    transports = [carried(1, 2, 10, 30), released(2, 3, 4), carried(3, 6, 12, 40)]
    assert beds_claimed(transports) == [(at(2), 1), (at(3), 2), (at(4), 1), (at(6), 2)]
    assert arrivals(transports) == [(at(30), 1), (at(40), 2)]
    # Two changes at one moment make one step.
    same_moment = [released(4, 1, 5), carried(5, 5, 8, None)]
    assert beds_claimed(same_moment) == [(at(1), 1), (at(5), 1)]
