from django.contrib import admin

from teleconsult.models import Consult, ConsultOffer, ConsultParticipant


class ParticipantInline(admin.TabularInline):
    model = ConsultParticipant
    extra = 0


class OfferInline(admin.TabularInline):
    model = ConsultOffer
    extra = 0


@admin.register(Consult)
class ConsultAdmin(admin.ModelAdmin):
    list_display = ["id", "casualty", "specialty", "urgency", "status", "requested_at"]
    list_filter = ["status", "specialty", "urgency"]
    inlines = [ParticipantInline, OfferInline]
