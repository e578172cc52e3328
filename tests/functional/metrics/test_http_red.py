"""RED metrics at the API edge over real HTTP on 127.0.0.1, at 1 % sampling: every request
is counted, per route template, and exemplars name only sampled spans that are stored."""

from __future__ import annotations

import collections
import urllib.error
import urllib.request
import uuid

import pytest

from tracing_middleware import tracer
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.metrics.points import SeriesKey
from tracing_middleware.metrics.recorder import Recorder
from tracing_middleware.testing import serve_wsgi

SERVICE = "api"


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/boom/"):
        raise RuntimeError("application bug")
    if path.startswith("/fail/"):
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"down"]
    if path.startswith("/stream/"):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            yield b"first "
            yield b"second"
        return body()
    if path.startswith("/gone/"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def _get(url, method="GET"):
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path}/spans.db"


def test_every_request_counted_at_one_percent(store_url, capsys):
    filtered = TracingFilter.factory({}, exporters=store_url, sampler="traceidratio",
                                     sampler_arg="0.01", integrations="",
                                     service_name=SERVICE)(app)
    tracing = filtered._tracing
    tracing.metrics = recorder = Recorder()
    plan = ([("GET", "/v2.1/servers/{}", 200)] * 700 + [("GET", "/fail/{}", 500)] * 90
            + [("GET", "/boom/{}", 500)] * 30 + [("GET", "/stream/{}", 200)] * 100
            + [("DELETE", "/gone/{}", 404)] * 80)
    seen = collections.Counter()
    with serve_wsgi(filtered) as server:
        for method, path, expected in plan:
            status = _get(server.url + path.format(uuid.uuid4()), method)
            assert status == expected
            seen[status] += 1
    capsys.readouterr()  # wsgiref prints the application's tracebacks
    points = {p.key: p for p in recorder.collect(delta=False)}

    def key(operation, outcome):
        return SeriesKey(SERVICE, "server", operation, outcome)

    assert points[key("GET /v2.1/servers/{id}", "2xx")].count == 700
    assert points[key("GET /fail/{id}", "5xx")].count == 90
    assert points[key("GET /boom/{id}", "5xx")].count == 30
    assert points[key("GET /stream/{id}", "2xx")].count == 100
    assert points[key("DELETE /gone/{id}", "4xx")].count == 80
    assert len(points) == 5
    assert sum(p.count for p in points.values()) == len(plan) == 1000
    assert sum(p.errors for p in points.values()) == 120 == seen[500]
    assert points[key("DELETE /gone/{id}", "4xx")].errors == 0

    assert tracing.force_flush()
    with SpanStore.from_url(store_url) as store:
        stored = {(s.trace_id, s.span_id): s for s in store.all_spans()}
    # 1 % of 1,000 random trace ids: about ten; none at all would be a 1-in-20,000 event.
    assert 0 < len(stored) < 100
    exemplars = [(p.key, e) for p in points.values() for e in p.exemplars]
    assert exemplars
    for series, exemplar in exemplars:
        span = stored.get((exemplar.trace_id, exemplar.span_id))
        assert span is not None, "an exemplar names a span that was not kept"
        assert span.kind == "server" and span.name == series.operation


def test_sampled_and_unsampled_requests_count_alike(store_url):
    """At 100 % and at 0 % the same requests give the same counts per series."""
    results = []
    for sampler in ("always_on", "always_off"):
        filtered = TracingFilter.factory({}, exporters=store_url, sampler=sampler,
                                         integrations="", service_name=SERVICE)(app)
        filtered._tracing.metrics = recorder = Recorder()
        with serve_wsgi(filtered) as server:
            for path in ("/a/1", "/fail/2", "/stream/3", "/gone/4", "/stream/5"):
                _get(server.url + path)
        points = recorder.collect(delta=True)
        results.append(sorted((p.key.operation, p.key.outcome, p.count, p.errors) for p in points))
        has_exemplars = any(p.exemplars for p in points)
        assert has_exemplars == (sampler == "always_on")
        tracer.reset()
    assert results[0] == results[1]
    assert len(results[0]) == 4
