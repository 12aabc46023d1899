"""`{% consult_panel %}`: the consult controls of the field and ambulance pages, with the
strings their script reads, so those pages' own views need not know about consults."""

from typing import Any

from django import template

from teleconsult.screen_strings import (
    PANEL_STRINGS,
    SPECIALTY_LABELS,
    URGENCY_LABELS,
    strings_for_page,
)

register = template.Library()


@register.inclusion_tag("teleconsult/consult_panel.html")
def consult_panel() -> dict[str, Any]:
    return {
        "specialties": SPECIALTY_LABELS.items(), "urgencies": URGENCY_LABELS.items(),
        "strings": strings_for_page(PANEL_STRINGS),
    }
