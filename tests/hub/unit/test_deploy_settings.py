"""Production settings pass Django's deployment checklist; the HTTPS switch is what turns it on."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SECURE_", "SESSION_COOKIE", "CSRF_COOKIE"))}
    env.update({"DEBUG": "0", "ALLOWED_HOSTS": "hub.example.org",
                "SECRET_KEY": "k9Vq2mXz7Lr4Tw8Ny1Bc6Hd3Js5Fg0Pa-Qe_Ru!Sv@Wx#Yz$Ab%Cd^Ef&Gh*Ij"})
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _check_deploy(HTTPS="1")
    assert result.returncode == 0, result.stderr


def test_without_https_the_checklist_fails_on_transport_security():
    result = _check_deploy(HTTPS="0")
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr
