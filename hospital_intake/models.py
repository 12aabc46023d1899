from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.utils.translation import gettext_lazy as _

CAPABILITIES = ("trauma", "burns", "pediatric", "cardiac", "stroke")


class Hospital(models.Model):
    """A receiving hospital; free beds by triage category follow EDXL-HAVE's bed-capacity idea."""

    code = models.CharField(max_length=32, unique=True)
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
