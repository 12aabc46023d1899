import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Consult(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("requested")
        OFFERED = "offered", _("offered")
        JOINED = "joined", _("joined")
        ENDED = "ended", _("ended")

    class Urgency(models.TextChoices):
        IMMEDIATE = "immediate", _("immediate")
        URGENT = "urgent", _("urgent")
        ROUTINE = "routine", _("routine")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    casualty = models.ForeignKey(
        "field_terminal.Casualty", on_delete=models.PROTECT, related_name="consults"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    urgency = models.CharField(max_length=16, choices=Urgency.choices, default=Urgency.URGENT)
    specialty = models.CharField(max_length=32)
    reason = models.CharField(max_length=500, blank=True)
    # The requester's consent to a recording by the media bridge, and whether the bridge
    # should relay the requester's single uplink to the other participants.
    record = models.BooleanField(default=False)
    fanout = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        "hub.Terminal", on_delete=models.PROTECT, related_name="requested_consults"
    )
    requested_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "specialty"])]

    def __str__(self) -> str:
        return f"{self.specialty} consult on {self.casualty_id} ({self.status})"

    @property
    def topic(self) -> str:
        return f"consult:{self.id}"


class ConsultParticipant(models.Model):
    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="participants")
    terminal = models.ForeignKey("hub.Terminal", on_delete=models.PROTECT, related_name="consults")
    role = models.CharField(max_length=16)
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consult", "terminal"], name="one_seat_per_terminal")
        ]

    def __str__(self) -> str:
        return f"{self.terminal_id} in {self.consult_id} as {self.role}"


class ConsultOffer(models.Model):
    """An expert a consult was offered to: who must hear when the offer is withdrawn."""

    consult = models.ForeignKey(Consult, on_delete=models.CASCADE, related_name="offers")
    terminal = models.ForeignKey(
        "hub.Terminal", on_delete=models.PROTECT, related_name="consult_offers"
    )
    offered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consult", "terminal"], name="one_offer_per_expert")
        ]

    def __str__(self) -> str:
        return f"{self.consult_id} offered to {self.terminal_id}"


class ExpertSpecialty(models.Model):
    """Which specialties an expert terminal is offered consults for."""

    terminal = models.ForeignKey(
        "hub.Terminal", on_delete=models.CASCADE, related_name="specialties"
    )
    specialty = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["terminal", "specialty"], name="one_row_per_specialty")
        ]

    def __str__(self) -> str:
        return f"{self.terminal_id}: {self.specialty}"
