"""The W3C Trace Context suite's protocol against the filter + requests: the harness asks
the service to call it back, and checks what arrives."""

from __future__ import annotations

import json

import pytest
import requests

from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import serve_wsgi, w3c_conformance_app

T = "4bf92f3577b34da6a3ce929d0e0e4736"
P = "00f067aa0ba902b7"


@pytest.fixture
def harness():
    received = []

    def callback(environ, start_response):
        received.append({"traceparent": environ.get("HTTP_TRACEPARENT"),
                         "tracestate": environ.get("HTTP_TRACESTATE")})
        start_response("200 OK", [])
        return [b""]

    with serve_wsgi(callback) as server:
        yield server.url, received


@pytest.fixture
def service():
    app = TracingFilter.factory({}, integrations="requests", exporters="console://",
                                sampler="parentbased_always_on")(w3c_conformance_app)
    with serve_wsgi(app) as server:
        yield server.url


def _drive(service, harness_url, headers):
    body = json.dumps([{"url": harness_url, "arguments": []}])
    requests.post(service, data=body, headers={**headers,
                                               "Content-Type": "application/json"}, timeout=10)


@pytest.mark.parametrize(("flags", "expected"), [("01", "01"), ("00", "00")])
def test_trace_id_and_flags_propagate(service, harness, flags, expected, capsys):
    """The callback continues the trace id with a new parent id and the sampled flag."""
    url, received = harness
    _drive(service, url, {"traceparent": f"00-{T}-{P}-{flags}",
                          "tracestate": "foo=1,bar=2"})
    version, trace_id, parent_id, out_flags = received[0]["traceparent"].split("-")
    assert (version, trace_id, out_flags) == ("00", T, expected)
    assert parent_id != P and len(parent_id) == 16
    assert received[0]["tracestate"] == "foo=1,bar=2"


@pytest.mark.parametrize("traceparent", [
    f"00-{T.upper()}-{P}-01", f"00-{'0' * 32}-{P}-01", f"ff-{T}-{P}-01",
    f"00-{T}-{P}-01-extra", f"00-{T}-{P}",
])
def test_invalid_traceparent_restarts_and_keeps_nothing(service, harness, traceparent,
                                                        capsys):
    """An invalid traceparent: a new trace id, and the tracestate is not forwarded."""
    url, received = harness
    _drive(service, url, {"traceparent": traceparent, "tracestate": "foo=1"})
    assert received[0]["traceparent"].split("-")[1] != T
    assert received[0]["tracestate"] is None


def test_future_version_is_continued(service, harness, capsys):
    """A higher version with extra fields is parsed by its version-00 prefix."""
    url, received = harness
    _drive(service, url, {"traceparent": f"cc-{T}-{P}-01-future"})
    assert received[0]["traceparent"].startswith(f"00-{T}-")
