"""The paste filter over real HTTP on 127.0.0.1: server spans, errors, streaming, exclusions."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request

import pytest
from oslo_middleware.request_id import RequestId

from tracing_middleware import tracer
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import serve_wsgi

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
UUID = "8a1cbd9e-5bd6-4fd8-9a25-0d2e0a8b0f2a"
GLOBAL_ID = "req-6e0bd5e4-7a3e-4b8a-9c57-2b0f4c1d9e21"


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("application bug")
    if path == "/fail":
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]
    if path == "/stream":
        release = environ["test.release"] if "test.release" in environ else None
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            yield b"first "
            if release is not None:
                release.wait(5)
            yield b"second"
        return body()
    if path == "/context":  # what a call made from inside the request would carry
        carrier: dict[str, str] = {}
        tracer.get_tracing().inject(carrier)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [carrier.get("traceparent", "").encode()]
    environ["HTTP_X_PROJECT_ID"] = "p" * 32  # as keystonemiddleware would set it
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("x-openstack-request-id", "req-1234")])
    return [b"{}"]


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path}/spans.db"


def _filtered(store_url, app=app, **local_conf):
    conf = {"exporters": store_url, "sampler": "parentbased_always_on", "integrations": "",
            **local_conf}
    return TracingFilter.factory({}, **conf)(app)


def _get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _spans(store_url):
    tracing = tracer.get_tracing()
    assert tracing is not None
    assert tracing.force_flush()
    store = SpanStore.from_url(store_url)
    try:
        return store.all_spans()
    finally:
        store.close()


def test_continues_w3c_trace_with_exact_parent(store_url):
    """A traceparent from the caller becomes the parent of the SERVER span."""
    with serve_wsgi(_filtered(store_url)) as server:
        status, _, _ = _get(f"{server.url}/v2.1/servers/{UUID}?limit=1&token=abc", {
            "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "User-Agent": "pytest"})
    assert status == 200
    (span,) = _spans(store_url)
    assert span.trace_id == TRACE_ID
    assert span.parent_span_id == PARENT_ID
    assert span.kind == "server"
    assert span.name == "GET /v2.1/servers/{id}"
    attrs = span.attributes
    assert attrs["http.request.method"] == "GET"
    assert attrs["http.route"] == "/v2.1/servers/{id}"
    assert attrs["url.path"] == f"/v2.1/servers/{UUID}"
    assert attrs["url.query"] == "limit=1&token=REDACTED"
    assert attrs["http.response.status_code"] == 200
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["client.address"] == "127.0.0.1"
    assert attrs["user_agent.original"] == "pytest"
    assert attrs["openstack.request_id"] == "req-1234"
    assert attrs["openstack.project_id"] == "p" * 32


def test_global_request_id_from_the_incoming_header(store_url):
    """The caller's X-OpenStack-Request-ID is this request's global id: recorded when it is
    req-<uuid>, the one shape oslo.middleware's RequestId accepts, else left out."""
    with serve_wsgi(_filtered(store_url)) as server:
        for path, sent in (("/a", GLOBAL_ID), ("/b", "req-not-a-uuid"),
                           ("/c", GLOBAL_ID + "0" * 200)):
            _get(f"{server.url}{path}", {"X-OpenStack-Request-ID": sent})
    spans = {s.attributes["url.path"]: s.attributes for s in _spans(store_url)}
    assert spans["/a"]["openstack.global_request_id"] == GLOBAL_ID
    assert spans["/a"]["openstack.request_id"] == "req-1234"
    assert "openstack.global_request_id" not in spans["/b"]
    assert "openstack.global_request_id" not in spans["/c"]


@pytest.mark.parametrize("request_id_first", [True, False])
def test_request_ids_with_oslo_middleware_request_id_in_the_pipeline(store_url,
                                                                     request_id_first):
    """Before the filter (as configuration.rst advises) or after it, RequestId makes the
    request id: the span carries the one the client got back in its (error) response,
    and the caller's id as the global one."""
    pipeline = (RequestId(_filtered(store_url)) if request_id_first
                else _filtered(store_url, app=RequestId(app)))
    with serve_wsgi(pipeline) as server:
        status, headers, _ = _get(f"{server.url}/fail", {"X-OpenStack-Request-ID": GLOBAL_ID})
    assert status == 503
    (span,) = _spans(store_url)
    assert span.attributes["openstack.request_id"] == headers["x-openstack-request-id"]
    assert span.attributes["openstack.request_id"].startswith("req-")
    assert span.attributes["openstack.global_request_id"] == GLOBAL_ID


def test_starts_a_trace_without_caller_context(store_url):
    """No incoming headers: a new root span with a fresh 128-bit trace id."""
    with serve_wsgi(_filtered(store_url)) as server:
        _get(f"{server.url}/v2.1/flavors")
    (span,) = _spans(store_url)
    assert span.parent_span_id is None
    assert len(span.trace_id) == 32 and span.trace_id != "0" * 32


def test_unsampled_caller_is_respected(store_url):
    """traceparent flags 00 with a parent-based sampler: nothing is recorded, and the
    request's own calls carry the caller's context on as it came."""
    sent = f"00-{TRACE_ID}-{PARENT_ID}-00"
    with serve_wsgi(_filtered(store_url)) as server:
        status, _, _ = _get(f"{server.url}/x", {"traceparent": sent})
        _, _, carried = _get(f"{server.url}/context", {"traceparent": sent})
    assert status == 200
    assert carried.decode() == sent
    assert _spans(store_url) == []


def test_server_error_marks_span(store_url):
    """A 5xx response sets error status; the response is passed through unchanged."""
    with serve_wsgi(_filtered(store_url)) as server:
        status, _, body = _get(f"{server.url}/fail")
    assert (status, body) == (503, b"down")
    (span,) = _spans(store_url)
    assert span.status == "error"
    assert span.attributes["http.response.status_code"] == 503


