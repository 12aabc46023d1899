from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from ambulance.lifecycles import TRANSPORT_LIFECYCLE, UNIT_LIFECYCLE


class Station(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200, blank=True)
    location = models.PointField(srid=4326)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Unit(models.Model):
    """An ambulance. Its status follows UNIT_LIFECYCLE; its position is the last one reported."""

    class Level(models.TextChoices):
        ALS = "ALS", _("advanced life support")
        BLS = "BLS", _("basic life support")

    class Status(models.TextChoices):
        AVAILABLE = "available", _("available")
        DISPATCHED = "dispatched", _("dispatched")
        ON_SCENE = "on_scene", _("on scene")
        TRANSPORTING = "transporting", _("transporting")
        AT_HOSPITAL = "at_hospital", _("at hospital")
        RETURNING = "returning", _("returning")
        OUT_OF_SERVICE = "out_of_service", _("out of service")

    callsign = models.CharField(max_length=32, unique=True)
    level = models.CharField(max_length=3, choices=Level.choices)
    capacity = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=UNIT_LIFECYCLE.initial)
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="units")
    event = models.ForeignKey(
        "command_center.MassEvent", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="units",
    )
    position = models.PointField(srid=4326, null=True, blank=True)
    position_at = models.DateTimeField(null=True, blank=True)
    heading = models.FloatField(null=True, blank=True)
    speed = models.FloatField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["callsign"]
        indexes = [models.Index(fields=["event", "status"])]

    def __str__(self) -> str:
        return self.callsign

    @property
    def topic(self) -> str:
        return f"unit:{self.callsign}"


class UnitPosition(models.Model):
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="positions")
    measured_at = models.DateTimeField()
    received_at = models.DateTimeField()
    location = models.PointField(srid=4326)
    heading = models.FloatField(null=True, blank=True)
    speed = models.FloatField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["unit", "measured_at"])]


class UnitStatusChange(models.Model):
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    changed_by = models.CharField(max_length=100)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["unit", "changed_at"])]


class Transport(models.Model):
    """One casualty's ride in one unit to one hospital, from assignment to handover."""

    class Status(models.TextChoices):
        ASSIGNED = "assigned", _("assigned")
        ON_SCENE = "on_scene", _("on scene")
        DEPARTED = "departed", _("en route")
        ARRIVED = "arrived", _("arrived")
        HANDED_OVER = "handed_over", _("handed over")
        CANCELLED = "cancelled", _("cancelled")

    ACTIVE_STATUSES = ("assigned", "on_scene", "departed")
    INBOUND_OR_AT_STATUSES = ("assigned", "on_scene", "departed", "arrived", "handed_over")

    casualty = models.ForeignKey(
        "field_terminal.Casualty", on_delete=models.PROTECT, related_name="transports"
    )
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="transports")
    hospital = models.ForeignKey(
        "hospital_intake.Hospital", on_delete=models.PROTECT, related_name="transports"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=TRANSPORT_LIFECYCLE.initial
    )
    assigned_by = models.CharField(max_length=100)
    assigned_at = models.DateTimeField()
    on_scene_at = models.DateTimeField(null=True, blank=True)
    departed_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    eta = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-assigned_at"]
        indexes = [
            models.Index(fields=["hospital", "status"]),
            models.Index(fields=["unit", "status"]),
            models.Index(fields=["casualty", "status"]),
        ]
        constraints = [
            # One live transport per casualty: a second assignment must cancel the first.
            models.UniqueConstraint(
                fields=["casualty"],
                condition=models.Q(status__in=["assigned", "on_scene", "departed"]),
                name="one_active_transport_per_casualty",
            )
        ]


class TransportStatusChange(models.Model):
    transport = models.ForeignKey(Transport, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    changed_by = models.CharField(max_length=100)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]
