from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from hub.protocol_reference import render_protocol_reference


class Command(BaseCommand):
    help = "Write docs/protocol.md from the payload declarations (or print it with --stdout)."

    def add_arguments(self, parser: CommandParser) -> None:
        # Not dest "stdout": BaseCommand.execute takes options["stdout"] as its output stream.
        parser.add_argument("--stdout", action="store_true", dest="to_stdout",
                            help="print the reference instead of writing docs/protocol.md")

    def handle(self, *args: Any, **options: Any) -> None:
        text = render_protocol_reference()
        if options["to_stdout"]:
            self.stdout.write(text)
            return
        target = Path(settings.BASE_DIR) / "docs" / "protocol.md"
        target.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {target}")
