"""`manage.py media_bridge --hub ws://host/ws/terminal/ --http http://host`: run the aiortc
media bridge; its token comes from the MEDIA_BRIDGE_TOKEN environment variable so that it
never shows in a process list."""

import asyncio
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from teleconsult.bridge import run_bridge


class Command(BaseCommand):
    help = "Run the teleconsult media bridge (recording and fan-out) as a peer of the hub."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hub", required=True, help="the hub's /ws/terminal/ URL")
        parser.add_argument("--http", required=True, help="the hub's base URL for uploads")

    def handle(self, *args: Any, **options: Any) -> None:
        token = os.environ.get("MEDIA_BRIDGE_TOKEN", "")
        if not token:
            raise CommandError("MEDIA_BRIDGE_TOKEN: is required (manage.py terminal_token "
                               f"command {settings.TELECONSULT_BRIDGE_TERMINAL})")
        asyncio.run(run_bridge(ws_url=options["hub"], http_url=options["http"], token=token,
                               name=settings.TELECONSULT_BRIDGE_TERMINAL))
