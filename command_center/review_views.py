"""The after-action review: the replay page, its picture at a moment, the report builds."""

from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from command_center.models import MassEvent, ReviewReport
from command_center.review.document import file_name
from command_center.review.selectors import (
    EVENT_TIME_ZONE,
    review_event,
    review_report_get,
    review_report_status,
    review_reports,
    review_span,
    review_state_at,
)
from command_center.review.services import review_report_request
from command_center.views import CONSOLE_STRINGS
from hub.selectors import terminal_for_user
from hub.timefmt import iso_millis

REVIEW_STRINGS = {
    **{key: value for key, value in CONSOLE_STRINGS.items()
       if key.split(".")[0] in ("category", "short", "status", "unit")},
    "play": _("Play"), "pause": _("Pause"), "beds": _("beds"), "diversion": _("DIVERSION"),
    "beds.unknown": _("no report yet"), "none": _("none"),
    "journal.empty": _("No journal entries within 5 minutes"),
    "report.queued": _("Queued"), "report.running": _("Building: {progress}% ({step})"),
    "report.done": _("Ready"), "report.failed": _("Failed: {error}"),
    "report.html": _("HTML"), "report.pdf": _("PDF"),
    "report.casualties_csv": _("Casualties CSV"), "report.units_csv": _("Units CSV"),
    "step.queued": _("queued"), "step.collecting": _("collecting"),
    "step.collected": _("collected"), "step.figures": _("intervals"),
    "step.plots": _("plots"), "step.hospitals": _("hospital load"), "step.pdf": _("PDF"),
    "step.csv": _("CSV"), "step.done": _("done"), "step.failed": _("failed"),
    "load_failed": _("Could not load this moment ({status})"),
}
REPORT_FILES = {"html": "html_file", "pdf": "pdf_file", "casualties.csv": "casualties_csv",
                "units.csv": "units_csv"}
REPORT_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
                "casualties.csv": "text/csv; charset=utf-8",
                "units.csv": "text/csv; charset=utf-8"}


def _reviewable(request: HttpRequest, slug: str) -> MassEvent | HttpResponse:
    assert request.user.pk is not None  # login_required
    terminal = terminal_for_user(user_id=request.user.pk)
    event = review_event(terminal=terminal, slug=slug)
    if event is None:
        return render(request, "command_center/unavailable.html", {
            "message": _("Only the command console of this event may review it."),
        }, status=403)
    return event


def _report_row(event: MassEvent, report: ReviewReport) -> dict[str, object]:
    status = review_report_status(report=report)
    status["status_url"] = reverse("review-report-status", args=[event.slug, report.pk])
    status["files"] = {
        kind: reverse("review-report-file", args=[event.slug, report.pk, kind])
        for kind in REPORT_FILES
    } if status["state"] == ReviewReport.State.DONE else {}
    return status


@login_required
@require_GET
def review(request: HttpRequest, slug: str) -> HttpResponse:
    event = _reviewable(request, slug)
    if isinstance(event, HttpResponse):
        return event
    start, end = review_span(event=event)
    return render(request, "command_center/review.html", {
        "event": event,
        "setup": {
            "event": {"slug": event.slug, "is_exercise": event.is_exercise},
            "start": iso_millis(start), "end": iso_millis(end),
            "time_zone": EVENT_TIME_ZONE.key,
            "state_url": reverse("review-state", args=[event.slug]),
            "reports_url": reverse("review-reports", args=[event.slug]),
            "reports": [_report_row(event, r) for r in review_reports(event=event)],
        },
        "strings": {key: str(value) for key, value in REVIEW_STRINGS.items()},
    })


@login_required
@require_GET
def review_state(request: HttpRequest, slug: str) -> HttpResponse:
    event = _reviewable(request, slug)
    if isinstance(event, HttpResponse):
        return event
    raw = request.GET.get("at", "")
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return JsonResponse({"error": f"at: {raw!r} is not an ISO 8601 time"}, status=400)
    if at.tzinfo is None:
        return JsonResponse({"error": f"at: {raw!r} has no time zone"}, status=400)
    return JsonResponse(review_state_at(event=event, at=at))


@login_required
@require_POST
def review_report_start(request: HttpRequest, slug: str) -> HttpResponse:
    event = _reviewable(request, slug)
    if isinstance(event, HttpResponse):
        return event
    report = review_report_request(event=event, requested_by=request.user.get_username(),
                                   language=translation.get_language() or "en")
    return JsonResponse(_report_row(event, report), status=202)


@login_required
@require_GET
def review_report_progress(request: HttpRequest, slug: str, report_id: int) -> HttpResponse:
    event = _reviewable(request, slug)
    if isinstance(event, HttpResponse):
        return event
    report = review_report_get(event=event, report_id=report_id)
    if report is None:
        return JsonResponse({"error": f"report: no report {report_id} of {slug}"}, status=404)
    return JsonResponse(_report_row(event, report))


@login_required
@require_GET
def review_report_file(request: HttpRequest, slug: str, report_id: int, kind: str
                       ) -> HttpResponseBase:
    event = _reviewable(request, slug)
    if isinstance(event, HttpResponse):
        return event
    report = review_report_get(event=event, report_id=report_id)
    if report is None or kind not in REPORT_FILES or report.state != ReviewReport.State.DONE:
        return JsonResponse({"error": f"report: no {kind} of report {report_id}"}, status=404)
    stored = getattr(report, REPORT_FILES[kind])
    # The storage may have suffixed the stored name; the download gets the plain one.
    name = file_name(slug=event.slug, is_exercise=event.is_exercise, kind=kind)
    return FileResponse(stored.open("rb"), content_type=REPORT_TYPES[kind],
                        as_attachment=kind != "html", filename=name)
