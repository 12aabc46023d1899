"""Travel time providers: the documented estimate, and OSRM's table API with its fallback."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from command_center.travel import EstimatedTravelTimes, OsrmTravelTimes, haversine_km

WUZHEN = (30.7431, 120.4870)
TONGXIANG = (30.629, 120.561)
JIAXING = (30.755, 120.756)


def test_the_estimate_is_distance_times_circuity_at_road_speed():
    km = haversine_km(WUZHEN, TONGXIANG)
    assert km == pytest.approx(14.6, abs=0.3)
    travel = EstimatedTravelTimes(speed_kmh=40.0)
    [[minutes]] = travel.minutes([WUZHEN], [TONGXIANG])
    assert minutes == pytest.approx(km * 1.3 / 40.0 * 60.0)
    assert travel.minutes([WUZHEN], [WUZHEN]) == [[0.0]]


class _FakeOsrm(BaseHTTPRequestHandler):
    requests: list[str] = []
    durations: list[list[float | None]] = []

    def do_GET(self):
        type(self).requests.append(self.path)
        body = json.dumps({"code": "Ok", "durations": type(self).durations}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def osrm_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOsrm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeOsrm.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_osrm_table_durations_become_minutes(osrm_server):
    _FakeOsrm.durations = [[600.0, 1200.0]]
    travel = OsrmTravelTimes(osrm_server, timeout=2.0,
                             fallback=EstimatedTravelTimes(speed_kmh=40.0))
    assert travel.minutes([WUZHEN], [TONGXIANG, JIAXING]) == [[10.0, 20.0]]
    [path] = _FakeOsrm.requests
    url = urlsplit(path)
    assert url.path == "/table/v1/driving/120.487000,30.743100;120.561000,30.629000;" \
                       "120.756000,30.755000"
    assert parse_qs(url.query) == {"sources": ["0"], "destinations": ["1;2"],
                                   "annotations": ["duration"]}


def test_a_pair_osrm_cannot_route_gets_the_estimate(osrm_server):
    _FakeOsrm.durations = [[None]]
    fallback = EstimatedTravelTimes(speed_kmh=40.0)
    travel = OsrmTravelTimes(osrm_server, timeout=2.0, fallback=fallback)
    assert travel.minutes([WUZHEN], [TONGXIANG]) == [[fallback.between(WUZHEN, TONGXIANG)]]


def test_unreachable_osrm_falls_back_to_the_estimate_with_a_warning(caplog):
    import socket

    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fallback = EstimatedTravelTimes(speed_kmh=40.0)
    travel = OsrmTravelTimes(f"http://127.0.0.1:{port}", timeout=1.0, fallback=fallback)
    with caplog.at_level(logging.WARNING, logger="command_center.travel"):
        assert travel.minutes([WUZHEN], [JIAXING]) == fallback.minutes([WUZHEN], [JIAXING])
    assert "using the distance estimate" in caplog.text


def test_an_osrm_answer_of_the_wrong_shape_falls_back(osrm_server, caplog):
    _FakeOsrm.durations = [[60.0]]
    fallback = EstimatedTravelTimes(speed_kmh=40.0)
    travel = OsrmTravelTimes(osrm_server, timeout=2.0, fallback=fallback)
    with caplog.at_level(logging.WARNING, logger="command_center.travel"):
        result = travel.minutes([WUZHEN, TONGXIANG], [JIAXING])
    assert result == fallback.minutes([WUZHEN, TONGXIANG], [JIAXING])
    assert "do not match" in caplog.text
