from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.utils.translation import gettext_lazy as _

from hospital_intake.lifecycles import NOTICE_LIFECYCLE

CAPABILITIES = ("trauma", "burns", "pediatric", "cardiac", "stroke")


class Hospital(models.Model):
    """A receiving hospital; free beds by triage category follow EDXL-HAVE's bed-capacity idea.

    Hospitals serve every real event. An exercise event gets its own copies (`exercise_event`
    set, code prefixed so codes stay unique): a drill's notices and bed counts then never reach
    a real hospital's screen or a real event's dispatch plan.
    """

    code = models.CharField(max_length=32, unique=True)
    exercise_event = models.ForeignKey(
        "command_center.MassEvent", on_delete=models.CASCADE, null=True, blank=True,
        related_name="exercise_hospitals",
    )
    name = models.CharField(_("name"), max_length=200)
    name_zh = models.CharField(_("Chinese name"), max_length=200, blank=True)
    location = models.PointField(srid=4326)
    capabilities = ArrayField(
        models.CharField(max_length=16, choices=[(c, c) for c in CAPABILITIES]),
        default=list, blank=True,
    )
    beds_red = models.PositiveIntegerField(_("free beds, immediate"), default=0)
    beds_yellow = models.PositiveIntegerField(_("free beds, delayed"), default=0)
    beds_green = models.PositiveIntegerField(_("free beds, minor"), default=0)
    diversion = models.BooleanField(_("on diversion"), default=False)
    capacity_note = models.CharField(max_length=500, blank=True)
    capacity_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def topic(self) -> str:
        return f"hospital:{self.code}"

    def free_beds(self) -> dict[str, int]:
        return {"red": self.beds_red, "yellow": self.beds_yellow, "green": self.beds_green}


class CapacityReport(models.Model):
    """Append-only history of what a hospital published about its capacity."""

    hospital = models.ForeignKey(
        Hospital, on_delete=models.CASCADE, related_name="capacity_history"
    )
    beds_red = models.PositiveIntegerField()
    beds_yellow = models.PositiveIntegerField()
    beds_green = models.PositiveIntegerField()
    diversion = models.BooleanField()
    note = models.CharField(max_length=500, blank=True)
    reported_by = models.CharField(max_length=100)
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["reported_at", "id"]
        indexes = [models.Index(fields=["hospital", "reported_at"])]


class PreArrivalNotice(models.Model):
    """What the hospital is told when a transport to it is accepted; one per transport."""

    class State(models.TextChoices):
        SENT = "sent", _("sent")
        RECEIVED = "received", _("received")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        ARRIVED = "arrived", _("arrived")
        HANDED_OVER = "handed_over", _("handed over")
        CANCELLED = "cancelled", _("cancelled")

    transport = models.OneToOneField(
        "ambulance.Transport", on_delete=models.PROTECT, related_name="notice"
    )
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="notices")
    state = models.CharField(max_length=16, choices=State.choices, default=NOTICE_LIFECYCLE.initial)
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at"]
        indexes = [models.Index(fields=["hospital", "state"])]


class PreArrivalNoticeChange(models.Model):
    """Append-only history of a notice's states."""

    notice = models.ForeignKey(PreArrivalNotice, on_delete=models.CASCADE, related_name="history")
    from_state = models.CharField(max_length=16)
    to_state = models.CharField(max_length=16)
    changed_by = models.CharField(max_length=100)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]


class Handover(models.Model):
    """The crew's ATMIST handover of one casualty (age, time of injury, mechanism, injuries,
    signs, treatment), as given; append-only (a corrected handover is a new row). The
    hospital's acceptance is recorded on the transport and the notice."""

    transport = models.ForeignKey(
        "ambulance.Transport", on_delete=models.PROTECT, related_name="handovers"
    )
    casualty = models.ForeignKey(
        "field_terminal.Casualty", on_delete=models.PROTECT, related_name="handovers"
    )
    atmist = models.JSONField()
    notes = models.TextField(max_length=2000, blank=True)
    given_by = models.CharField(max_length=100)
    given_at = models.DateTimeField()
    journal_seq = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["given_at", "id"]


class HandoverBundle(models.Model):
    """The FHIR R4 Bundle of the record as it stood when the hospital accepted the handover:
    the record keeps growing after (notes, media), the hospital's legal copy does not."""

    transport = models.OneToOneField(
        "ambulance.Transport", on_delete=models.PROTECT, related_name="handover_bundle"
    )
    casualty = models.ForeignKey(
        "field_terminal.Casualty", on_delete=models.PROTECT, related_name="handover_bundles"
    )
    bundle = models.JSONField()
    accepted_by = models.CharField(max_length=100)
    accepted_at = models.DateTimeField()

    class Meta:
        ordering = ["accepted_at", "id"]
