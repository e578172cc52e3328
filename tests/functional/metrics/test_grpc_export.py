"""RED metrics over OTLP/gRPC: ``metrics_exporters = otlp+grpc://...`` calls
``MetricsService/Export`` on a real gRPC server on 127.0.0.1, decoded with the official
protobuf types; delta temporality sends each interval's counts once, and exemplars name
traces that are in the span store."""

from __future__ import annotations

import os
import queue
import socket
import urllib.error
import urllib.request
from concurrent import futures

import grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from tracing_middleware import registry
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.metrics import otlp
from tracing_middleware.testing import serve_wsgi


def app(environ, start_response):
    failed = environ["PATH_INFO"].startswith("/fail/")
    start_response("500 Internal Server Error" if failed else "200 OK", [])
    return [b""]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def _calls(request: metrics_service_pb2.ExportMetricsServiceRequest
           ) -> dict[tuple[str, str, str], int]:
    (metric,) = [m for m in request.resource_metrics[0].scope_metrics[0].metrics
                 if m.name == otlp.CALLS]
    assert metric.sum.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    found = {}
    for point in metric.sum.data_points:
        labels = {a.key: a.value.string_value for a in point.attributes}
        found[labels["span.name"], labels["outcome"], labels["status.code"]] = point.as_int
    return found


def test_metrics_exported_over_grpc(tmp_path):
    received: queue.Queue = queue.Queue()

    class Collector(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request, context):
            received.put(request)
            return metrics_service_pb2.ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    store_url = f"sqlite:///{tmp_path}/traces.db"
    try:
        filtered = TracingFilter.factory(
            {}, exporters=store_url, integrations="", service_name="glance-api",
            sampler="traceidratio", sampler_arg="0.5", metrics_interval="3600",
            metrics_temporality="delta",
            metrics_exporters=f"otlp+grpc://127.0.0.1:{port}")(app)
        with serve_wsgi(filtered) as web:
            statuses = [_get(f"{web.url}/{'fail' if i % 6 == 0 else 'v2/images'}/{i}")
                        for i in range(30)]
            assert statuses.count(500) == 5
            assert registry.force_flush_all()
            first = received.get(timeout=10)
            for i in range(4):
                _get(f"{web.url}/v2/images/{i}")
            assert registry.force_flush_all()
            second = received.get(timeout=10)
    finally:
        server.stop(0)

    assert _calls(first) == {
        ("GET /v2/images/{id}", "2xx", "STATUS_CODE_UNSET"): 25,
        ("GET /fail/{id}", "5xx", "STATUS_CODE_ERROR"): 5}
    assert _calls(second) == {("GET /v2/images/{id}", "2xx", "STATUS_CODE_UNSET"): 4}

    resource = {a.key: a.value for a in first.resource_metrics[0].resource.attributes}
    assert resource["service.name"].string_value == "glance-api"
    assert resource["process.pid"].int_value == os.getpid()
    assert resource["host.name"].string_value == socket.gethostname()
    assert resource["service.instance.id"].string_value

    (duration,) = [m for m in first.resource_metrics[0].scope_metrics[0].metrics
                   if m.name == otlp.DURATION]
    assert duration.unit == "ns"
    points = duration.exponential_histogram.data_points
    assert sum(p.count for p in points) == 30
    assert all(p.zero_count + sum(p.positive.bucket_counts) == p.count for p in points)
    store = SpanStore.from_url(store_url)
    stored = {s.trace_id for s in store.all_spans()}
    store.close()
    exemplars = [e for p in points for e in p.exemplars]
    assert exemplars and {e.trace_id.hex() for e in exemplars} <= stored
    assert all(len(e.span_id) == 8 for e in exemplars)
