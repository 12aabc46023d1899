"""Demo accounts, one per role, each with its browser terminal. Passwords print only once."""

import secrets
from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.gis.db.models.functions import Distance
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from ambulance.models import Unit
from command_center.models import MassEvent
from hospital_intake.models import Hospital
from hospital_intake.scope import hospitals_serving_filter
from hub.models import Terminal
from hub.roles import ROLE_TERMINAL_KIND


def _first_unit(event: MassEvent) -> Unit | None:
    """The unit whose onboard app the demo shows: one from the station nearest the event's
    first medical post, the first to be sent."""
    units = Unit.objects.filter(event=event)
    post = event.medical_posts.order_by("code").first()
    if post is None:
        return units.order_by("callsign").first()
    return units.annotate(distance=Distance("station__location", post.location)).order_by(
        "distance", "callsign").first()


def _receiving_hospital(event: MassEvent) -> Hospital | None:
    """The hospital whose screen the demo shows: of those serving the event (an exercise's own
    copies), the trauma centre nearest the event's first medical post, where most patients of
    a drill go."""
    serving = Hospital.objects.filter(
        hospitals_serving_filter(event_id=event.pk, is_exercise=event.is_exercise))
    post = event.medical_posts.order_by("code").first()
    if post is None:
        return serving.order_by("code").first()
    trauma = serving.filter(capabilities__contains=["trauma"])
    return (trauma if trauma.exists() else serving).annotate(
        distance=Distance("location", post.location)).order_by("distance", "code").first()


class Command(BaseCommand):
    help = "Create one demo user per role for an event, with a terminal each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--event", default="wic-2019")
        parser.add_argument("--reset", action="store_true",
                            help="give existing users new passwords")

    def handle(self, *args: Any, **options: Any) -> None:
        event = MassEvent.objects.filter(slug=options["event"]).first()
        if event is None:
            raise CommandError(f"--event: no event {options['event']!r}; load a scenario first")
        unit = _first_unit(event)
        hospital = _receiving_hospital(event)
        if unit is None or hospital is None:
            raise CommandError("the event needs at least one unit and one hospital")
        accounts: list[tuple[str, str, dict[str, Any]]] = [
            ("dispatcher", "dispatcher", {"event": event}),
            ("medic", "field medic", {"event": event}),
            ("crew", "ambulance crew", {"event": event, "unit": unit}),
            ("hospital", "hospital staff", {"hospital": hospital}),
            ("expert", "remote expert", {}),
            ("admin", "administrator", {"event": event}),
        ]
        printed = []
        with transaction.atomic():
            for username, role, binding in accounts:
                user, created = User.objects.get_or_create(username=username)
                if created or options["reset"]:
                    password = secrets.token_urlsafe(9)
                    user.set_password(password)
                    printed.append((username, role, password))
                user.is_staff = user.is_superuser = role == "administrator"
                user.save()
                user.groups.set([Group.objects.get(name=role)])
                Terminal.objects.update_or_create(
                    name=f"web-{username}",
                    defaults={"kind": ROLE_TERMINAL_KIND[role], "user": user,
                              "event": binding.get("event"), "unit": binding.get("unit"),
                              "hospital": binding.get("hospital"), "revoked_at": None},
                )
        if printed:
            self.stdout.write("Demo users (passwords are shown only now):")
            for username, role, password in printed:
                self.stdout.write(f"  {username:<11} {role:<15} password: {password}")
        else:
            self.stdout.write("Demo users exist already; `manage.py demo_users --reset` "
                              "prints new passwords.")
