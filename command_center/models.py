from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from command_center.lifecycles import EVENT_LIFECYCLE


class MassEvent(models.Model):
    """A mass gathering with medical cover; every casualty, terminal and drill belongs to one."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        ACTIVE = "active", _("active")
        CLOSED = "closed", _("closed")

    slug = models.SlugField(unique=True, max_length=64)
    name = models.CharField(_("name"), max_length=200)
    name_zh = models.CharField(_("Chinese name"), max_length=200, blank=True)
    venue_area = models.MultiPolygonField(_("venue area"), srid=4326, null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=EVENT_LIFECYCLE.initial
    )
    # Exercise events hold drills: their data never mixes with real operations or reports.
    is_exercise = models.BooleanField(_("exercise"), default=False)
    auto_dispatch = models.BooleanField(_("accept recommendations automatically"), default=False)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"event:{self.slug}"


class MedicalPost(models.Model):
    """A fixed on-site first-aid post or casualty collection point of an event."""

    event = models.ForeignKey(MassEvent, on_delete=models.CASCADE, related_name="medical_posts")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200, blank=True)
    location = models.PointField(srid=4326)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "code"], name="medical_post_code_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class EventStatusChange(models.Model):
    event = models.ForeignKey(MassEvent, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    changed_by = models.CharField(max_length=100)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]
