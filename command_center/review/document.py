"""The after-action report as documents: figures and plots from the timelines, then HTML,
PDF and CSV. No database here: the selectors hand over a ReportInput."""

import base64
import csv
import io
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import matplotlib
import matplotlib.dates as mdates
import numpy
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

# Figure objects, not pyplot: no global figure state, so builds in threads do not mix.
from matplotlib.figure import Figure

from command_center.review.intervals import (
    CATEGORIES,
    INTERVALS,
    CategoryFigures,
    UnitUse,
    arrivals,
    beds_claimed,
    busy_seconds,
    casualty_intervals,
    category_figures,
)
from command_center.review.selectors import EVENT_TIME_ZONE, ReportInput

Progress = Callable[[int, str], None]

# WeasyPrint logs every layout step at INFO: one line per page of every report.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

CATEGORY_COLOURS = {"red": "#c62828", "yellow": "#f9a825", "green": "#2e7d32", "black": "#263238"}
# Noto Sans CJK comes with the hub's Debian packages: the plots' Chinese labels need it.
matplotlib.rcParams["font.family"] = ["Noto Sans CJK SC", "DejaVu Sans"]
matplotlib.rcParams["svg.hashsalt"] = "mci-hub-report"  # the same figures give the same SVG

CASUALTY_COLUMNS = (
    "casualty", "tag", "category", "status", "exercise", "reported_at", "triaged_at",
    "injured_at", "injury_time_source", "transport", "unit", "hospital", "assigned_at",
    "on_scene_at", "departed_at", "arrived_at", "handed_over_at", "released_transports",
    *(f"{name}_s" for name in INTERVALS),
)
UNIT_COLUMNS = ("unit", "level", "exercise", "busy_s", "span_s", "busy_fraction", "trips",
                "released")


FILE_SUFFIXES = {"html": "report.html", "pdf": "report.pdf",
                 "casualties.csv": "casualties.csv", "units.csv": "units.csv"}


def file_name(*, slug: str, is_exercise: bool, kind: str) -> str:
    """What a report's file is called when saved: an exercise's files say so in the name."""
    return f"{'exercise-' if is_exercise else ''}{slug}-{FILE_SUFFIXES[kind]}"


def category_label(category: str) -> str:
    return {"red": _("Immediate (red)"), "yellow": _("Delayed (yellow)"),
            "green": _("Minor (green)"), "black": _("Expectant (black)")}[category]


def interval_label(name: str) -> str:
    return {"injury_to_triage": _("Injury → triage"),
            "triage_to_dispatch": _("Triage → dispatch"),
            "dispatch_to_on_scene": _("Dispatch → on scene"),
            "on_scene_to_hospital": _("On scene → at hospital"),
            "injury_to_hospital": _("Injury → at hospital")}[name]


def local_time(moment: datetime | None) -> str:
    return moment.astimezone(EVENT_TIME_ZONE).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def zone_name(moment: datetime) -> str:
    offset = moment.astimezone(EVENT_TIME_ZONE).strftime("%z")
    return f"{EVENT_TIME_ZONE.key} (UTC{offset[:3]}:{offset[3:]})"


