"""deploy/ run for real: nginx (nginx -t, then TLS, redirects, headers and WebSocket proxying
in front of two Daphnes started from the systemd unit's own ExecStart), the systemd units
(systemd-analyze verify), Redis with deploy/redis/redis.conf, and coturn with
deploy/coturn/turnserver.conf answering a TURN allocation made with the hub's credentials.

Everything listens on loopback ports chosen here; the addresses of the files (10.0.0.x, 80,
443, /etc/mcihub) are rewritten, and each rewrite must match exactly once, so a change of the
file that the rewrite no longer fits fails here instead of passing untested.
"""

import asyncio
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.support.hubs import ROOT, DaphneProcess, free_port
from tests.support.protocol import RawTerminal

DEPLOY = ROOT / "deploy"


def _rewrite(text: str, replacements: list[tuple[str, str]]) -> str:
    for old, new in replacements:
        assert text.count(old) == 1, f"expected {old!r} once in the deploy file"
        text = text.replace(old, new)
    return text


def _unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of a systemd unit, continuation lines joined."""
    entries, section = [], ""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def _unit_value(path: Path, key: str) -> str:
    (value,) = [v for _, k, v in _unit_entries(path) if k == key]
    return value


def _env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (DEPLOY / "mcihub.env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return {key: value for key, value in pairs}


def _installed_at_repo(text: str) -> str:
    # The units name the install directory of docs/deploy.md; here that is the repository.
    return text.replace("/srv/mcihub", str(ROOT))


# --- systemd --------------------------------------------------------------------------------

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze missing: deploy/bootstrap.sh installs it"
    names = []
    for unit in UNITS:
        # A template is verified as an instance, with the port of docs/deploy.md.
        name = unit.name.replace("@.service", "@8001.service")
        (tmp_path / name).write_text(_installed_at_repo(unit.read_text()))
        names.append(f"./{name}")
    result = subprocess.run(["systemd-analyze", "verify", *names], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    # verify exits 0 on unknown keys and bad values too, and says so on stderr.
    assert (result.returncode, result.stderr) == (0, ""), result.stderr


def test_every_variable_the_units_expand_is_set_in_the_env_example():
    example = _env_example()
    for unit in UNITS:
        used = set(re.findall(r"\$\{(\w+)\}", _unit_value(unit, "ExecStart")))
        assert used <= example.keys(), (unit.name, used - example.keys())
        assert _unit_value(unit, "EnvironmentFile") == "/etc/mcihub/mcihub.env"


def test_the_dispatch_worker_units_command_exists():
    unit = DEPLOY / "systemd" / "mcihub-dispatch-worker.service"
    argv = shlex.split(_installed_at_repo(_unit_value(unit, "ExecStart")))
    result = subprocess.run([*argv[:2], "help", *argv[2:]], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "dispatch" in result.stdout.lower()


# --- nginx in front of two Daphnes ----------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key


class Nginx:
    """deploy/nginx/mcihub.conf inside a minimal nginx.conf, under its own prefix."""

    def __init__(self, prefix: Path, upstream_ports: tuple[int, int]) -> None:
        assert shutil.which("nginx"), "nginx missing: deploy/bootstrap.sh installs it"
        self.prefix = prefix
        self.http_port, self.https_port = free_port(), free_port()
        cert, key = _self_signed(prefix)
        self.cert = cert
        site = _rewrite((DEPLOY / "nginx" / "mcihub.conf").read_text(), [
            ("server 127.0.0.1:8001 ", f"server 127.0.0.1:{upstream_ports[0]} "),
            ("server 127.0.0.1:8002 ", f"server 127.0.0.1:{upstream_ports[1]} "),
            ("    listen 80;\n    listen [::]:80;\n", f"    listen 127.0.0.1:{self.http_port};\n"),
            ("    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n",
             f"    listen 127.0.0.1:{self.https_port} ssl http2;\n"),
            ("/etc/mcihub/tls/fullchain.pem", str(cert)),
            ("/etc/mcihub/tls/privkey.pem", str(key)),
            ("/srv/mcihub/var/static/", f"{ROOT}/var/static/"),
        ])
        (prefix / "mcihub.conf").write_text(site)
        temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind}_temp;"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.conf = prefix / "nginx.conf"
        # As root the workers would run as nobody, who cannot enter pytest's 0700 temp
        # directories (proxy buffers spill to the prefix); elsewhere `user` is not allowed.
        user = "user root root;" if os.geteuid() == 0 else ""
        self.conf.write_text(f"""
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {prefix}/access.log;
{temp}
    include {prefix}/mcihub.conf;
}}
""")
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *extra: str) -> list[str]:
        return ["nginx", "-p", str(self.prefix), "-e", str(self.prefix / "error.log"),
                "-c", str(self.conf), *extra]

    def start(self) -> "Nginx":
        self.process = subprocess.Popen(self.command("-g", "daemon off;"),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr and self.process.stderr.read()
            try:
                requests.get(f"http://127.0.0.1:{self.http_port}/", allow_redirects=False,
                             timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer: {(self.prefix / 'error.log').read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def _unit_daphne(env: dict[str, str], metrics_dir: Path) -> DaphneProcess:
    """A Daphne started as mcihub-daphne@<port> starts it: the unit's ExecStart, with %i the
    port and HUB_BIND loopback, and its Environment= line."""
    unit = DEPLOY / "systemd" / "mcihub-daphne@.service"
    hub = DaphneProcess(env=env)
    command = _installed_at_repo(_unit_value(unit, "ExecStart"))
    hub.argv = shlex.split(command.replace("%i", str(hub.port))
                           .replace("${HUB_BIND}", "127.0.0.1"))
    (setting,) = [v for _, k, v in _unit_entries(unit) if k == "Environment"]
    key, value = setting.split("=", 1)
    assert (key, value) == ("PROMETHEUS_MULTIPROC_DIR", "/run/mcihub/metrics")
    hub.env = env | {key: str(metrics_dir)}
    return hub


@pytest.fixture(scope="module")
def proxied(hub_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Nginx, list[DaphneProcess]]]:
    # Production mode, as deploy/mcihub.env.example sets it: HTTPS=1 behind the proxy.
    env = hub_env | {"HTTPS": "1", "CSRF_TRUSTED_ORIGINS": "https://127.0.0.1"}
    metrics_dir = tmp_path_factory.mktemp("metrics")
    hubs = [_unit_daphne(env, metrics_dir).start(), _unit_daphne(env, metrics_dir).start()]
    nginx = Nginx(tmp_path_factory.mktemp("nginx"), (hubs[0].port, hubs[1].port)).start()
    yield nginx, hubs
    nginx.stop()
    for hub in hubs:
        hub.stop()


def test_nginx_accepts_the_config_with_a_self_signed_certificate(tmp_path):
    nginx = Nginx(tmp_path, (free_port(), free_port()))
    result = subprocess.run(nginx.command("-t"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


def test_https_pages_come_through_nginx_with_the_security_headers(proxied):
    nginx, _ = proxied
    response = requests.get(f"{nginx.https_url}/login/", verify=str(nginx.cert), timeout=10)
    assert response.status_code == 200
    headers = response.headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self';" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert "geolocation=(self)" in headers["Permissions-Policy"]
    assert "Secure" in headers["Set-Cookie"]  # the CSRF cookie, over HTTPS only


def test_http_is_redirected_to_https_keeping_the_path(proxied):
    nginx, _ = proxied
    response = requests.get(f"http://127.0.0.1:{nginx.http_port}/command/?event=wic",
                            allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == "https://127.0.0.1/command/?event=wic"


def test_metrics_are_not_served_through_the_proxy(proxied):
    nginx, hubs = proxied
    assert requests.get(f"{nginx.https_url}/metrics", verify=str(nginx.cert),
                        timeout=10).status_code == 404
    assert requests.get(f"{hubs[0].http_url}/metrics", timeout=10).status_code != 404


async def _wss(nginx: Nginx, token: str) -> RawTerminal:
    import websockets

    connection = await websockets.connect(
        f"wss://127.0.0.1:{nginx.https_port}/ws/terminal/", ssl=nginx.ssl_context(),
        open_timeout=10, ping_interval=None)
    terminal = RawTerminal(connection)
    welcome = await terminal.hello(token)
    assert welcome["type"] == "welcome", welcome
    return terminal


@pytest.mark.asyncio
async def test_a_websocket_through_nginx_speaks_the_protocol_across_both_upstreams(proxied, roles):
    nginx, _ = proxied
    # least_conn puts the second socket on the Daphne the first one is not on, so the
    # capacity message crosses processes through the Redis channel layer.
    console = await _wss(nginx, roles.command)
    screen = await _wss(nginx, roles.hospital_screen)
    assert (await console.subscribe("hospital:TX1"))["type"] == "ack"
    reply = await screen.send("capacity", "hospital:TX1", {
        "beds": {"red": 1, "yellow": 2, "green": 3}, "diversion": False})
    assert reply["type"] == "ack", reply
    (message,) = await console.messages_until("hospital:TX1", reply["seq"])
    assert message["data"]["beds"] == {"red": 1, "yellow": 2, "green": 3}
    await console.close()
    await screen.close()


@pytest.mark.asyncio
async def test_with_one_daphne_stopped_the_hub_stays_reachable_through_the_other(proxied, roles):
    nginx, hubs = proxied
    hubs[0].stop()
    try:
        for _ in range(6):
            response = await asyncio.to_thread(
                requests.get, f"{nginx.https_url}/login/", verify=str(nginx.cert), timeout=10)
            assert response.status_code == 200
        terminal = await _wss(nginx, roles.command)
        assert (await terminal.subscribe("hospital:TX1"))["type"] == "ack"
        await terminal.close()
        hubs[1].stop()
        # Neither left: the proxy has nothing to reach, which is what the answers above
        # were not.
        response = await asyncio.to_thread(
            requests.get, f"{nginx.https_url}/login/", verify=str(nginx.cert), timeout=10)
        assert response.status_code == 502
    finally:
        for hub in hubs:
            if hub.process is None or hub.process.poll() is not None:
                await asyncio.to_thread(hub.start)


# --- Redis ------------------------------------------------------------------------------------


def test_redis_runs_with_the_deploy_config_and_the_settings_the_hub_relies_on(tmp_path):
    conf = DEPLOY / "redis" / "redis.conf"
    settings = {line.split(None, 1)[0]: line.split(None, 1)[1]
                for line in conf.read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    password = settings["requirepass"]
    port = free_port()
    # The file binds the private address of docs/deploy.md; here only loopback exists.
    server = subprocess.Popen(
        ["redis-server", str(conf), "--bind", "127.0.0.1", "--port", str(port),
         "--dir", str(tmp_path), "--daemonize", "no", "--logfile", ""],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, password=password,
                             socket_timeout=5)
        deadline = time.monotonic() + 15
        while True:
            assert server.poll() is None, server.stdout and server.stdout.read()
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port, socket_timeout=5).ping()
        config = {str(key): str(value) for key, value in client.config_get("*").items()}
        assert (config["maxmemory-policy"], config["appendonly"], config["save"]) == (
            "noeviction", "no", "")
        assert config["maxmemory"] == str(512 * 1024 * 1024)
        assert "pubsub 67108864 16777216 60" in config["client-output-buffer-limit"]
        pubsub = client.pubsub()
        pubsub.subscribe("mcihub-check")
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"
        assert client.publish("mcihub-check", "x") == 1
        client.set("filler", "x" * 1000)
        assert client.get("filler") == b"x" * 1000
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)


def test_the_env_examples_redis_url_matches_the_redis_config():
    from urllib.parse import urlparse

    settings = {line.split(None, 1)[0]: line.split(None, 1)[1]
                for line in (DEPLOY / "redis" / "redis.conf").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    url = urlparse(_env_example()["REDIS_URL"])
    assert url.password == settings["requirepass"]
    assert str(url.port) == settings["port"]
    assert url.hostname in settings["bind"].split()


# --- coturn -----------------------------------------------------------------------------------


def _turn_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "coturn" / "turnserver.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.fixture
def turnserver(tmp_path: Path) -> Iterator[int]:
    assert shutil.which("turnserver"), "turnserver missing: deploy/bootstrap.sh installs coturn"
    cert, key = _self_signed(tmp_path)
    port, tls_port = free_port(), free_port()
    # Loopback only, and the relay on loopback too, which the config's denied-peer-ip keeps
    # from being a peer; the certificate paths of the file do not exist here.
    server = subprocess.Popen(
        ["turnserver", "-c", str(DEPLOY / "coturn" / "turnserver.conf"),
         "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
         "--listening-port", str(port), "--tls-listening-port", str(tls_port),
         "--cert", str(cert), "--pkey", str(key), "--pidfile", str(tmp_path / "turn.pid"),
         "--userdb", str(tmp_path / "turndb")],
        # The file logs to stdout (for journald).
        stdout=(tmp_path / "turn.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while "Total General servers" not in _read(tmp_path / "turn.log"):
            assert server.poll() is None, _read(tmp_path / "turn.log")
            assert time.monotonic() < deadline, _read(tmp_path / "turn.log")
            time.sleep(0.1)
        # turnserver skips an option it does not know, saying only this.
        assert "Bad configuration format" not in _read(tmp_path / "turn.log")
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def _allocate(port: int, username: str, password: str) -> tuple[str, int]:
    from aioice.turn import create_turn_endpoint

    transport, _ = await create_turn_endpoint(asyncio.DatagramProtocol, ("127.0.0.1", port),
                                              username=username, password=password)
    try:
        return transport.get_extra_info("related_address")
    finally:
        transport.close()


@pytest.mark.asyncio
async def test_coturn_relays_for_credentials_the_hub_mints_and_refuses_others(turnserver,
                                                                                settings):
    from aioice.stun import TransactionFailed

    from teleconsult.selectors import ice_servers

    turn = _turn_settings()
    assert "use-auth-secret" in turn and len(turn["static-auth-secret"]) == 1
    settings.TELECONSULT_TURN_SECRET = turn["static-auth-secret"][0]
    settings.TELECONSULT_TURN_URLS = [f"turn:127.0.0.1:{turnserver}"]
    (server,) = ice_servers(terminal_name="expert-1")["iceServers"]
    relayed = await asyncio.wait_for(
        _allocate(turnserver, server["username"], server["credential"]), 15)
    assert relayed[0] == "127.0.0.1"
    settings.TELECONSULT_TURN_SECRET = "another-secret"
    (forged,) = ice_servers(terminal_name="expert-1")["iceServers"]
    with pytest.raises(TransactionFailed, match="401"):
        await asyncio.wait_for(_allocate(turnserver, forged["username"], forged["credential"]),
                               15)
    settings.TELECONSULT_TURN_SECRET = turn["static-auth-secret"][0]
    expired = ice_servers(terminal_name="expert-1", now=time.time() - 7 * 24 * 3600)
    (old,) = expired["iceServers"]
    with pytest.raises(TransactionFailed, match="401"):
        await asyncio.wait_for(_allocate(turnserver, old["username"], old["credential"]), 15)
