"""`python -m hub.serve ...`: Daphne, with one protocol option it does not expose.

PROTOCOL.md says a message over 1 MiB closes the connection with 1009. Autobahn, under
Daphne, detects it, but by default "fails by drop": it cuts TCP without a close frame, so
the terminal sees 1006 and cannot tell why. `failByDrop = False` makes it send the 1009 close
first. Daphne builds its factory from `daphne.server.WebSocketFactory`, so the hub's own
subclass is put there before Daphne's command line runs; every other option stays Daphne's.
"""

from typing import Any

import daphne.server
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketFactory


class HubWebSocketFactory(WebSocketFactory):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setProtocolOptions(failByDrop=False)


def main() -> None:
    daphne.server.WebSocketFactory = HubWebSocketFactory
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
