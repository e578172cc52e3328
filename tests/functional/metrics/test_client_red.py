"""RED metrics of outgoing HTTP: each call with a span decision is counted, sampled or
not, under the status class, and a timeout apart from other failures."""

from __future__ import annotations

import socket

import pytest
import requests

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.metrics.points import SeriesKey
from tracing_middleware.metrics.recorder import Recorder
from tracing_middleware.testing import serve_wsgi


def app(environ, start_response):
    if environ["PATH_INFO"] == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no"]
    if environ["PATH_INFO"] == "/broken":
        start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
        return [b"no"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.mark.parametrize("sampler", ["always_on", "always_off"])
def test_requests_calls_counted_inside_a_trace(tmp_path, sampler):
    tracing = tracer.setup(load_settings(None, {
        "exporters": f"sqlite:///{tmp_path}/c.db", "integrations": "requests",
        "sampler": sampler, "service_name": "api"}, environ={}))
    tracing.metrics = recorder = Recorder()
    silent = socket.socket()  # accepts, never answers: a read timeout
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        with serve_wsgi(app) as server:
            requests.get(f"{server.url}/outside")  # no active span: no decision
            root = tracing.start_span("root", parent=None, kind="server")
            with tracing.activate(root, finish_on_close=True):
                for path in ("/a", "/b", "/missing", "/broken"):
                    requests.get(f"{server.url}{path}")
                requests.post(f"{server.url}/a")
                with pytest.raises(requests.Timeout):
                    requests.get(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.2)
    finally:
        silent.close()
    points = {p.key: (p.count, p.errors, bool(p.exemplars))
              for p in recorder.collect(delta=True)}
    sampled = sampler == "always_on"
    assert points == {
        SeriesKey("api", "client", "GET", "2xx"): (2, 0, sampled),
        SeriesKey("api", "client", "GET", "4xx"): (1, 0, sampled),
        SeriesKey("api", "client", "GET", "5xx"): (1, 1, sampled),
        SeriesKey("api", "client", "POST", "2xx"): (1, 0, sampled),
        SeriesKey("api", "client", "GET", "timeout"): (1, 1, sampled),
    }
