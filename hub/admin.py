from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hub.models import AuditEntry, JournalEntry, MediaFile, Terminal, Topic


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is append-only: the admin shows it and never edits or deletes it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Terminal)
class TerminalAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "event", "unit", "hospital", "user", "token_issued_at",
                    "revoked_at"]
    list_filter = ["kind", "event", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "unit__callsign", "hospital__code", "user__username"]
    readonly_fields = ["token_hash", "token_issued_at", "revoked_at", "created_at"]
    autocomplete_fields = ["unit", "hospital", "user"]


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["topic", "seq", "type", "sender", "client_id", "stored_at"]
    list_filter = ["type"]
    search_fields = ["topic", "client_id", "sender"]
    date_hierarchy = "stored_at"


@admin.register(Topic)
class TopicAdmin(ReadOnlyAdmin):
    list_display = ["name", "head_seq"]
    search_fields = ["name"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "target", "hash"]
    list_filter = ["action"]
    search_fields = ["actor", "target"]
    date_hierarchy = "at"


@admin.register(MediaFile)
class MediaFileAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "content_type", "size", "uploaded_by", "uploaded_at"]
    list_filter = ["kind", "content_type"]
    search_fields = ["id", "sha256", "original_name"]
