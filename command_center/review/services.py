"""Writes of the after-action review: asking for a report and building it.

A build runs in a process of its own (`manage.py review_report_build`), as the dispatch
worker does, so that seconds of plotting and PDF layout never hold up a server's event loop.
The ReviewReport row carries its state, progress and files, so a reloaded page (or another
dispatcher) finds it where it is, and a build whose process died shows as failed once it
stops beating (selectors.STALE_BUILD).
"""

import logging
import subprocess
import sys

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation

from command_center.models import MassEvent, ReviewReport
from command_center.review import document
from command_center.review.selectors import review_report_input

logger = logging.getLogger(__name__)


def review_report_request(*, event: MassEvent, requested_by: str, language: str
                          ) -> ReviewReport:
    """Queue a build of the event's report in `language` and start it after commit."""
    now = timezone.now()
    report = ReviewReport.objects.create(
        event=event, language=language, requested_by=requested_by, requested_at=now,
        heartbeat_at=now, step="queued",
    )
    transaction.on_commit(lambda: _start_build(report.pk))
    return report


def _start_build(report_id: int) -> None:
    # Its own session: a server restart does not take a running build down with it. Its log
    # goes where the server's goes.
    try:
        subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "review_report_build",
             str(report_id)],
            cwd=settings.BASE_DIR, start_new_session=True, stdin=subprocess.DEVNULL,
        )
    except OSError as error:
        logger.exception("after-action report %s could not start", report_id)
        ReviewReport.objects.filter(pk=report_id).update(
            state=ReviewReport.State.FAILED, step="failed",
            error=f"the build could not start: {error}"[:1000], finished_at=timezone.now())


def _progress(report_id: int, percent: int, step: str) -> None:
    ReviewReport.objects.filter(pk=report_id).update(
        state=ReviewReport.State.RUNNING, progress=percent, step=step,
        heartbeat_at=timezone.now(),
    )


def review_report_build(*, report_id: int) -> None:
    """Build the report's HTML, PDF and CSVs, telling its row how far it is; a failure is
    recorded on the row with its reason, never left as a build that seems to run."""
    report = ReviewReport.objects.select_related("event").get(pk=report_id)

    def progress(percent: int, step: str) -> None:
        _progress(report_id, percent, step)

    try:
        progress(5, "collecting")
        data = review_report_input(event=report.event)
        progress(20, "collected")
        with translation.override(report.language):
            context = document.report_context(data, progress)
            html = document.report_html(context, for_pdf=False, generated_at=timezone.now())
            progress(75, "pdf")
            pdf = document.report_pdf(
                document.report_html(context, for_pdf=True, generated_at=timezone.now()))
        progress(90, "csv")
        casualties = document.casualties_csv(data)
        units = document.units_csv(data, document.unit_uses(data))
        for kind, stored, content in (
                ("html", report.html_file, html.encode()), ("pdf", report.pdf_file, pdf),
                ("casualties.csv", report.casualties_csv, casualties.encode()),
                ("units.csv", report.units_csv, units.encode())):
            stored.save(document.file_name(slug=report.event.slug,
                                           is_exercise=report.event.is_exercise, kind=kind),
                        ContentFile(content), save=False)
        report.state = ReviewReport.State.DONE
        report.progress = 100
        report.step = "done"
    except Exception as error:
        logger.exception("after-action report %s failed", report_id)
        report.state = ReviewReport.State.FAILED
        report.error = f"{type(error).__name__}: {error}"[:1000]
        report.step = "failed"
    report.finished_at = report.heartbeat_at = timezone.now()
    # A failed build keeps the progress it reached: it says where it stopped.
    fields = ["state", "step", "error", "finished_at", "heartbeat_at"]
    if report.state == ReviewReport.State.DONE:
        fields += ["progress", "html_file", "pdf_file", "casualties_csv", "units_csv"]
    report.save(update_fields=fields)
