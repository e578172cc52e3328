"""Test helpers shipped to users: real servers on loopback, an OTLP receiver, span capture.

Services adopting os-tracing test their own pipelines with these (structlog ships
``capture_logs`` in the same spirit): nothing here is a mock; each helper runs the real
protocol on 127.0.0.1 and hands back what arrived.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import http.server
import os
import queue
import socketserver
import tempfile
import threading
import wsgiref.simple_server
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.export.store import SpanStore

__all__ = [
    "OTLPReceiver",
    "ReceivedSpan",
    "WSGIServer",
    "capture_spans",
    "serve_wsgi",
]


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclasses.dataclass
class WSGIServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.contextmanager
def serve_wsgi(app: Callable[..., Any], host: str = "127.0.0.1") -> Iterator[WSGIServer]:
    """Serve ``app`` on a free port in a thread (one thread per request); stop on exit."""
    server = wsgiref.simple_server.make_server(
        host, 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    started = threading.Event()

    def run() -> None:
        started.set()
        server.serve_forever(poll_interval=0.05)

    thread = threading.Thread(target=run, name="os-tracing-test-wsgi", daemon=True)
    thread.start()
    started.wait(5)
    try:
        yield WSGIServer(host, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclasses.dataclass(frozen=True)
class ReceivedSpan:
    """One span as decoded from an OTLP request by the official protobuf messages."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    service: str
    attributes: dict[str, Any]
    status_code: int


def _value(any_value: Any) -> Any:
    field = any_value.WhichOneof("value")
    if field == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, field) if field else None


class OTLPReceiver:
    """A real OTLP/HTTP (protobuf) traces endpoint on 127.0.0.1, for tests.

    Decodes with ``opentelemetry-proto``'s ``ExportTraceServiceRequest``; spans are
    queued as :class:`ReceivedSpan`. ``status`` can be switched to answer errors, and
    ``hold`` (an Event) makes the handler block, to simulate a black-holed collector.
    It speaks HTTP/1.1 keep-alive, as collectors do; ``peers`` records each client
    address seen and ``on_request`` (if set) is called with each request's headers.
    It takes metrics too: each request posted to ``/v1/metrics`` is kept in ``metrics``
    as an ``ExportMetricsServiceRequest``.
    """

    def __init__(self, port: int = 0) -> None:
        self.spans: queue.Queue[ReceivedSpan] = queue.Queue()
        self.raw_bodies: list[bytes] = []
        self.metrics: list[Any] = []
        self.requests = 0
        self.status = 200
        self.peers: set[tuple[str, int]] = set()
        self.on_request: Any = None
        self.hold = threading.Event()
        self.hold.set()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.hold.wait(60)
                receiver.requests += 1
                receiver.peers.add(self.client_address)
                if receiver.on_request is not None:
                    receiver.on_request(self.headers)
                receiver.raw_bodies.append(body)
                if receiver.status == 200:
                    receiver._decode(body, self.headers.get("Content-Encoding"),
                                     self.path.split("?", 1)[0] == "/v1/metrics")
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @classmethod
    def on_port(cls, port: int) -> OTLPReceiver:
        """A receiver on a given port (a collector coming back where it was)."""
        return cls(port)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        """The value for ``exporters``."""
        return f"otlp+http://127.0.0.1:{self.port}"

    def _decode(self, body: bytes, encoding: str | None, metrics: bool = False) -> None:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
        )
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        if metrics:
            self.metrics.append(ExportMetricsServiceRequest.FromString(body))
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.put(ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=span.kind,
                        service=str(resource.get("service.name", "")),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        status_code=span.status.code,
                    ))

    def take(self, count: int, timeout: float = 10.0) -> list[ReceivedSpan]:
        """Exactly ``count`` spans, waiting up to ``timeout`` seconds for each."""
        return [self.spans.get(timeout=timeout) for _ in range(count)]

    def __enter__(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@contextlib.contextmanager
def capture_spans(**local_conf: str) -> Iterator[Any]:
    """Set up tracing with an embedded store in a temporary file; yield a reader.

    ``reader()`` flushes and returns every span stored so far, as SpanRecords.
    """
    with tempfile.TemporaryDirectory() as tmp:
        url = "sqlite:///" + os.path.join(tmp, "spans.db")
        conf = {"exporters": url, "sampler": "always_on", "integrations": "", **local_conf}
        tracing = tracer.setup(load_settings(None, conf, environ={}))
        store = SpanStore.from_url(url)

        def reader() -> list[Any]:
            tracing.force_flush()
            return store.all_spans()

        reader.tracing = tracing  # type: ignore[attr-defined]
        try:
            yield reader
        finally:
            tracer.reset()
            store.close()


# -- stand-ins for loading real OpenStack paste files without the services installed ----

def passthrough_filter_factory(global_conf: dict[str, Any], **local_conf: Any) -> Any:
    """A paste filter that calls the next application (stands in for a service's own)."""
    return lambda app: app


def ok_app_factory(global_conf: dict[str, Any], **local_conf: Any) -> Any:
    """A paste app answering 200 (stands in for a service's API)."""
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    return app


def pipeline_composite_factory(loader: Any, global_conf: dict[str, Any],
                               **local_conf: Any) -> Any:
    """Like nova's/cinder's ``pipeline_factory``: build the ``keystone`` pipeline (or the
    ``default`` one, or the first)."""
    choice = local_conf.get("keystone") or local_conf.get("default") or next(
        iter(local_conf.values()))
    names = choice.split()
    app = loader.get_app(names[-1])
    for name in reversed(names[:-1]):
        app = loader.get_filter(name)(app)
    return app


def urlmap_composite_factory(loader: Any, global_conf: dict[str, Any],
                             **local_conf: Any) -> Any:
    """Like glance's ``root_app_factory``: a urlmap of the keys that are paths."""
    from paste.urlmap import urlmap_factory

    return urlmap_factory(loader, global_conf,
                          **{k: v for k, v in local_conf.items() if k.startswith("/")})


def w3c_conformance_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The service the W3C Trace Context test suite drives (``w3c/trace-context/test``).

    The harness POSTs a JSON list of ``{"url": ..., "arguments": [...]}``; the service
    POSTs each ``arguments`` to its ``url`` with ``requests``. Wrapped in the tracing
    filter (with the ``requests`` integration), the outgoing calls carry the propagated
    ``traceparent``/``tracestate`` the suite checks::

        app = TracingFilter.factory({}, integrations="requests")(w3c_conformance_app)
    """
    import json as _json

    import requests

    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        calls = _json.loads(environ["wsgi.input"].read(length) or b"[]")
    except ValueError:
        calls = []
    for call in calls if isinstance(calls, list) else []:
        if isinstance(call, dict) and isinstance(call.get("url"), str):
            requests.post(call["url"], json=call.get("arguments", []), timeout=10)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]
