"""Writes about hospitals: published capacity and diversion."""

from django.db import transaction
from django.utils import timezone

from hospital_intake.models import CapacityReport, Hospital
from hospital_intake.schemas import Capacity
from hub.journal import StoredMessage, journal_append
from hub.models import Terminal


def hospital_capacity_update(
    *, terminal: Terminal, code: str, client_id: str, payload: Capacity
) -> StoredMessage:
    with transaction.atomic():
        hospital = Hospital.objects.select_for_update().get(code=code)
        now = timezone.now()
        hospital.beds_red = payload.beds.red
        hospital.beds_yellow = payload.beds.yellow
        hospital.beds_green = payload.beds.green
        hospital.diversion = payload.diversion
        hospital.capacity_note = payload.note or ""
        hospital.capacity_updated_at = now
        hospital.save(update_fields=[
            "beds_red", "beds_yellow", "beds_green", "diversion", "capacity_note",
            "capacity_updated_at",
        ])
        CapacityReport.objects.create(
            hospital=hospital, beds_red=payload.beds.red, beds_yellow=payload.beds.yellow,
            beds_green=payload.beds.green, diversion=payload.diversion,
            note=payload.note or "", reported_by=terminal.name, reported_at=now,
        )
        return journal_append(
            topic=hospital.topic, type="capacity",
            data=payload.wire(),
            terminal=terminal, client_id=client_id,
        )
