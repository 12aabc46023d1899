import uuid

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.utils.translation import gettext_lazy as _

from field_terminal.lifecycles import CASUALTY_LIFECYCLE
from hospital_intake.models import CAPABILITIES


class Category(models.TextChoices):
    RED = "red", _("immediate (red)")
    YELLOW = "yellow", _("delayed (yellow)")
    GREEN = "green", _("minor (green)")
    BLACK = "black", _("expectant (black)")


class TriageMethod(models.TextChoices):
    START = "START", "START"
    JUMPSTART = "JumpSTART", "JumpSTART"
    SALT = "SALT", "SALT"
    MANUAL = "manual", _("manual")


class Casualty(models.Model):
    class Status(models.TextChoices):
        REPORTED = "reported", _("reported")
        AWAITING_TRANSPORT = "awaiting_transport", _("awaiting transport")
        ASSIGNED = "assigned", _("assigned")
        EN_ROUTE = "en_route", _("en route")
        ARRIVED = "arrived", _("arrived")
        HANDED_OVER = "handed_over", _("handed over")
        TREATED_ON_SCENE = "treated_on_scene", _("treated on scene")
        DECEASED = "deceased", _("deceased")

    class AgeGroup(models.TextChoices):
        ADULT = "adult", _("adult")
        CHILD = "child", _("child")
        INFANT = "infant", _("infant")

    class Sex(models.TextChoices):
        FEMALE = "female", _("female")
        MALE = "male", _("male")
        UNKNOWN = "unknown", _("unknown")

    # The uuid is made by the reporting terminal, so an offline tablet can name it before upload.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    event = models.ForeignKey(
        "command_center.MassEvent", on_delete=models.PROTECT, related_name="casualties"
    )
    tag = models.CharField(_("triage tag"), max_length=32, blank=True)
    location = models.PointField(srid=4326)
    category = models.CharField(max_length=8, choices=Category.choices)
    triage_method = models.CharField(max_length=16, choices=TriageMethod.choices)
    age_group = models.CharField(max_length=8, choices=AgeGroup.choices, blank=True)
    sex = models.CharField(max_length=8, choices=Sex.choices, blank=True)
    complaint = models.CharField(max_length=500, blank=True)
    needs = ArrayField(
        models.CharField(max_length=16, choices=[(c, c) for c in CAPABILITIES]),
        default=list, blank=True,
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=CASUALTY_LIFECYCLE.initial
    )
    reported_by = models.ForeignKey(
        "hub.Terminal", on_delete=models.PROTECT, related_name="reported_casualties"
    )
    reported_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "casualties"
        ordering = ["-reported_at"]
        indexes = [
            models.Index(fields=["event", "status"]),
            models.Index(fields=["event", "category"]),
        ]

    def __str__(self) -> str:
        return f"{self.tag or str(self.id)[:8]} ({self.category})"

    @property
    def topic(self) -> str:
        return f"casualty:{self.id}"


class CasualtyStatusChange(models.Model):
    casualty = models.ForeignKey(Casualty, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    changed_by = models.CharField(max_length=100)
    changed_at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]


class TriageAssessment(models.Model):
    """Every triage decision on a casualty, the first one included (append-only)."""

    casualty = models.ForeignKey(Casualty, on_delete=models.CASCADE, related_name="triage_history")
    category = models.CharField(max_length=8, choices=Category.choices)
    method = models.CharField(max_length=16, choices=TriageMethod.choices)
    reason = models.CharField(max_length=500, blank=True)
    assessed_by = models.CharField(max_length=100)
    assessed_at = models.DateTimeField()

    class Meta:
        ordering = ["assessed_at", "id"]


class VitalSigns(models.Model):
    """One set of vital signs as measured; units are PROTOCOL.md's (LOINC mapping in fhir)."""

    casualty = models.ForeignKey(Casualty, on_delete=models.CASCADE, related_name="vitals")
    measured_at = models.DateTimeField()
    recorded_by = models.CharField(max_length=100)
    journal_seq = models.PositiveBigIntegerField()
    hr = models.FloatField(_("heart rate /min"), null=True, blank=True)
    spo2 = models.FloatField(_("SpO2 %"), null=True, blank=True)
    rr = models.FloatField(_("respiratory rate /min"), null=True, blank=True)
    sbp = models.FloatField(_("systolic BP mmHg"), null=True, blank=True)
    dbp = models.FloatField(_("diastolic BP mmHg"), null=True, blank=True)
    temp = models.FloatField(_("temperature °C"), null=True, blank=True)
    gcs = models.PositiveSmallIntegerField(_("GCS"), null=True, blank=True)
    etco2 = models.FloatField(_("EtCO2 mmHg"), null=True, blank=True)

    class Meta:
        verbose_name_plural = "vital signs"
        indexes = [models.Index(fields=["casualty", "measured_at"])]


class WaveformSegment(models.Model):
    casualty = models.ForeignKey(Casualty, on_delete=models.CASCADE, related_name="waveforms")
    signal = models.CharField(max_length=8)
    unit = models.CharField(max_length=8)
    t0 = models.DateTimeField()
    hz = models.FloatField()
    samples = ArrayField(models.FloatField())
    recorded_by = models.CharField(max_length=100)
    journal_seq = models.PositiveBigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["casualty", "signal", "t0"])]


class CasualtyNote(models.Model):
    casualty = models.ForeignKey(Casualty, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField(max_length=4000)
    author = models.CharField(max_length=100)
    written_at = models.DateTimeField()
    journal_seq = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["written_at", "id"]


class CasualtyMedia(models.Model):
    casualty = models.ForeignKey(Casualty, on_delete=models.CASCADE, related_name="media")
    media = models.ForeignKey("hub.MediaFile", on_delete=models.PROTECT, related_name="attachments")
    caption = models.CharField(max_length=500, blank=True)
    attached_by = models.CharField(max_length=100)
    attached_at = models.DateTimeField()
    journal_seq = models.PositiveBigIntegerField()

    class Meta:
        verbose_name_plural = "casualty media"
        ordering = ["attached_at", "id"]
