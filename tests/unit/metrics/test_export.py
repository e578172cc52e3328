"""The metrics' way out: OTLP encoding read back with the official types, the embedded
store, and an exporter that a dead or silent collector cannot make grow."""

from __future__ import annotations

import socket
import threading

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from tracing_middleware.export.otlp_http import OTLPHTTPSender
from tracing_middleware.metrics import otlp
from tracing_middleware.metrics.exporter import MetricsExporter, OTLPSink, StoreSink
from tracing_middleware.metrics.points import Exemplar, Histogram, SeriesKey, SeriesPoint
from tracing_middleware.metrics.recorder import Recorder
from tracing_middleware.metrics.store import MetricStore
from tracing_middleware.testing import OTLPReceiver

BASE = 1_700_000_000_000_000_000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def point(operation: str = "GET /v2.1/servers", count: int = 10, errors: int = 2,
          end: int = BASE + 60 * 10**9, bounds: tuple[int, ...] = ()) -> SeriesPoint:
    histogram = (Histogram(bucket_counts=(4, 5, 1), bounds=bounds) if bounds
                 else Histogram(scale=3, zero_count=0, offset=160, bucket_counts=(7, 0, 3)))
    return SeriesPoint(SeriesKey("nova-api", "server", operation, "2xx"), BASE, end, count,
                       errors, 12_345_678, 1_000, 4_000_000, histogram,
                       (Exemplar(3_900_000, BASE + 5, TRACE, SPAN),))


def test_encoding_reads_back_with_the_official_types():
    body = otlp.encode([point(), point("DELETE /v2.1/servers/{id}", 3, 0,
                                       bounds=(5_000_000, 10_000_000))],
                       {"service.name": "nova-api", "process.pid": 42}, cumulative=True)
    request = ExportMetricsServiceRequest.FromString(body)
    (rm,) = request.resource_metrics
    assert {a.key: a.value for a in rm.resource.attributes}["process.pid"].int_value == 42
    metrics = {(m.name, m.WhichOneof("data")): m for m in rm.scope_metrics[0].metrics}
    calls = metrics[(otlp.CALLS, "sum")].sum
    assert calls.is_monotonic and calls.aggregation_temporality == 2
    counted = {(dict((a.key, a.value.string_value) for a in p.attributes)["span.name"],
                dict((a.key, a.value.string_value) for a in p.attributes)["status.code"]):
               p.as_int for p in calls.data_points}
    assert counted == {("GET /v2.1/servers", "STATUS_CODE_UNSET"): 8,
                       ("GET /v2.1/servers", "STATUS_CODE_ERROR"): 2,
                       ("DELETE /v2.1/servers/{id}", "STATUS_CODE_UNSET"): 3,
                       ("DELETE /v2.1/servers/{id}", "STATUS_CODE_ERROR"): 0}
    (exp,) = metrics[(otlp.DURATION, "exponential_histogram")]\
        .exponential_histogram.data_points
    assert (exp.count, exp.scale, exp.positive.offset, list(exp.positive.bucket_counts),
            exp.min, exp.max) == (10, 3, 160, [7, 0, 3], 1_000.0, 4_000_000.0)
    (ex,) = exp.exemplars
    assert (ex.trace_id.hex(), ex.span_id.hex(), ex.as_int) == (TRACE, SPAN, 3_900_000)
    labels = {a.key: a.value.string_value for a in exp.attributes}
    assert labels == {"service.name": "nova-api", "span.name": "GET /v2.1/servers",
                      "span.kind": "SPAN_KIND_SERVER", "outcome": "2xx"}
    (fixed,) = metrics[(otlp.DURATION, "histogram")].histogram.data_points
    assert list(fixed.explicit_bounds) == [5e6, 1e7] and list(fixed.bucket_counts) == [4, 5, 1]


def test_delta_encoding_leaves_out_zero_counts():
    request = ExportMetricsServiceRequest.FromString(
        otlp.encode([point(errors=0)], {}, cumulative=False))
    calls = request.resource_metrics[0].scope_metrics[0].metrics[0].sum
    assert calls.aggregation_temporality == 1 and len(calls.data_points) == 1


def test_store_round_trip_and_window(tmp_path):
    store = MetricStore(str(tmp_path / "traces.db"))
    assert store.read() == []  # no file: nothing, and none created
    assert not (tmp_path / "traces.db").exists()
    early, late = point(end=BASE + 60 * 10**9), point(end=BASE + 120 * 10**9)
    assert store.write([early, late, point(count=0)], "host:1") == 2
    assert store.read() == [early, late]
    assert store.read(since_ns=BASE + 61 * 10**9) == [late]
    assert store.read(service="glance-api") == []


@pytest.fixture
def collector():
    """A real OTLP/HTTP receiver, decoding with the official types."""
    with OTLPReceiver() as receiver:
        receiver.url = f"http://127.0.0.1:{receiver.port}/v1/metrics"
        yield receiver


