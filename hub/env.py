"""Typed readers for settings that come from the environment.

Every reader raises ImproperlyConfigured naming the variable and what it expected, so a bad
deployment fails at start-up rather than at the first casualty report.
"""

import os
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"{name} is required but not set")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_http_url(name: str, default: str = "") -> str:
    """An http(s) URL, or the default (empty means not configured)."""
    raw = os.environ.get(name, default).strip()
    if raw and (urlparse(raw).scheme not in {"http", "https"} or not urlparse(raw).netloc):
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// URL, got {raw!r}")
    return raw


def database_from_url(name: str, default: str) -> dict[str, object]:
    """Django DATABASES entry for a `postgis://user:password@host:port/dbname` URL."""
    raw = os.environ.get(name, default)
    url = urlparse(raw)
    if url.scheme not in {"postgis", "postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"{name} must be a postgis:// (or postgres://) URL, got scheme {url.scheme!r}"
        )
    database = url.path.lstrip("/")
    if not database:
        raise ImproperlyConfigured(f"{name} must name a database, got {raw!r}")
    try:
        port = url.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a bad port: {raw!r}") from None
    return {
        # GeoDjango needs the PostGIS backend whatever scheme the operator wrote.
        "ENGINE": "django.contrib.gis.db.backends.postgis",
        "NAME": unquote(database),
        "USER": unquote(url.username or "postgres"),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(port or 5432),
    }


def redis_url(name: str, default: str) -> str:
    raw = os.environ.get(name, default)
    url = urlparse(raw)
    if url.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"{name} must be a redis:// URL, got {raw!r}")
    return raw
