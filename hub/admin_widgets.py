"""A geometry widget for the admin that works under the hub's CSP and without internet.

GeoDjango's own admin widget writes an inline script and loads OpenLayers from a CDN: the
Content-Security-Policy refuses the one and an offline event network cannot reach the other.
This one uses the pinned Leaflet, a static script, and keeps the geometry editable as GeoJSON.
"""

from typing import Any

from django.conf import settings
from django.contrib.gis.forms.widgets import BaseGeometryWidget
from django.contrib.gis.geos import GEOSGeometry


class LeafletGeometryWidget(BaseGeometryWidget):
    template_name = "hub/widgets/leaflet_geometry.html"
    map_srid = 4326

    def serialize(self, value: GEOSGeometry | None) -> str:
        return value.json if value else ""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["tiles_url"] = settings.MAP_TILE_URL
        return context

    class Media:
        css = {"all": ("leaflet/dist/leaflet.css", "hub/css/admin-geometry.css")}
        js = ("leaflet/dist/leaflet.js", "hub/js/admin-geometry.js")
