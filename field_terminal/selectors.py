"""Reads for the field tablet: what its map draws offline, and the vitals form's ranges."""

import json
from typing import Any

from command_center.models import MassEvent, MedicalPost
from field_terminal.schemas import VITAL_FIELDS, Vitals


def event_map_layers(*, event_id: int | None) -> dict[str, Any]:
    """The venue outline and the medical posts, as plain data the page embeds.

    They go into the page itself rather than through the API, so a tablet that lost the
    network after loading (or reloads from the service worker's cache) still draws them.
    """
    event = MassEvent.objects.filter(pk=event_id).first() if event_id is not None else None
    if event is None:
        return {"venue": None, "posts": []}
    posts = MedicalPost.objects.filter(event=event).order_by("code")
    return {
        "venue": json.loads(event.venue_area.geojson) if event.venue_area else None,
        "posts": [
            {"code": post.code, "name": post.name, "name_zh": post.name_zh,
             "lat": post.location.y, "lon": post.location.x}
            for post in posts
        ],
    }


def vitals_field_ranges() -> list[dict[str, Any]]:
    """Each vital sign's range and unit, read from the payload the hub validates with, so the
    form's limits are the contract's and cannot drift from it."""
    properties = Vitals.model_json_schema()["properties"]
    return [
        {"name": name, "min": properties[name]["minimum"], "max": properties[name]["maximum"],
         "integer": properties[name]["type"] == "integer",
         "unit": properties[name].get("x-unit", "")}
        for name in VITAL_FIELDS
    ]
