"""The admin's geometry widget shows GeoJSON and takes back GeoJSON or WKT unchanged."""

import json

import pytest
from django.contrib.gis import forms
from django.contrib.gis.geos import Point

from hub.admin_widgets import LeafletGeometryWidget


def test_a_point_is_shown_as_geojson_longitude_first():
    shown = json.loads(LeafletGeometryWidget().serialize(Point(120.487, 30.7431, srid=4326)))
    assert shown == {"type": "Point", "coordinates": [120.487, 30.7431]}


def test_the_geojson_it_shows_is_read_back_as_the_same_point():
    point = Point(120.487, 30.7431, srid=4326)
    field = forms.PointField(widget=LeafletGeometryWidget)
    assert field.clean(LeafletGeometryWidget().serialize(point)).equals_exact(point, 1e-9)


def test_wkt_typed_by_hand_is_accepted_too():
    field = forms.PointField(widget=LeafletGeometryWidget)
    assert field.clean("POINT (120.5 30.6)").coords == (120.5, 30.6)


def test_text_that_is_no_geometry_is_refused_as_an_invalid_geometry():
    field = forms.PointField(widget=LeafletGeometryWidget)
    with pytest.raises(forms.ValidationError) as refused:
        field.clean("somewhere near the hall")
    assert refused.value.code == "invalid_geom"
