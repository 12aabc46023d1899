from typing import Any

from django.contrib import admin
from django.contrib.gis.db import models as gis_models
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from hub.admin_widgets import LeafletGeometryWidget
from hub.audit import audit_chain_verify, audit_csv_rows
from hub.models import AuditEntry, JournalEntry, MediaFile, Terminal, Topic
from hub.services import audit_record


class GeometryAdmin(admin.ModelAdmin):
    """An admin whose geometry fields use the CSP-clean, offline Leaflet widget."""

    formfield_overrides = {gis_models.GeometryField: {"widget": LeafletGeometryWidget}}


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
    actions = ["export_csv"]
    change_list_template = "admin/hub/auditentry/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("verify/", self.admin_site.admin_view(self.verify_view),
                 name="hub_auditentry_verify"),
            path("export.csv", self.admin_site.admin_view(self.export_all_view),
                 name="hub_auditentry_export"),
        ]
        return own + super().get_urls()

    def _csv(self, request: HttpRequest, entries: QuerySet[AuditEntry]) -> StreamingHttpResponse:
        # Exporting the record of who read what is itself worth recording.
        audit_record(actor=request.user.get_username(), action="audit.export", target="audit",
                     detail={"entries": entries.count()})
        response = StreamingHttpResponse(audit_csv_rows(entries.order_by("id").iterator()),
                                         content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response

    @admin.action(description="Export selected entries as CSV")
    def export_csv(self, request: HttpRequest,
                   queryset: QuerySet[AuditEntry]) -> StreamingHttpResponse:
        return self._csv(request, queryset)

    def export_all_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """The whole chain, or the entries of one `?target=`, for staff."""
        entries = AuditEntry.objects.all()
        target = request.GET.get("target")
        if target:
            entries = entries.filter(target=target)
        return self._csv(request, entries)

    def verify_view(self, request: HttpRequest) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "report": audit_chain_verify(),
                   "opts": self.model._meta, "title": "Verify audit chain"}
        return TemplateResponse(request, "admin/hub/auditentry/verify.html", context)


@admin.register(MediaFile)
class MediaFileAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "content_type", "size", "uploaded_by", "uploaded_at"]
    list_filter = ["kind", "content_type"]
    search_fields = ["id", "sha256", "original_name"]
