from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from hub.protocol_reference import render_protocol_reference


class Command(BaseCommand):
    help = "Write docs/protocol.md from the payload declarations (or print it with --stdout)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stdout", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        text = render_protocol_reference()
        if options["stdout"]:
            self.stdout.write(text)
            return
        target = Path(settings.BASE_DIR) / "docs" / "protocol.md"
        target.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {target}")
