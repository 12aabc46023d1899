"""Settings come from the environment; a bad value fails loudly, naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from hub import env

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("HUB_X", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("raw", ["maybe", "2", "tru"])
def test_a_boolean_that_is_not_one_names_the_variable(clean_env, raw):
    clean_env.setenv("HUB_X", raw)
    with pytest.raises(ImproperlyConfigured, match="HUB_X must be a boolean"):
        env.env_bool("HUB_X", False)


def test_booleans_integers_and_lists_parse(clean_env):
    clean_env.setenv("HUB_X", "yes")
    assert env.env_bool("HUB_X", False) is True
    clean_env.setenv("HUB_X", "42")
    assert env.env_int("HUB_X", 0) == 42
    clean_env.setenv("HUB_X", "a.example, b.example,")
    assert env.env_list("HUB_X", []) == ["a.example", "b.example"]


def test_integer_below_its_minimum_is_refused(clean_env):
    clean_env.setenv("HUB_X", "-3")
    with pytest.raises(ImproperlyConfigured, match="HUB_X must be >= 0"):
        env.env_int("HUB_X", 1, minimum=0)


def test_database_url_must_be_postgis(clean_env):
    clean_env.setenv("DATABASE_URL", "mysql://root@localhost/hub")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must be a postgis"):
        env.database_from_url("DATABASE_URL", "postgis://x@h/db")
    clean_env.setenv("DATABASE_URL", "postgres://ops:s%40cret@db.internal:6543/mci")
    parsed = env.database_from_url("DATABASE_URL", "postgis://x@h/db")
    assert parsed["ENGINE"] == "django.contrib.gis.db.backends.postgis"
    assert (parsed["USER"], parsed["PASSWORD"], parsed["HOST"], parsed["PORT"], parsed["NAME"]) == (
        "ops", "s@cret", "db.internal", "6543", "mci")


def _settings_import(extra_env):
    env_vars = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env_vars.update(extra_env)
    return subprocess.run(
        [sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='hub.settings';"
         " from django.conf import settings; print(settings.TIME_ZONE, settings.LANGUAGE_CODE)"],
        cwd=ROOT, env=env_vars, capture_output=True, text=True, timeout=60,
    )


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = _settings_import({"DEBUG": "0", "SECRET_KEY_FILE": str(tmp_path / "absent")})
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_defaults_are_shanghai_time_and_simplified_chinese():
    result = _settings_import({"DEBUG": "0", "SECRET_KEY": "x" * 50})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Asia/Shanghai", "zh-hans"]


def test_a_bad_redis_url_stops_start_up():
    result = _settings_import({"DEBUG": "1", "REDIS_URL": "http://127.0.0.1:6379"})
    assert result.returncode != 0 and "REDIS_URL must be a redis:// URL" in result.stderr
