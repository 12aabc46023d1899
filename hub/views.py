import redis
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from hub.selectors import terminal_for_user

# Where each kind of terminal works; later screens fill these paths in.
TERMINAL_SCREENS = {
    "command": ("/command/", _("Command console")),
    "hospital": ("/hospital/", _("Hospital receiving screen")),
    "field": ("/field/", _("Field medic tablet")),
    "ambulance": ("/ambulance/", _("Ambulance onboard app")),
    "expert": ("/expert/", _("Remote expert console")),
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    assert request.user.pk is not None  # login_required
    terminal = terminal_for_user(user_id=request.user.pk)
    screen = TERMINAL_SCREENS.get(terminal.kind) if terminal else None
    return render(request, "hub/home.html", {
        "terminal": terminal,
        "screen_url": screen[0] if screen else None,
        "screen_name": screen[1] if screen else None,
        "roles": [group.name for group in request.user.groups.all()],
    })


def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT postgis_version()")
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"down: {error.__class__.__name__}"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
        checks["redis"] = "ok"
    except Exception as error:
        checks["redis"] = f"down: {error.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
