"""A trace crosses our filter between services traced only by the OpenTelemetry Python SDK,
over real HTTP on 127.0.0.1, in W3C, B3 and Jaeger formats: ids and parents checked exactly."""

from __future__ import annotations

import pytest
import requests
from opentelemetry import propagate
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.propagators.jaeger import JaegerPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tracing_middleware import tracer
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import serve_wsgi

FORMATS = {
    "tracecontext": TraceContextTextMapPropagator(),
    "b3": B3SingleFormat(),
    "b3multi": B3MultiFormat(),
    "jaeger": JaegerPropagator(),
}


def _otel(provider_name: str):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def global_format(request):
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(FORMATS[request.param])
    yield request.param
    propagate.set_global_textmap(previous)


def _downstream_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"downstream"]


@pytest.mark.parametrize("global_format", sorted(FORMATS), indirect=True)
def test_otel_client_to_us_to_otel_server(tmp_path, global_format):
    """OTel client span -> our SERVER span -> our CLIENT span -> OTel server span."""
    store_url = f"sqlite:///{tmp_path}/interop.db"
    down_provider, down_spans = _otel("downstream")
    downstream = OpenTelemetryMiddleware(_downstream_app, tracer_provider=down_provider)
    with serve_wsgi(downstream) as down:
        def app(environ, start_response):
            body = requests.get(f"{down.url}/v2/images", timeout=10).content
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [body]

        ours = TracingFilter.factory({}, exporters=store_url, propagators=global_format,
                                     integrations="requests", service_name="nova-api")(app)
        with serve_wsgi(ours) as middle:
            client_provider, client_spans = _otel("client")
            client_tracer = client_provider.get_tracer("client")
            with client_tracer.start_as_current_span("client call", kind=SpanKind.CLIENT):
                headers: dict[str, str] = {}
                propagate.inject(headers)
                response = requests.get(f"{middle.url}/v2.1/servers", headers=headers,
                                        timeout=10)
            assert response.content == b"downstream"
    assert tracer.get_tracing().force_flush()
    store = SpanStore.from_url(store_url)
    ours_spans = {s.kind: s for s in store.all_spans()}
    store.close()
    (client_span,) = client_spans.get_finished_spans()
    (down_span,) = down_spans.get_finished_spans()
    trace_id = f"{client_span.context.trace_id:032x}"
    server, outgoing = ours_spans["server"], ours_spans["client"]
    assert server.trace_id == outgoing.trace_id == trace_id
    assert f"{down_span.context.trace_id:032x}" == trace_id
    assert server.parent_span_id == f"{client_span.context.span_id:016x}"
    assert outgoing.parent_span_id == server.span_id
    assert f"{down_span.parent.span_id:016x}" == outgoing.span_id
    assert down_span.parent.is_remote
    assert outgoing.attributes["http.response.status_code"] == 200
    assert outgoing.attributes["url.full"].endswith("/v2/images")


def test_no_headers_outside_a_trace(tmp_path):
    """A call made outside any trace carries no trace headers and makes no span."""
    seen = {}

    def recorder(environ, start_response):
        seen.update({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        start_response("200 OK", [])
        return [b""]

    TracingFilter.factory({}, exporters=f"sqlite:///{tmp_path}/x.db",
                          integrations="requests,urllib3")(recorder)
    with serve_wsgi(recorder) as down:
        requests.get(down.url, timeout=10)
    assert not {"HTTP_TRACEPARENT", "HTTP_BAGGAGE", "HTTP_B3"} & set(seen)


def test_propagation_targets_block_foreign_hosts(tmp_path):
    """With propagation_targets set, a non-matching host gets no trace headers."""
    seen = {}

    def recorder(environ, start_response):
        seen.update({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        start_response("200 OK", [])
        return [b""]

    with serve_wsgi(recorder) as down:
        def app(environ, start_response):
            requests.get(f"{down.url}/?token=s3cr3t", timeout=10)
            start_response("200 OK", [])
            return [b""]

        store_url = f"sqlite:///{tmp_path}/t.db"
        filtered = TracingFilter.factory({}, exporters=store_url, integrations="requests",
                                         propagation_targets=r"^internal\.example$")(app)
        with serve_wsgi(filtered) as middle:
            requests.get(middle.url, timeout=10)
    assert "HTTP_TRACEPARENT" not in seen
    tracer.get_tracing().force_flush()
    store = SpanStore.from_url(store_url)
    client = [s for s in store.all_spans() if s.kind == "client"]
    store.close()
    assert len(client) == 1  # the call is still traced, just not propagated
    assert "s3cr3t" not in client[0].attributes["url.full"]
    assert "token=REDACTED" in client[0].attributes["url.full"]


def test_requests_over_urllib3_makes_one_span(tmp_path):
    """requests sits on urllib3: with both integrations only the outer call is a span."""
    store_url = f"sqlite:///{tmp_path}/one.db"

    def down_app(environ, start_response):
        start_response("500 Internal Server Error", [])
        return [b""]

    with serve_wsgi(down_app) as down:
        def app(environ, start_response):
            requests.get(down.url, timeout=10)
            start_response("200 OK", [])
            return [b""]

        filtered = TracingFilter.factory({}, exporters=store_url,
                                         integrations="requests,urllib3")(app)
        with serve_wsgi(filtered) as middle:
            requests.get(middle.url, timeout=10)
    tracer.get_tracing().force_flush()
    store = SpanStore.from_url(store_url)
    clients = [s for s in store.all_spans() if s.kind == "client"]
    store.close()
    assert len(clients) == 1
    assert clients[0].status == "error"  # a 5xx answer is an error for the client
    assert clients[0].attributes["http.response.status_code"] == 500


def test_connection_refused_is_recorded_and_reraised(tmp_path):
    """A failing outgoing call raises the library's own exception; the span records it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store_url = f"sqlite:///{tmp_path}/refused.db"
    errors = []

    def app(environ, start_response):
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        except requests.ConnectionError as exc:
            errors.append(exc)
        start_response("200 OK", [])
        return [b""]

    filtered = TracingFilter.factory({}, exporters=store_url, integrations="requests")(app)
    with serve_wsgi(filtered) as middle:
        requests.get(middle.url, timeout=10)
    assert len(errors) == 1
    tracer.get_tracing().force_flush()
    store = SpanStore.from_url(store_url)
    (client,) = [s for s in store.all_spans() if s.kind == "client"]
    store.close()
    assert client.status == "error"
    assert client.attributes["error.type"] == "ConnectionError"


def test_uninstrument_restores_originals(tmp_path):
    """uninstrument puts back the very function objects that were patched."""
    import requests.sessions
    import urllib3.connectionpool

    send = requests.sessions.Session.send
    urlopen = urllib3.connectionpool.HTTPConnectionPool.urlopen
    TracingFilter.factory({}, exporters=f"sqlite:///{tmp_path}/u.db",
                          integrations="requests,urllib3")(_downstream_app)
    assert requests.sessions.Session.send is not send
    tracer.reset()
    assert requests.sessions.Session.send is send
    assert urllib3.connectionpool.HTTPConnectionPool.urlopen is urlopen
