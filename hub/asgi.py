import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - needs Django set up
from django.urls import path  # noqa: E402

from hub.consumers import TerminalConsumer  # noqa: E402
from hub.origin import OriginCheck  # noqa: E402
from hub.socket_session import socket_auth_stack  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheck(
            socket_auth_stack(URLRouter([path("ws/terminal/", TerminalConsumer.as_asgi())]))
        ),
    }
)