def duration(seconds: float | None) -> str:
    """Minutes and seconds, m:ss; an hour or more as h:mm:ss."""
    if seconds is None:
        return "–"
    sign = "-" if seconds < 0 else ""
    whole = round(abs(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


def _csv_time(moment: datetime | None) -> str:
    return moment.astimezone(EVENT_TIME_ZONE).isoformat(timespec="milliseconds") if moment else ""


def _csv_seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def unit_uses(report: ReportInput) -> list[UnitUse]:
    span = (report.end - report.start).total_seconds()
    return [
        UnitUse(
            unit=unit.callsign,
            busy_seconds=busy_seconds(status_at_start=unit.status_at_start,
                                      changes=unit.changes, start=report.start, end=report.end),
            span_seconds=span,
            trips=sum(1 for t in unit.transports if t.arrived_at is not None),
            released=sum(1 for t in unit.transports if t.cancelled_at is not None),
        )
        for unit in report.units
    ]


def casualties_csv(report: ReportInput) -> str:
    """One row per casualty: its timestamps (event local time, with offset) and intervals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CASUALTY_COLUMNS)
    exercise = "true" if report.event.is_exercise else "false"
    for timeline in report.casualties:
        carrying = timeline.carrying_transport
        intervals = casualty_intervals(timeline)
        writer.writerow([
            timeline.casualty, timeline.tag, timeline.category, timeline.status, exercise,
            _csv_time(timeline.reported_at), _csv_time(timeline.triaged_at),
            _csv_time(timeline.injured_at),
            "handover" if timeline.injury_stated_at else "report",
            carrying.transport if carrying else "", carrying.unit if carrying else "",
            carrying.hospital if carrying else "",
            _csv_time(carrying.assigned_at if carrying else None),
            _csv_time(carrying.on_scene_at if carrying else None),
            _csv_time(carrying.departed_at if carrying else None),
            _csv_time(carrying.arrived_at if carrying else None),
            _csv_time(carrying.handed_over_at if carrying else None),
            timeline.released_transports,
            *(_csv_seconds(intervals[name]) for name in INTERVALS),
        ])
    return out.getvalue()


def units_csv(report: ReportInput, uses: list[UnitUse]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(UNIT_COLUMNS)
    exercise = "true" if report.event.is_exercise else "false"
    levels = {unit.callsign: unit.level for unit in report.units}
    for use in uses:
        writer.writerow([use.unit, levels[use.unit], exercise, f"{use.busy_seconds:.3f}",
                         f"{use.span_seconds:.3f}", f"{use.busy_fraction:.4f}", use.trips,
                         use.released])
    return out.getvalue()


def _svg_data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def intervals_plot(figures: list[CategoryFigures]) -> str:
    """Median bars per interval and category, p90 as a whisker above each bar."""
    figure = Figure(figsize=(9, 3.6))
    axes = figure.subplots()
    width = 0.2
    for index, row in enumerate(figures):
        xs = [i + (index - 1.5) * width for i in range(len(INTERVALS))]
        medians = [(row.intervals[n].median or 0) / 60 for n in INTERVALS]
        p90s = [(row.intervals[n].p90 or 0) / 60 for n in INTERVALS]
        axes.bar(xs, medians, width, color=CATEGORY_COLOURS[row.category],
                 label=category_label(row.category))
        whiskers = numpy.array([[0.0] * len(xs), [p - m for p, m in zip(p90s, medians,
                                                                       strict=True)]])
        axes.errorbar(xs, medians, yerr=whiskers, fmt="none", ecolor="#555", capsize=3,
                      linewidth=1)
    axes.set_xticks(range(len(INTERVALS)), [interval_label(n) for n in INTERVALS], fontsize=8)
    axes.set_ylabel(_("minutes (bar: median, whisker: p90)"))
    axes.legend(fontsize=7, ncols=4, loc="upper left")
    axes.grid(axis="y", alpha=0.3)
    return _svg_data_uri(figure)


def _time_axis(axes: Any, report: ReportInput) -> None:
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=EVENT_TIME_ZONE))
    axes.set_xlim(float(mdates.date2num(report.start)), float(mdates.date2num(report.end)))
    axes.set_xlabel(_("local time, {zone}").format(zone=zone_name(report.start)))
    axes.grid(alpha=0.3)


def _plot_times(times: list[datetime]) -> numpy.ndarray:
    return numpy.array(mdates.date2num(times))


def _extended(series: list[tuple[datetime, int]], report: ReportInput
              ) -> tuple[numpy.ndarray, list[int]]:
    """A step series from the span's start to its end, so that the line covers the plot."""
    times = [report.start, *(at for at, _value in series), report.end]
    values = [0, *(value for _at, value in series)]
    values.append(values[-1])
    return _plot_times(times), values


def hospital_plot(report: ReportInput, code: str) -> str:
    hospital = next(h for h in report.hospitals if h.code == code)
    figure = Figure(figsize=(9, 2.8))
    axes = figure.subplots()
    if hospital.capacity:
        times = [max(c[0], report.start) for c in hospital.capacity] + [report.end]
        free = [c[1] + c[2] + c[3] for c in hospital.capacity]
        free.append(free[-1])
        axes.step(_plot_times(times), free, where="post", color="#0b5cad",
                  label=_("free beds reported (all categories)"))
    claimed_times, claimed = _extended(beds_claimed(hospital.transports), report)
    axes.step(claimed_times, claimed, where="post", color="#c62828",
              label=_("beds claimed by this event's transports"))
    arrival_times, arrived = _extended(arrivals(hospital.transports), report)
    axes.step(arrival_times, arrived, where="post", color="#2e7d32", linestyle="--",
              label=_("arrivals (cumulative)"))
    _time_axis(axes, report)
    axes.set_ylabel(_("patients / beds"))
    axes.legend(fontsize=7, loc="upper left")
    return _svg_data_uri(figure)


def unit_use_plot(uses: list[UnitUse]) -> str:
    figure = Figure(figsize=(9, max(1.6, 0.22 * len(uses) + 0.8)))
    axes = figure.subplots()
    names = [use.unit for use in uses]
    axes.barh(names, [use.busy_fraction * 100 for use in uses], color="#0b5cad")
    axes.set_xlim(0, 100)
    axes.invert_yaxis()
    axes.set_xlabel(_("time busy, % of the event"))
    axes.tick_params(axis="y", labelsize=7)
    axes.grid(axis="x", alpha=0.3)
    return _svg_data_uri(figure)


def report_context(report: ReportInput, progress: Progress) -> dict[str, Any]:
    """Every figure the HTML shows, computed once for both the HTML and the PDF."""
    figures = category_figures(report.casualties)
    progress(35, "figures")
    uses = unit_uses(report)
    event = report.event
    language = translation.get_language()
    rows = [{
        "category": row.category, "label": category_label(row.category), "count": row.count,
        "transported": row.transported, "never_transported": row.never_transported,
        "released": row.released, "injury_stated": row.injury_stated,
        "intervals": [{"label": interval_label(name), "n": row.intervals[name].n,
                       "median": duration(row.intervals[name].median),
                       "p90": duration(row.intervals[name].p90),
                       "max": duration(row.intervals[name].max)} for name in INTERVALS],
    } for row in figures]
    plots = {"intervals": intervals_plot(figures)}
    progress(50, "plots")
    hospitals = []
    for hospital in report.hospitals:
        reported_free = [c[1] + c[2] + c[3] for c in hospital.capacity]
        claimed = beds_claimed(hospital.transports)
        hospitals.append({
            "code": hospital.code,
            "name": hospital.name_zh if language == "zh-hans" and hospital.name_zh
            else hospital.name,
            "arrivals": [hospital.arrivals_by_category.get(c, 0) for c in CATEGORIES[:3]],
            "arrivals_total": sum(hospital.arrivals_by_category.values()),
            "peak_claimed": max((value for _at, value in claimed), default=0),
            "capacity_reports": len(hospital.capacity),
            "least_free": min(reported_free) if reported_free else None,
            "plot": hospital_plot(report, hospital.code),
        })
    progress(65, "hospitals")
    plots["units"] = unit_use_plot(uses) if uses else ""
    return {
        "event": event,
        "event_name": event.name_zh if language == "zh-hans" and event.name_zh else event.name,
        "start": local_time(report.start), "end": local_time(report.end),
        "zone": zone_name(report.start),
        "duration": duration((report.end - report.start).total_seconds()),
        "casualty_total": len(report.casualties),
        "categories": rows, "interval_names": [interval_label(n) for n in INTERVALS],
        "hospitals": hospitals,
        "units": [{"unit": use.unit, "busy": f"{use.busy_fraction * 100:.0f}",
                   "busy_time": duration(use.busy_seconds), "trips": use.trips,
                   "released": use.released} for use in uses],
        "plots": plots,
    }


def report_html(context: dict[str, Any], *, for_pdf: bool, generated_at: datetime) -> str:
    return render_to_string("command_center/report.html", {
        **context, "for_pdf": for_pdf, "generated_at": local_time(generated_at),
    })


def report_pdf(html: str) -> bytes:
    # Imported here: WeasyPrint loads pango at import, which only the report build needs.
    from weasyprint import CSS, HTML

    stylesheet = finders.find("command_center/report.css")
    assert isinstance(stylesheet, str), "command_center/report.css is missing"
    document = HTML(string=html, base_url=None).render(stylesheets=[CSS(filename=stylesheet)])
    pdf = document.write_pdf()
    assert pdf is not None
    return pdf
