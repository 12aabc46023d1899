from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from field_terminal.models import (
    Casualty,
    CasualtyMedia,
    CasualtyNote,
    CasualtyStatusChange,
    TriageAssessment,
    VitalSigns,
    WaveformSegment,
)
from hub.admin import GeometryAdmin


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TriageInline(ReadOnlyInline):
    model = TriageAssessment


class StatusInline(ReadOnlyInline):
    model = CasualtyStatusChange


class NoteInline(ReadOnlyInline):
    model = CasualtyNote


@admin.register(Casualty)
class CasualtyAdmin(GeometryAdmin):
    list_display = ["tag", "id", "event", "category", "status", "age_group", "reported_by",
                    "reported_at"]
    list_filter = ["event", "category", "status", "age_group", "triage_method"]
    search_fields = ["id", "tag", "complaint"]
    readonly_fields = ["category", "status", "reported_by", "reported_at", "status_changed_at"]
    inlines = [TriageInline, StatusInline, NoteInline]


@admin.register(VitalSigns)
class VitalSignsAdmin(admin.ModelAdmin):
    list_display = ["casualty", "measured_at", "hr", "spo2", "rr", "sbp", "dbp", "gcs"]
    date_hierarchy = "measured_at"


@admin.register(WaveformSegment)
class WaveformSegmentAdmin(admin.ModelAdmin):
    list_display = ["casualty", "signal", "t0", "hz"]
    list_filter = ["signal"]


@admin.register(CasualtyMedia)
class CasualtyMediaAdmin(admin.ModelAdmin):
    list_display = ["casualty", "media", "caption", "attached_by", "attached_at"]
