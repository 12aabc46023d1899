"""Shared fixtures: real Daphne hubs on the test database, and the five terminal roles."""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

os.environ.setdefault("SECRET_KEY", "test-suite-secret-key-not-for-production-0123456789")

from tests.support.hubs import DaphneProcess, hub_environment


@pytest.fixture(scope="session", autouse=True)
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Uploads, recordings and reports of a test run, the suite's and its hubs', kept out of
    the hub's own var/media."""
    from django.test import override_settings

    root = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=root):
        yield root


@pytest.fixture(scope="session")
def hub_env(django_db_setup: None, django_db_blocker: object, media_root: Path) -> dict[str, str]:
    from django.db import connection

    return hub_environment(connection.settings_dict["NAME"], f"mcihub-test-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def live_hub(hub_env: dict[str, str]) -> Iterator[DaphneProcess]:
    hub = DaphneProcess(env=hub_env).start()
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def second_hub(hub_env: dict[str, str]) -> Iterator[DaphneProcess]:
    hub = DaphneProcess(env=hub_env).start()
    yield hub
    hub.stop()


@dataclass
class Roles:
    """One terminal of each kind in one event, plus outsiders of the same kinds."""

    event: object
    unit: object
    other_unit: object
    hospital: object
    other_hospital: object
    field: str
    ambulance: str
    expert: str
    hospital_screen: str
    command: str
    other_field: str
    other_ambulance: str
    other_hospital_screen: str

    def token(self, kind: str) -> str:
        return {"field": self.field, "ambulance": self.ambulance, "expert": self.expert,
                "hospital": self.hospital_screen, "command": self.command}[kind]


@pytest.fixture
def roles(transactional_db: None) -> Roles:
    from ambulance.models import Station, Unit
    from command_center.models import MassEvent
    from hospital_intake.models import Hospital
    from hub.services import terminal_token_issue

    venue = MultiPolygon(Polygon.from_bbox((120.48, 30.74, 120.49, 30.75)), srid=4326)
    event = MassEvent.objects.create(slug="wic-test", name="WIC test", venue_area=venue,
                                     status="active")
    station = Station.objects.create(code="ST1", name="Station 1",
                                     location=Point(120.49, 30.744, srid=4326))
    unit = Unit.objects.create(callsign="WZ01", level="ALS", capacity=1, station=station,
                               event=event)
    other_unit = Unit.objects.create(callsign="WZ02", level="BLS", capacity=2, station=station,
                                     event=event)
    hospital = Hospital.objects.create(
        code="TX1", name="Tongxiang First", location=Point(120.561, 30.629, srid=4326),
        capabilities=["trauma", "cardiac"], beds_red=4, beds_yellow=8, beds_green=20,
    )
    other_hospital = Hospital.objects.create(
        code="JX1", name="Jiaxing First", location=Point(120.756, 30.755, srid=4326),
        capabilities=["trauma", "burns"], beds_red=6, beds_yellow=10, beds_green=30,
    )

    def issue(kind: str, name: str, **binding: Any) -> str:
        return terminal_token_issue(kind=kind, name=name, **binding).token

    return Roles(
        event=event, unit=unit, other_unit=other_unit, hospital=hospital,
        other_hospital=other_hospital,
        field=issue("field", "medic-1", event=event),
        ambulance=issue("ambulance", "amb-WZ01", event=event, unit=unit),
        expert=issue("expert", "expert-1"),
        hospital_screen=issue("hospital", "screen-TX1", hospital=hospital),
        command=issue("command", "command-1", event=event),
        other_field=issue("field", "medic-2", event=event),
        other_ambulance=issue("ambulance", "amb-WZ02", event=event, unit=other_unit),
        other_hospital_screen=issue("hospital", "screen-JX1", hospital=other_hospital),
    )


def casualty_report_data(casualty_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "casualty": casualty_id or str(uuid.uuid4()),
        "location": {"lat": 30.7431, "lon": 120.4870},
        "category": "red",
        "method": "START",
    }
    data.update(overrides)
    return data
