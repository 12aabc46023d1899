"""A casualty with a full record (triage, vitals, ECG, media) on a transport to TX1."""

import struct
import zlib
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.conftest import casualty_report_data


def png_bytes() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    raw = b"\x00\xff\x00\x00\xff\x00\x00\x00\xff\x00\x00\xff\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


ECG = [0.0, 0.12, 1.35, -0.4, 0.05]


@pytest.fixture
def full_record(roles: Any) -> str:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ambulance.services import transport_assign
    from field_terminal.schemas import CasualtyReport, TriageUpdate, Vitals, Waveform
    from field_terminal.services import (
        casualty_record_store,
        casualty_report,
        casualty_triage_update,
    )
    from hub.models import Terminal
    from hub.schemas import Media
    from hub.services import media_share, media_store
    from hub.topics import parse_topic

    medic = Terminal.objects.get(name="medic-1")
    data = casualty_report_data(tag="T-0042", sex="female", age_group="adult",
                                complaint="crush injury, left leg")
    casualty = data["casualty"]
    casualty_report(terminal=medic, event_slug="wic-test", client_id="r1",
                    payload=CasualtyReport.model_validate(data))
    casualty_triage_update(terminal=medic, casualty_id=casualty, client_id="t1",
                           payload=TriageUpdate.model_validate(
                               {"category": "yellow", "method": "manual", "reason": "stable"}))
    now = timezone.now() - timedelta(minutes=5)
    casualty_record_store(terminal=medic, casualty_id=casualty, client_id="v1",
                          payload=Vitals.model_validate({
                              "t": now.isoformat(), "hr": 112, "spo2": 94, "rr": 22,
                              "sbp": 98, "dbp": 61, "temp": 36.4, "gcs": 14, "etco2": 33}))
    casualty_record_store(terminal=medic, casualty_id=casualty, client_id="v2",
                          payload=Vitals.model_validate({"t": now.isoformat(), "sbp": 101}))
    casualty_record_store(terminal=medic, casualty_id=casualty, client_id="w1",
                          payload=Waveform.model_validate({
                              "t0": now.isoformat(), "hz": 250, "signal": "ecg_ii",
                              "unit": "mV", "samples": ECG}))
    casualty_record_store(terminal=medic, casualty_id=casualty, client_id="w2",
                          payload=Waveform.model_validate({
                              "t0": now.isoformat(), "hz": 50, "signal": "pleth",
                              "unit": "au", "samples": [1.0, 2.0]}))
    upload = SimpleUploadedFile("leg.png", png_bytes(), content_type="image/png")
    media = media_store(terminal=medic, upload=upload, max_bytes=10_000_000)
    media_share(terminal=medic, topic=parse_topic(f"casualty:{casualty}"), client_id="m1",
                payload=Media.model_validate({"media": str(media.pk), "kind": "image",
                                              "caption": "left leg"}))
    transport_assign(casualty_id=casualty, callsign="WZ01", hospital_code="TX1",
                     assigned_by="command-1")
    return casualty


def arrive(callsign: str = "WZ01") -> None:
    """Drive the unit to the hospital, so the transport is `arrived`."""
    from django.db import transaction

    from ambulance.models import Unit
    from ambulance.services import unit_status_set

    for status in ("on_scene", "transporting", "at_hospital"):
        with transaction.atomic():
            unit = Unit.objects.select_for_update(of=("self",)).select_related("event").get(
                callsign=callsign)
            unit_status_set(unit=unit, to_status=status, changed_by="amb-WZ01")