def _calls(request: ExportMetricsServiceRequest) -> int:
    (metric,) = [m for m in request.resource_metrics[0].scope_metrics[0].metrics
                 if m.name == otlp.CALLS]
    return sum(p.as_int for p in metric.sum.data_points)


def test_a_cumulative_collector_and_the_store_both_see_every_count(collector, tmp_path):
    """The recorder hands each count out once: the exporter collects deltas and keeps
    the totals itself, so neither sink misses what the other was given."""
    recorder = Recorder()
    store = MetricStore(str(tmp_path / "traces.db"))
    sinks = [OTLPSink(OTLPHTTPSender(collector.url, 5.0), cumulative=True),
             StoreSink(store)]
    exporter = MetricsExporter(recorder, sinks, interval_s=3600, service="nova-api")
    for i in range(10):
        recorder.record("nova-api", "server", "GET /v2.1/servers", 500 if i < 2 else 200,
                        1_000_000 + i)
    exporter.flush()
    for _ in range(5):
        recorder.record("nova-api", "server", "GET /v2.1/servers", 200, 3_000_000)
    exporter.shutdown()  # the last interval goes out at shutdown
    first, last = collector.metrics
    assert (_calls(first), _calls(last)) == (10, 15)  # cumulative: totals so far
    resource = {a.key: a.value for a in last.resource_metrics[0].resource.attributes}
    assert resource["service.name"].string_value == "nova-api"
    assert resource["service.instance.id"].string_value
    (duration,) = [m for m in last.resource_metrics[0].scope_metrics[0].metrics
                   if m.name == otlp.DURATION]
    data = duration.exponential_histogram.data_points
    assert sorted(p.count for p in data) == [2, 13]  # the 5xx and the 2xx series
    assert {p.start_time_unix_nano for p in data} == {recorder.start_time_unix_nano}
    stored = store.read()
    assert sum(p.count for p in stored) == 15 and sum(p.errors for p in stored) == 2


def test_shutdown_keeps_its_deadline_when_the_collector_never_answers(tmp_path):
    """A black-holed collector and a send timeout far past the deadline: shutdown still
    returns, and the store (written first) has the last interval."""
    recorder = Recorder()
    store = MetricStore(str(tmp_path / "traces.db"))
    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1/metrics"
        exporter = MetricsExporter(
            recorder, [OTLPSink(OTLPHTTPSender(url, 3600.0), cumulative=False),
                       StoreSink(store)], interval_s=3600, service="nova-api")
        for _ in range(7):
            recorder.record("nova-api", "server", "GET /", 200, 1_000)
        done = threading.Thread(target=exporter.shutdown, args=(0.2,), daemon=True)
        done.start()
        done.join(60)  # a deadline for the test, far from the send timeout
        assert not done.is_alive()
        assert sum(p.count for p in store.read()) == 7


def test_after_fork_starts_a_new_stream_with_new_sinks(collector):
    """A forked child sends only its own counts, under its own instance id, through
    sinks of its own (never the parent's connection or pending intervals)."""
    built: list[OTLPSink] = []

    def sinks() -> list[OTLPSink]:
        built.append(OTLPSink(OTLPHTTPSender(collector.url, 5.0), cumulative=True))
        return [built[-1]]

    exporter = MetricsExporter(Recorder(), sinks(), interval_s=3600, service="api",
                               source_factory=Recorder, sinks_factory=sinks)
    exporter.source.record("api", "server", "GET /", 200, 1_000)  # the parent's
    parent_id = exporter.resource["service.instance.id"]
    exporter.after_fork()  # as the registry calls it in a child
    exporter.source.record("api", "server", "GET /", 200, 1_000)
    exporter.source.record("api", "server", "GET /", 200, 1_000)
    exporter.shutdown()
    (request,) = collector.metrics
    assert _calls(request) == 2 and len(built) == 2
    resource = {a.key: a.value for a in request.resource_metrics[0].resource.attributes}
    assert resource["service.instance.id"].string_value != parent_id


def test_a_dead_collector_keeps_one_snapshot_and_a_silent_one_costs_a_timeout():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connection refused
    dead = OTLPSink(OTLPHTTPSender(f"http://127.0.0.1:{port}/v1/metrics", 1.0), True)
    for _ in range(5):
        dead.send([point()], {})
    assert dead.pending == 1  # cumulative: the newest snapshot is all that is kept
    delta = OTLPSink(OTLPHTTPSender(f"http://127.0.0.1:{port}/v1/metrics", 1.0), False,
                     max_pending=3)
    for _ in range(5):
        delta.send([point()], {})
    assert (delta.pending, delta.dropped) == (3, 2)
    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        sink = OTLPSink(OTLPHTTPSender(
            f"http://127.0.0.1:{silent.getsockname()[1]}/v1/metrics", 0.3), False, 2)
        for _ in range(4):
            sink.send([point()], {})
        assert sink.pending == 2
