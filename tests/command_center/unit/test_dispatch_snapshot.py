"""The dispatch snapshot from live state: what the optimizer is told about the event."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from ambulance.models import Transport
from command_center.dispatch import parse_instance
from command_center.selectors import SURVIVAL, dispatch_instance_for, hospital_place
from command_center.travel import EstimatedTravelTimes
from field_terminal.models import Casualty
from hub.models import Terminal

TRAVEL = EstimatedTravelTimes(speed_kmh=40.0)


def _casualty(roles, *, category="red", status="awaiting_transport", lat=30.7431, lon=120.4870,
              needs=(), reported_ago=0):
    when = timezone.now() - timedelta(minutes=reported_ago)
    return Casualty.objects.create(
        id=uuid.uuid4(), event=roles.event, location=Point(lon, lat, srid=4326),
        category=category, triage_method="START", needs=list(needs), status=status,
        reported_by=Terminal.objects.get(name="medic-1"), reported_at=when,
        status_changed_at=when,
    )


def _transport(roles, casualty, *, unit=None, hospital=None, status="assigned", eta=None):
    return Transport.objects.create(
        casualty=casualty, unit=unit or roles.unit, hospital=hospital or roles.hospital,
        status=status, assigned_by="test", assigned_at=timezone.now(), eta=eta,
    )


def _snapshot(roles):
    snapshot = dispatch_instance_for(roles.event, travel=TRAVEL)
    parse_instance(snapshot.instance)  # the contract's own validation
    return snapshot.instance


def _by_id(rows):
    return {row["id"]: row for row in rows}


def test_waiting_casualties_are_in_with_als_rule_and_default_survival(roles):
    red = _casualty(roles, category="red", needs=["trauma"], reported_ago=6)
    green = _casualty(roles, category="green")
    _casualty(roles, category="black", status="reported")
    _casualty(roles, category="yellow", status="assigned")
    instance = _snapshot(roles)
    casualties = _by_id(instance["casualties"])
    assert set(casualties) == {str(red.pk), str(green.pk)}
    assert casualties[str(red.pk)]["needs_als"] is True
    assert casualties[str(green.pk)]["needs_als"] is False
    assert casualties[str(red.pk)]["needs"] == ["trauma"]
    assert casualties[str(red.pk)]["survival"] == SURVIVAL["red"]
    assert casualties[str(green.pk)]["survival"] == {"model": "constant", "p": 0.99}
    # Minutes from a common origin: the oldest report, six minutes before now.
    assert casualties[str(red.pk)]["reported_at"] == 0
    assert instance["now"] == pytest.approx(6, abs=0.1)


def test_casualties_at_one_point_share_one_site(roles):
    first, second = _casualty(roles), _casualty(roles)
    elsewhere = _casualty(roles, lat=30.7460)
    casualties = _by_id(_snapshot(roles)["casualties"])
    assert casualties[str(first.pk)]["place"] == casualties[str(second.pk)]["place"]
    assert casualties[str(elsewhere.pk)]["place"] != casualties[str(first.pk)]["place"]


def test_beds_already_claimed_by_transports_under_way_are_subtracted(roles):
    _casualty(roles)
    for status in ("assigned", "departed"):
        _transport(roles, _casualty(roles, category="red", status="assigned"), status=status,
                   unit=roles.other_unit)
    _transport(roles, _casualty(roles, category="yellow", status="handed_over"),
               status="handed_over", unit=roles.other_unit)
    hospitals = _by_id(_snapshot(roles)["hospitals"])
    assert hospitals["TX1"]["beds"] == {"red": 4 - 2, "yellow": 8, "green": 20}
    assert hospitals["JX1"]["beds"] == {"red": 6, "yellow": 10, "green": 30}
    assert hospitals["TX1"]["capabilities"] == ["cardiac", "trauma"]


def test_a_hospital_on_diversion_offers_no_beds(roles):
    _casualty(roles)
    roles.other_hospital.diversion = True
    roles.other_hospital.save()
    hospitals = _by_id(_snapshot(roles)["hospitals"])
    assert hospitals["JX1"]["beds"] == {"red": 0, "yellow": 0, "green": 0}


def test_a_unit_on_a_trip_is_free_at_its_hospital_after_unloading(roles):
    _casualty(roles)
    eta = timezone.now() + timedelta(minutes=20)
    _transport(roles, _casualty(roles, status="assigned"), eta=eta)
    roles.unit.status = "dispatched"
    roles.unit.save()
    instance = _snapshot(roles)
    ambulances = _by_id(instance["ambulances"])
    assert ambulances["WZ01"]["place"] == hospital_place("TX1")
    unload = instance["service_minutes"]["unload"]
    assert ambulances["WZ01"]["available_at"] == pytest.approx(instance["now"] + 20 + unload,
                                                               abs=0.1)
    free = ambulances["WZ02"]
    assert free["available_at"] == instance["now"] and free["level"] == "BLS"
    assert free["capacity"] == 2
    # The free unit stands where it is; its place reaches every site, sites every hospital.
    site = instance["casualties"][0]["place"]
    assert instance["travel_minutes"][free["place"]][site] > 0
    assert set(instance["travel_minutes"][site]) == {hospital_place("TX1"), hospital_place("JX1")}


def test_out_of_service_units_are_left_out(roles):
    _casualty(roles)
    roles.other_unit.status = "out_of_service"
    roles.other_unit.save()
    assert set(_by_id(_snapshot(roles)["ambulances"])) == {"WZ01"}
