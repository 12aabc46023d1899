import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TerminalKind(models.TextChoices):
    FIELD = "field", _("field medic tablet")
    AMBULANCE = "ambulance", _("ambulance onboard app")
    EXPERT = "expert", _("remote expert console")
    HOSPITAL = "hospital", _("hospital receiving screen")
    COMMAND = "command", _("command console")


class Terminal(models.Model):
    """A device or a logged-in user's browser: the identity behind every protocol frame."""

    kind = models.CharField(max_length=16, choices=TerminalKind.choices)
    name = models.CharField(max_length=100, unique=True)
    event = models.ForeignKey(
        "command_center.MassEvent", on_delete=models.PROTECT, null=True, blank=True,
        related_name="terminals",
    )
    unit = models.ForeignKey(
        "ambulance.Unit", on_delete=models.PROTECT, null=True, blank=True, related_name="terminals"
    )
    hospital = models.ForeignKey(
        "hospital_intake.Hospital", on_delete=models.PROTECT, null=True, blank=True,
        related_name="terminals",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="terminal",
    )
    # SHA-256 of the token: tokens carry 256 random bits, so a fast hash is enough and a
    # stolen database does not hand out working tokens.
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    token_issued_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="ambulance") | models.Q(unit__isnull=False),
                name="ambulance_terminal_has_unit",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="hospital") | models.Q(hospital__isnull=False),
                name="hospital_terminal_has_hospital",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def topic(self) -> str:
        return f"terminal:{self.name}"


class Topic(models.Model):
    """The head of one topic's journal; its row lock orders every append to that topic."""

    name = models.CharField(max_length=200, primary_key=True)
    head_seq = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} @ {self.head_seq}"


class JournalEntry(models.Model):
    """Every message the hub delivered or will deliver, in per-topic seq order. Append-only."""

    topic = models.CharField(max_length=200)
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=64)
    client_id = models.CharField(max_length=64)
    terminal = models.ForeignKey(
        Terminal, on_delete=models.PROTECT, null=True, blank=True, related_name="journal_entries"
    )
    sender = models.CharField(max_length=100)
    data = models.JSONField()
    stored_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(fields=["topic", "seq"], name="journal_topic_seq_unique"),
            # The idempotency key of PROTOCOL.md. Hub-made messages have no terminal and a
            # fresh uuid id, so they never collide.
            models.UniqueConstraint(
                fields=["terminal", "client_id"], name="journal_terminal_client_id_unique"
            ),
        ]
        indexes = [models.Index(fields=["type", "stored_at"])]

    def __str__(self) -> str:
        return f"{self.topic}#{self.seq} {self.type}"


def media_upload_path(instance: "MediaFile", filename: str) -> str:
    return f"media/{instance.uploaded_at:%Y/%m/%d}/{instance.id}{instance.extension}"


class MediaFile(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", _("image")
        AUDIO = "audio", _("audio")
        VIDEO = "video", _("video")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    content_type = models.CharField(max_length=100)
    extension = models.CharField(max_length=8)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=media_upload_path, max_length=200)
    original_name = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(Terminal, on_delete=models.PROTECT, related_name="uploads")
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.size} bytes)"


class AuditEntry(models.Model):
    """Who read or changed what, chained by hash so that a removed or edited row shows."""

    actor = models.CharField(max_length=100)
    action = models.CharField(max_length=32)
    target = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["id"]
        indexes = [models.Index(fields=["target", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target}"
