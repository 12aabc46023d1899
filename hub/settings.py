"""Settings for the hub, read from the environment (see README's configuration table)."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from hub.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_http_url,
    env_int,
    env_list,
    env_str,
    redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    """SECRET_KEY, else the file SECRET_KEY_FILE names (made by deploy/bootstrap.sh)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = Path(env_str("SECRET_KEY_FILE", str(BASE_DIR / "var" / "secret-key")))
    if key_file.is_file():
        return key_file.read_text().strip()
    if DEBUG:
        return "dev-only-insecure-key"
    raise ImproperlyConfigured(
        f"SECRET_KEY is required when DEBUG is off: set it, or put one in {key_file}"
    )


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "hub",
    "command_center",
    "field_terminal",
    "ambulance",
    "hospital_intake",
    "teleconsult",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "hub.security.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "hub.urls"
ASGI_APPLICATION = "hub.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "hub" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hub.context_processors.exercise",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/mcihub"),
}
# Consumers call the database from a thread pool; keeping each thread's connection open saves
# a PostgreSQL handshake per frame. No health check (a SELECT 1 before every frame): a
# connection that died with a PostgreSQL restart fails its next frame, which is answered
# `unavailable` and re-sent by the terminal, and Django then drops the broken connection.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
# Parallel test runs (several engineers on one machine) each need their own test database.
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_mcihub")}
DATABASES["default"]["OPTIONS"] = {"connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 3)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Debian 12 ships GDAL 3.6. The hub builds geometries only from numbers and from its own
# scenario GeoJSON, never from user-supplied spatial reference files, which W001 is about.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

REDIS_URL = redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")
# The journal in PostgreSQL is the source of truth and every consumer fills gaps from it, so the
# layer only has to fan out fast: the pub/sub layer publishes once per message whatever the
# number of subscribers, and redis-py re-subscribes by itself after a Redis restart.
# socket_timeout=None: redis-py 8 defaults it to 5 s, which tears idle readers down
# (channels_redis issue 422); keepalive and health checks find a dead connection instead.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": None,
                    "socket_connect_timeout": 2,
                    "socket_keepalive": True,
                    "health_check_interval": 15,
                }
            ],
            # Redis pub/sub ignores database numbers: the prefix keeps test hubs apart.
            "prefix": env_str("HUB_CHANNEL_PREFIX", "mcihub"),
        },
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "node_modules"] if (BASE_DIR / "node_modules").is_dir() else []
# WhiteNoise serves static files from Daphne itself; in DEBUG it reads the finders directly.
WHITENOISE_USE_FINDERS = True
# Map tiles for the console ({z}/{x}/{y} template); empty: no tiles, every layer still drawn,
# as on a hub without internet access.
MAP_TILE_URL = env_str("MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION", "")
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_MAX_BYTES = env_int("MEDIA_MAX_BYTES", 50 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Realtime protocol knobs (PROTOCOL.md leaves them to the hub; docs/protocol.md documents them).
HUB_HELLO_TIMEOUT_SECONDS = env_float("HUB_HELLO_TIMEOUT_SECONDS", 10.0, minimum=0.1)
# On SIGTERM (hub/serve.py): how long frames in flight may take to commit and be acknowledged,
# then how long the sockets' close handshakes (1001) may take, before the process stops anyway.
HUB_STOP_DRAIN_SECONDS = env_float("HUB_STOP_DRAIN_SECONDS", 5.0, minimum=0.0)
HUB_STOP_CLOSE_SECONDS = env_float("HUB_STOP_CLOSE_SECONDS", 2.0, minimum=0.0)
HUB_RATE_LIMIT_PER_SECOND = env_float("HUB_RATE_LIMIT_PER_SECOND", 60.0, minimum=30.0)
HUB_RATE_LIMIT_BURST = env_int("HUB_RATE_LIMIT_BURST", 240, minimum=1)
HUB_WATCH_INTERVAL_SECONDS = env_float("HUB_WATCH_INTERVAL_SECONDS", 1.0, minimum=0.05)
HUB_DATABASE_THREADS = env_int("HUB_DATABASE_THREADS", 16, minimum=1)
# Group commit of the busy message types (hub/group_commit.py): transactions in flight per
# process, and the most frames one of them stores. One writer: a batch costs a dozen
# statements whatever its size, so on a busy process one writer's larger batches cost less
# CPU per frame than two writers' halves, and were faster end to end (docs/performance.md).
HUB_GROUP_COMMIT_WRITERS = env_int("HUB_GROUP_COMMIT_WRITERS", 1, minimum=1)
HUB_GROUP_COMMIT_MAX_FRAMES = env_int("HUB_GROUP_COMMIT_MAX_FRAMES", 200, minimum=1)

# Dispatch: the optimizer's budget per re-solve, the worker's debounce, and travel times
# (command_center/travel.py: an estimate from distance by default, OSRM in production).
DISPATCH_TIME_LIMIT = env_float("DISPATCH_TIME_LIMIT", 1.0, minimum=0.05)
DISPATCH_DEBOUNCE_SECONDS = env_float("DISPATCH_DEBOUNCE_SECONDS", 2.0, minimum=0.0)
DISPATCH_ROAD_SPEED_KMH = env_float("DISPATCH_ROAD_SPEED_KMH", 40.0, minimum=1.0)
DISPATCH_TRAVEL_PROVIDER = env_choice("DISPATCH_TRAVEL_PROVIDER", "estimate", ("estimate", "osrm"))
OSRM_URL = env_http_url("OSRM_URL")
OSRM_TIMEOUT_SECONDS = env_float("OSRM_TIMEOUT_SECONDS", 2.0, minimum=0.1)

# Teleconsult: ICE servers handed to clients; TURN passwords are minted per terminal with
# coturn's shared secret (deploy/coturn/turnserver.conf) and expire after the TTL.
TELECONSULT_STUN_URLS = env_list("TELECONSULT_STUN_URLS", [])
TELECONSULT_TURN_URLS = env_list("TELECONSULT_TURN_URLS", [])
TELECONSULT_TURN_SECRET = env_str("TELECONSULT_TURN_SECRET", "")
TELECONSULT_TURN_TTL_SECONDS = env_int("TELECONSULT_TURN_TTL_SECONDS", 6 * 3600, minimum=60)
# The command terminal the aiortc media bridge runs as; it is offered every consult whose
# requester consented to a recording or asked for fan-out.
TELECONSULT_BRIDGE_TERMINAL = env_str("TELECONSULT_BRIDGE_TERMINAL", "media-bridge")
if DISPATCH_TRAVEL_PROVIDER == "osrm" and not OSRM_URL:
    raise ImproperlyConfigured("OSRM_URL is required when DISPATCH_TRAVEL_PROVIDER is osrm")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hub.authentication.TerminalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["hub.api_permissions.IsTerminal"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 200,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MCI dispatch hub API",
    "DESCRIPTION": "REST side of the hub: map layers, records and media upload. "
    "Realtime traffic uses the WebSocket terminal protocol (docs/protocol.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The hub runs where there is no internet: Swagger UI is served from the sidecar package.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}},
}

# Cache: the login failure counts, shared by every server process through Redis (key prefix:
# hubs sharing one Redis stay apart). Entries expire; Redis must not evict (deploy/redis).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("HUB_CHANNEL_PREFIX", "mcihub"),
    }
}
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)

# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; empty: no metrics page.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# Production sits behind the TLS proxy of deploy/nginx: HTTPS=1 turns on everything
# `manage.py check --deploy` asks for. Off, the hub serves plain HTTP, as on an isolated drill
# LAN without certificates and in the tests.
HTTPS = env_bool("HTTPS", False)
if HTTPS:
    # nginx overwrites X-Forwarded-Proto; Daphne is reachable from the proxy only.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Prometheus and health checks reach each Daphne directly, over the private network.
    SECURE_REDIRECT_EXEMPT = [r"^metrics$", r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