def test_application_exception_is_recorded_and_reraised(store_url):
    """The app's exception reaches the server unchanged and is an event on the span."""
    seen = []
    filtered = _filtered(store_url)

    def catching(environ, start_response):
        try:
            return filtered(environ, start_response)
        except RuntimeError as exc:
            seen.append(exc)
            start_response("500 Internal Server Error", [])
            return [b""]

    with serve_wsgi(catching) as server:
        _get(f"{server.url}/boom")
    assert [str(e) for e in seen] == ["application bug"]
    (span,) = _spans(store_url)
    assert span.status == "error"
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == "RuntimeError"


def test_span_ends_when_body_is_closed_not_when_app_returns(store_url):
    """A streamed body keeps the span open until the server closes the iterable."""
    filtered = _filtered(store_url)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/stream", "wsgi.url_scheme": "http",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "test.release": threading.Event()}
    body = filtered(environ, lambda status, headers, exc_info=None: None)
    iterator = iter(body)
    assert next(iterator) == b"first "
    assert _spans(store_url) == []  # not finished while streaming
    environ["test.release"].set()
    assert next(iterator) == b"second"
    body.close()
    (span,) = _spans(store_url)
    assert span.name == "GET /stream"


def test_close_is_propagated_to_the_app_iterable(store_url):
    """close() of the app's iterable is always called (PEP 3333)."""
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    def closing_app(environ, start_response):
        start_response("200 OK", [])
        return Body([b"ok"])

    filtered = TracingFilter.factory({}, exporters=store_url, integrations="")(closing_app)
    body = filtered({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.url_scheme": "http"},
                    lambda *a: None)
    assert list(body) == [b"ok"]
    body.close()
    assert closed == [True]


def test_excluded_paths_are_not_traced(store_url):
    """/healthcheck is excluded by default."""
    with serve_wsgi(_filtered(store_url)) as server:
        _get(f"{server.url}/healthcheck")
        _get(f"{server.url}/v2.1")
    assert [s.name for s in _spans(store_url)] == ["GET /v2.1"]


def test_traceresponse_header_when_enabled(store_url):
    """traceresponse (W3C Level 2 draft) carries the server span's ids back."""
    with serve_wsgi(_filtered(store_url, traceresponse="true")) as server:
        _, headers, _ = _get(f"{server.url}/x", {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    (span,) = _spans(store_url)
    assert headers["traceresponse"] == f"00-{TRACE_ID}-{span.span_id}-01"


def test_traceresponse_names_the_servers_own_span_when_unsampled(store_url):
    """With traceresponse on, an unsampled request is not a pass-through: the header
    names a span of this server, never the caller's own."""
    with serve_wsgi(_filtered(store_url, traceresponse="true")) as server:
        _, headers, _ = _get(f"{server.url}/x", {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"})
    version, trace_id, span_id, flags = headers["traceresponse"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "00")
    assert span_id != PARENT_ID and int(span_id, 16) != 0
    assert _spans(store_url) == []


def test_no_traceresponse_by_default(store_url):
    """The response is untouched unless the operator asks for traceresponse."""
    with serve_wsgi(_filtered(store_url)) as server:
        _, headers, _ = _get(f"{server.url}/x")
    assert "traceresponse" not in {k.lower() for k in headers}


@pytest.mark.parametrize("header", [
    "00-" + "0" * 32 + "-" + PARENT_ID + "-01",
    "garbage",
    "00-" + TRACE_ID.upper() + "-" + PARENT_ID + "-01",
    "00-" + TRACE_ID + "-" + PARENT_ID + "-01" + "x" * 9000,
])
def test_bad_traceparent_starts_a_new_trace(store_url, header):
    """An invalid traceparent is ignored: new trace, nothing kept, request unaffected."""
    with serve_wsgi(_filtered(store_url)) as server:
        status, _, _ = _get(f"{server.url}/x", {"traceparent": header})
    assert status == 200
    (span,) = _spans(store_url)
    assert span.parent_span_id is None
    assert span.trace_id != TRACE_ID


def test_bad_configuration_passes_requests_through(store_url, caplog):
    """A bad option disables tracing with one ERROR naming it; requests still succeed."""
    caplog.set_level(logging.ERROR)
    with serve_wsgi(_filtered(store_url, sampler="sometimes")) as server:
        statuses = [_get(f"{server.url}/x")[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert tracer.get_tracing() is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "[tracing] sampler = 'sometimes'" in errors[0]


def test_disabled_filter_is_a_pass_through(store_url):
    """enabled = false: the app is called directly and nothing is stored."""
    with serve_wsgi(_filtered(store_url, enabled="false")) as server:
        assert _get(f"{server.url}/x")[0] == 200
    assert tracer.get_tracing() is None


def test_concurrent_requests_get_their_own_spans(store_url):
    """Requests handled concurrently never share or swap server spans."""
    seen = {}
    barrier = threading.Barrier(4, timeout=10)

    def recording_app(environ, start_response):
        barrier.wait()
        tracing = tracer.get_tracing()
        seen[environ["PATH_INFO"]] = tracing.span_context_of(tracing.active_span()).trace_id_hex
        start_response("200 OK", [])
        return [b""]

    filtered = TracingFilter.factory({}, exporters=store_url, integrations="")(recording_app)
    with serve_wsgi(filtered) as server:
        threads = [threading.Thread(target=_get, args=(
            f"{server.url}/r{i}", {"traceparent": f"00-{i + 1:032x}-{PARENT_ID}-01"}))
            for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert seen == {f"/r{i}": f"{i + 1:032x}" for i in range(4)}
    assert tracer.get_tracing().active_span() is None
