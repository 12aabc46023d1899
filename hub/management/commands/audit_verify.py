"""`manage.py audit_verify`: recompute the audit hash chain; exit status 1 at the first break."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hub.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Recompute every audit entry's hash and report the first entry that does not follow."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(f"audit chain broken at entry {report.broken_id}: {report.reason} "
                               f"({report.checked} entries before it are intact)")
        self.stdout.write(f"audit chain intact: {report.checked} entries")
