"""Browser-facing protections Django 5.2 does not ship: the Content-Security-Policy and
Permissions-Policy headers, and a limit on failed logins per user name and address."""

from collections.abc import Callable
from urllib.parse import urlparse

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _


def tile_source(template: str) -> str | None:
    """The CSP source of a `{s}`/`{z}/{x}/{y}` tile URL template: its scheme and host, with a
    leading `{s}.` subdomain placeholder as a wildcard."""
    if not template:
        return None
    url = urlparse(template)
    host = url.netloc
    if host.startswith("{s}."):
        host = "*." + host[len("{s}."):]
    if "{" in host or not url.scheme:
        return None
    return f"{url.scheme}://{host}"


def content_security_policy() -> str:
    images = ["'self'", "data:", "blob:"]
    tiles = tile_source(settings.MAP_TILE_URL)
    if tiles is not None:
        images.append(tiles)
    directives = {
        "default-src": ["'self'"],
        # No inline script anywhere: pages hand data to scripts with json_script, which the
        # browser does not execute.
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Terminals speak the protocol over a socket of this origin; ws:/wss: cover the proxy
        # changing the scheme.
        "connect-src": ["'self'", "ws:", "wss:"],
        "img-src": images,
        # Recorded consults and captured media are played from object URLs.
        "media-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


# Field tablets and ambulances share their position; consults use camera and microphone.
PERMISSIONS_POLICY = "camera=(self), microphone=(self), geolocation=(self)"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Settings do not change while the process runs: build the header once.
        self.csp = content_security_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.csp)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def _client_address(request: HttpRequest) -> str:
    # Daphne runs with --proxy-headers behind nginx (deploy/), which sets X-Forwarded-For to
    # the client's address, so REMOTE_ADDR is the client's, not the proxy's.
    return str(request.META.get("REMOTE_ADDR", ""))


def _failures_key(username: str, address: str) -> str:
    return f"login-failures:{address}:{username.strip().casefold()}"


class ThrottledAuthenticationForm(AuthenticationForm):
    """LOGIN_FAILURE_LIMIT wrong passwords for one user name from one address lock that pair
    out for LOGIN_LOCKOUT_SECONDS; other users, and the same user elsewhere, are unaffected."""

    throttle_message = _("Too many failed logins for this user name from this address. "
                         "Try again in %(minutes)d minutes.")

    def clean(self) -> dict[str, object]:
        username = str(self.data.get("username", ""))
        key = _failures_key(username, _client_address(self.request) if self.request else "")
        if cache.get(key, 0) >= settings.LOGIN_FAILURE_LIMIT:
            minutes = max(1, -(-settings.LOGIN_LOCKOUT_SECONDS // 60))
            raise forms.ValidationError(self.throttle_message, code="throttled",
                                        params={"minutes": minutes})
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            # add() starts the window at the first failure; incr() does not extend it.
            if not cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
                try:
                    cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)
            raise
        cache.delete(key)
        return cleaned

    def is_throttled(self) -> bool:
        return any(error.code == "throttled" for error in self.errors.as_data().get("__all__", []))
