"""`terminal_token KIND NAME [--event SLUG] [--unit CALLSIGN] [--hospital CODE] [--revoke]`."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ambulance.models import Unit
from command_center.models import MassEvent
from hospital_intake.models import Hospital
from hub.errors import Invalid
from hub.models import Terminal, TerminalKind
from hub.services import terminal_token_issue, terminal_token_revoke


class Command(BaseCommand):
    help = ("Create a terminal or rotate its token, and print the token alone on stdout; "
            "--revoke revokes it. Old tokens stop working and their sockets close with 4403.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=TerminalKind.values)
        parser.add_argument("name")
        parser.add_argument("--event", help="slug of the mass event the terminal works in")
        parser.add_argument("--unit", help="callsign of the ambulance (ambulance terminals)")
        parser.add_argument("--hospital", help="code of the hospital (hospital terminals)")
        parser.add_argument("--revoke", action="store_true", help="revoke the terminal's token")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, name = options["kind"], options["name"]
        if options["revoke"]:
            existing = Terminal.objects.filter(name=name).first()
            if existing is None:
                raise CommandError(f"NAME: no terminal is called {name!r}")
            if existing.kind != kind:
                raise CommandError(f"KIND: {name} is a {existing.kind} terminal, not {kind}")
            terminal_token_revoke(name=name, revoked_by="terminal_token command")
            self.stderr.write(f"revoked {name}")
            return
        event = self._lookup(MassEvent, "slug", options["event"], "--event")
        unit = self._lookup(Unit, "callsign", options["unit"], "--unit")
        hospital = self._lookup(Hospital, "code", options["hospital"], "--hospital")
        existing = Terminal.objects.filter(name=name).first()
        if kind == TerminalKind.AMBULANCE and unit is None and (existing is None or
                                                                existing.unit is None):
            raise CommandError("--unit: an ambulance terminal needs the unit's callsign")
        if kind == TerminalKind.HOSPITAL and hospital is None and (
            existing is None or existing.hospital is None
        ):
            raise CommandError("--hospital: a hospital terminal needs the hospital's code")
        try:
            issued = terminal_token_issue(kind=kind, name=name, event=event, unit=unit,
                                          hospital=hospital, issued_by="terminal_token command")
        except Invalid as error:
            raise CommandError(error.message) from None
        self.stdout.write(issued.token)

    @staticmethod
    def _lookup(model: Any, field: str, value: str | None, option: str) -> Any:
        if value is None:
            return None
        found = model.objects.filter(**{field: value}).first()
        if found is None:
            raise CommandError(f"{option}: no {model._meta.verbose_name} {value!r}")
        return found
