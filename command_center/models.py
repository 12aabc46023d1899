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


class Recommendation(models.Model):
    """One solve of an event's dispatch snapshot: the instance, the plan and their scores."""

    class Status(models.TextChoices):
        CURRENT = "current", _("current")
        SUPERSEDED = "superseded", _("superseded")

    event = models.ForeignKey(MassEvent, on_delete=models.CASCADE, related_name="recommendations")
    # The snapshot's moment: every change journaled before it is in the instance.
    generated_at = models.DateTimeField()
    instance = models.JSONField()
    plan = models.JSONField()
    objective = models.FloatField()
    baseline = models.FloatField()
    solve_ms = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CURRENT)

    class Meta:
        ordering = ["-generated_at", "-id"]
        indexes = [models.Index(fields=["event", "generated_at"])]


class RecommendationItem(models.Model):
    """One casualty of a recommendation: who takes it where, when, and why."""

    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.CASCADE, related_name="items"
    )
    casualty = models.ForeignKey(
        "field_terminal.Casualty", on_delete=models.CASCADE, related_name="recommendations"
    )
    unit = models.ForeignKey("ambulance.Unit", on_delete=models.CASCADE, related_name="+")
    hospital = models.ForeignKey(
        "hospital_intake.Hospital", on_delete=models.CASCADE, related_name="+"
    )
    category = models.CharField(max_length=8)
    # 0 for the unit's next trip; later trips wait until the unit is free again.
    unit_trip = models.PositiveSmallIntegerField()
    pickup_eta = models.DateTimeField()
    arrival_eta = models.DateTimeField()
    survival = models.FloatField()
    explain = models.CharField(max_length=500)
    transport = models.OneToOneField(
        "ambulance.Transport", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="recommendation_item",
    )

    class Meta:
        ordering = ["recommendation", "unit_trip", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recommendation", "casualty"], name="one_item_per_casualty"
            )
        ]


def review_report_path(instance: "ReviewReport", filename: str) -> str:
    return f"reports/{instance.event_id}/{instance.pk}/{filename}"


class ReviewReport(models.Model):
    """One build of an event's after-action report: its progress while it builds, then its
    files. A row, not a process, so that a reloaded page finds the build where it is."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    event = models.ForeignKey(MassEvent, on_delete=models.CASCADE, related_name="review_reports")
    language = models.CharField(max_length=8)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=32, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    requested_by = models.CharField(max_length=100)
    requested_at = models.DateTimeField()
    # Written at every step: a build whose process died stops beating and shows as failed.
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    html_file = models.FileField(upload_to=review_report_path, max_length=200, blank=True)
    pdf_file = models.FileField(upload_to=review_report_path, max_length=200, blank=True)
    casualties_csv = models.FileField(upload_to=review_report_path, max_length=200, blank=True)
    units_csv = models.FileField(upload_to=review_report_path, max_length=200, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["event", "requested_at"])]

    def __str__(self) -> str:
        return f"report #{self.pk} of {self.event_id} ({self.state} {self.progress}%)"
