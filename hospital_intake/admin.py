from django.contrib import admin

from hospital_intake.models import CapacityReport, Hospital
from hub.admin import GeometryAdmin


class CapacityReportInline(admin.TabularInline):
    model = CapacityReport
    extra = 0
    can_delete = False
    readonly_fields = ["beds_red", "beds_yellow", "beds_green", "diversion", "note",
                       "reported_by", "reported_at"]
    ordering = ["-reported_at"]


@admin.register(Hospital)
class HospitalAdmin(GeometryAdmin):
    list_display = ["code", "name", "name_zh", "beds_red", "beds_yellow", "beds_green",
                    "diversion", "capacity_updated_at"]
    list_filter = ["diversion"]
    search_fields = ["code", "name", "name_zh"]
    inlines = [CapacityReportInline]
