"""`manage.py review_report_build REPORT_ID`: build one after-action report.

Started by the review page (review_report_request) as a process of its own, so that seconds
of plotting and PDF layout never run in a server's event loop; the report's row says how far
it is and why it failed.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from command_center.review.services import review_report_build


class Command(BaseCommand):
    help = "Build one after-action report (its ReviewReport row holds progress and files)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("report_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        review_report_build(report_id=options["report_id"])
