"""The native engine's OTLP senders against real HTTP and gRPC servers on 127.0.0.1."""

from __future__ import annotations

import logging
import queue
from concurrent import futures

import pytest

from tracing_middleware import tracer
from tracing_middleware.config import load_settings, parse_key_values
from tracing_middleware.export.otlp_http import OTLPHTTPSender
from tracing_middleware.testing import OTLPReceiver


@pytest.fixture(autouse=True)
def _reset():
    yield
    tracer.reset()


def _setup(exporter: str, **conf: str):
    return tracer.setup(load_settings(None, {"exporters": exporter, "integrations": "",
                                             "sampler": "always_on", "service_name": "svc",
                                             **conf}, environ={}))


def test_headers_variable_is_parsed_as_the_otel_spec_says():
    assert parse_key_values("api-key=s%3Dcret , x-tenant=t1,bad,=v") == {
        "api-key": "s=cret", "x-tenant": "t1"}


def test_headers_and_gzip_from_the_environment_reach_the_collector(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "authorization=Bearer%20abc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    seen = []
    with OTLPReceiver() as receiver:
        receiver.on_request = seen.append
        tracing = _setup(receiver.endpoint)
        tracing.start_span("op", parent=None).finish()
        assert tracing.force_flush(10)
        (span,) = receiver.take(1)
    assert span.name == "op"
    assert seen[0]["Authorization"] == "Bearer abc"
    assert seen[0]["Content-Encoding"] == "gzip"
    assert seen[0]["Content-Type"] == "application/x-protobuf"


def test_one_connection_is_kept_alive_across_batches():
    with OTLPReceiver() as receiver:
        sender = OTLPHTTPSender(receiver.endpoint.replace("otlp+", "") + "/v1/traces", 5)
        for _ in range(3):
            assert sender.send(b"")
        assert len(receiver.peers) == 1
        sender.close()


@pytest.mark.parametrize("status", [429, 503])
def test_retryable_status_keeps_the_batch_for_later(status):
    with OTLPReceiver() as receiver:
        receiver.status = status
        tracing = _setup(receiver.endpoint, export_interval_ms="3600000")
        tracing.start_span("op", parent=None).finish()
        assert not tracing.force_flush(2)
        receiver.status = 200
        assert tracing.force_flush(10)
        assert [s.name for s in receiver.take(1)] == ["op"]


def test_refused_batch_is_dropped_and_logged_once(caplog):
    caplog.set_level(logging.WARNING, logger="tracing_middleware")
    with OTLPReceiver() as receiver:
        receiver.status = 400
        tracing = _setup(receiver.endpoint)
        for _ in range(3):
            tracing.start_span("op", parent=None).finish()
            assert tracing.force_flush(5)  # done with: a 400 is never retried
    refused = [r for r in caplog.records if "refused a batch with HTTP 400" in r.getMessage()]
    assert len(refused) == 1
    assert tracing.plugin.queued_spans() == 0


def test_otlp_grpc_export_to_a_real_grpc_server(monkeypatch):
    grpc = pytest.importorskip("grpc")
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k1")
    received: queue.Queue = queue.Queue()

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            received.put((request, dict(context.invocation_metadata())))
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        tracing = _setup(f"otlp+grpc://127.0.0.1:{port}")
        tracing.start_span("grpc-op", parent=None, kind="server", tags={"n": 1}).finish()
        assert tracing.force_flush(10)
        request, metadata = received.get(timeout=10)
    finally:
        server.stop(0)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert (span.name, span.kind, span.attributes[0].key) == ("grpc-op", 2, "n")
    assert metadata["x-api-key"] == "k1"


def test_grpc_collector_down_keeps_spans_queued():
    pytest.importorskip("grpc")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tracing = _setup(f"otlp+grpc://127.0.0.1:{port}", export_interval_ms="3600000",
                     export_timeout_ms="500")
    tracing.start_span("op", parent=None).finish()
    assert not tracing.force_flush(3)
    assert tracing.plugin.queued_spans() == 1
