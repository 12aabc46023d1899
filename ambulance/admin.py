from django.contrib import admin

from ambulance.models import (
    Station,
    Transport,
    TransportStatusChange,
    Unit,
    UnitPosition,
    UnitStatusChange,
)
from hub.admin import GeometryAdmin


@admin.register(Station)
class StationAdmin(GeometryAdmin):
    list_display = ["code", "name", "name_zh"]
    search_fields = ["code", "name", "name_zh"]


class UnitStatusChangeInline(admin.TabularInline):
    model = UnitStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "changed_by", "changed_at"]


@admin.register(Unit)
class UnitAdmin(GeometryAdmin):
    list_display = ["callsign", "level", "capacity", "status", "station", "event", "position_at"]
    list_filter = ["status", "level", "station", "event"]
    search_fields = ["callsign"]
    readonly_fields = ["status", "status_changed_at", "position_at"]
    inlines = [UnitStatusChangeInline]


@admin.register(UnitPosition)
class UnitPositionAdmin(GeometryAdmin):
    list_display = ["unit", "measured_at", "speed", "heading", "accuracy"]
    list_filter = ["unit"]
    date_hierarchy = "measured_at"


class TransportStatusChangeInline(admin.TabularInline):
    model = TransportStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "changed_by", "changed_at"]


@admin.register(Transport)
class TransportAdmin(admin.ModelAdmin):
    list_display = ["id", "casualty", "unit", "hospital", "status", "assigned_at", "arrived_at"]
    list_filter = ["status", "hospital", "unit"]
    search_fields = ["casualty__tag", "unit__callsign", "hospital__code"]
    readonly_fields = ["status", "assigned_at", "on_scene_at", "departed_at", "arrived_at",
                       "handed_over_at", "cancelled_at"]
    inlines = [TransportStatusChangeInline]
