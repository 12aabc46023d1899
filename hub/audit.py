"""Reads of the audit chain: verification and CSV export (writes are hub.services.audit_record).

Verification recomputes every entry's hash from its stored fields and the hash before it, in
id order, so an edited field, a removed entry or a re-ordered chain shows at the first entry
whose hash no longer follows. It does not see the newest entries cut off the end; that
needs an anchor kept elsewhere (docs/audit.md).
"""

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from hub.models import AuditEntry
from hub.services import AUDIT_GENESIS_HASH, audit_digest

CSV_COLUMNS = ("id", "at", "actor", "action", "target", "detail", "previous_hash", "hash")


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def audit_chain_verify(*, chunk_size: int = 2000) -> ChainReport:
    previous = AUDIT_GENESIS_HASH
    checked = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=chunk_size):
        if entry.previous_hash != previous:
            return ChainReport(checked, entry.pk,
                               "previous_hash does not match the entry before it "
                               "(an entry was removed or re-ordered)")
        fields = {"actor": entry.actor, "action": entry.action, "target": entry.target,
                  "detail": entry.detail, "at": entry.at.isoformat()}
        if audit_digest(previous, fields) != entry.hash:
            return ChainReport(checked, entry.pk, "hash does not match the entry's fields "
                                                  "(the entry was edited)")
        previous = entry.hash
        checked += 1
    return ChainReport(checked)


class _Echo:
    """A file-like that hands back what csv.writer writes, for a streamed response."""

    def write(self, value: str) -> str:
        return value


def audit_csv_rows(entries: Iterable[AuditEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for entry in entries:
        yield writer.writerow([entry.pk, entry.at.isoformat(), entry.actor, entry.action,
                               entry.target, json.dumps(entry.detail, sort_keys=True),
                               entry.previous_hash, entry.hash])
