from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from command_center.services import ScenarioError, scenario_load


class Command(BaseCommand):
    help = "Load (or reload) a scenario file: event, medical posts, stations, units, hospitals."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            event, counts = scenario_load(path=options["file"])
        except ScenarioError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{event.slug}: {counts.medical_posts} medical posts, {counts.stations} stations, "
            f"{counts.units} units, {counts.hospitals} hospitals"
        )
