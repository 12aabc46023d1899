from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from command_center.models import EventStatusChange, MassEvent, MedicalPost
from hub.admin import GeometryAdmin


class MedicalPostInline(admin.TabularInline):
    model = MedicalPost
    extra = 0
    fields = ["code", "name", "name_zh"]


@admin.register(MassEvent)
class MassEventAdmin(GeometryAdmin):
    list_display = ["slug", "name", "status", "is_exercise", "auto_dispatch", "starts_at"]
    list_filter = ["status", "is_exercise", "auto_dispatch"]
    search_fields = ["slug", "name", "name_zh"]
    inlines = [MedicalPostInline]


@admin.register(MedicalPost)
class MedicalPostAdmin(GeometryAdmin):
    list_display = ["code", "name", "event"]
    list_filter = ["event"]
    search_fields = ["code", "name", "name_zh"]


@admin.register(EventStatusChange)
class EventStatusChangeAdmin(admin.ModelAdmin):
    list_display = ["event", "from_status", "to_status", "changed_by", "changed_at"]
    list_filter = ["event"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
