"""The recorder: exact counts per series, delta and cumulative collection, the series cap,
a bounded buffer, and nothing lost while threads record during a collection."""

from __future__ import annotations

import logging
import threading

import pytest

from tracing_middleware.metrics import recorder as recorder_module
from tracing_middleware.metrics.points import OTHER, SeriesKey
from tracing_middleware.metrics.recorder import Recorder, http_outcome
from tracing_middleware.spancontext import SpanContext


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


def _by_key(points):
    return {p.key: p for p in points}


@pytest.mark.parametrize(("status", "outcome"), [
    ("200 OK", "2xx"), ("404 Not Found", "4xx"), (503, "5xx"), ("302 Found", "3xx"),
    (None, "5xx"), ("bogus", "5xx"), ("700 Odd", "5xx")])
def test_http_outcome(status, outcome):
    assert http_outcome(status) == outcome


def test_counts_templates_routes_and_errors():
    rec = Recorder(clock=Clock())
    for i in range(5):
        rec.record("nova", "server", ("GET", f"/v2.1/servers/{i:032x}"), "200 OK", 1000 + i)
    rec.record("nova", "server", ("GET", "/v2.1/servers/" + "f" * 32), "500 Error", 7000)
    rec.record("nova", "server", ("POST", "/v2.1/servers"), None, 9000)  # raised
    rec.record("nova", "client", "compute/ping", "timeout", 30_000)
    rec.record("nova", "producer", "compute/cast", "ok", 100)
    points = _by_key(rec.collect(delta=True))
    ok = points[SeriesKey("nova", "server", "GET /v2.1/servers/{id}", "2xx")]
    assert (ok.count, ok.errors, ok.sum_ns, ok.min_ns, ok.max_ns) == (5, 0, 5010, 1000, 1004)
    assert points[SeriesKey("nova", "server", "GET /v2.1/servers/{id}", "5xx")].errors == 1
    assert points[SeriesKey("nova", "server", "POST /v2.1/servers", "5xx")].errors == 1
    assert points[SeriesKey("nova", "client", "compute/ping", "timeout")].errors == 1
    assert points[SeriesKey("nova", "producer", "compute/cast", "ok")].errors == 0
    assert sum(p.count for p in points.values()) == 9
    assert all(sum(p.histogram.bucket_counts) + p.histogram.zero_count == p.count
               for p in points.values())


def test_delta_and_cumulative_times_and_counts():
    clock = Clock()
    rec = Recorder(clock=clock)
    rec.record("s", "server", "op", "ok", 10)
    clock.now = 2_000
    (first,) = rec.collect(delta=True)
    assert (first.start_time_unix_nano, first.time_unix_nano, first.count) == (1_000, 2_000, 1)
    clock.now = 3_000
    assert rec.collect(delta=True) == []  # nothing happened: no delta point
    rec.record("s", "server", "op", "ok", 20)
    clock.now = 4_000
    (second,) = rec.collect(delta=True)
    assert (second.start_time_unix_nano, second.count, second.sum_ns) == (3_000, 1, 20)
    (total,) = rec.collect(delta=False)
    assert (total.start_time_unix_nano, total.count, total.sum_ns) == (1_000, 2, 30)


def test_exemplars_only_for_sampled_entries():
    rec = Recorder(clock=Clock())
    context = SpanContext(0xABC, 0xDEF, True)
    rec.record("s", "server", "op", "ok", 5_000, context)
    rec.record("s", "server", "op", "ok", 5_000_000, None)
    (point,) = rec.collect(delta=True)
    assert point.count == 2
    (exemplar,) = point.exemplars
    assert exemplar.trace_id == f"{0xABC:032x}" and exemplar.span_id == f"{0xDEF:016x}"
    assert exemplar.value_ns == 5_000


def test_series_cap_folds_into_other_and_logs_once(caplog, monkeypatch):
    monkeypatch.setattr(recorder_module, "_warned_cap", False)
    rec = Recorder(max_series=3, clock=Clock())
    with caplog.at_level(logging.WARNING, logger=recorder_module.__name__):
        for i in range(10):
            rec.record("s", "server", f"op{i}", "ok", 1)
        rec.record("s", "server", "op0", "ok", 1)  # a known series stays itself
        points = _by_key(rec.collect(delta=True))
        Recorder(max_series=1, clock=Clock()).record("s", "server", "a", "ok", 1)
        second = Recorder(max_series=1, clock=Clock())
        second.record("s", "server", "a", "ok", 1)
        second.record("s", "server", "b", "ok", 1)
        second.collect(delta=True)
    assert points[SeriesKey("s", "server", "op0", "ok")].count == 2
    assert points[SeriesKey("s", "server", OTHER, "ok")].count == 7
    assert len(points) == 4
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "3" in lines[0] and "[tracing] metrics_max_series" in lines[0]


def test_buffer_is_bounded_without_collection():
    rec = Recorder(clock=Clock(), buffer_limit=100)
    for _ in range(1_000):
        rec.record("s", "server", "op", "ok", 1)
    assert len(rec.buffer) <= 100
    (point,) = rec.collect(delta=True)
    assert point.count == 1_000


def test_bad_entry_costs_itself():
    rec = Recorder(clock=Clock())
    rec.record("s", "server", "op", "ok", "not a number")  # type: ignore[arg-type]
    rec.record("s", "server", "op", "ok", 3)
    (point,) = rec.collect(delta=True)
    assert point.count == 1


def test_durations_as_the_edges_should_hand_them():
    """A negative duration counts as zero, a float as its integer; one that is not a
    number costs itself only, even in a batch with good ones."""
    rec = Recorder(clock=Clock())
    for duration in (-5, 2.9, 7, "x", None, 10):
        rec.record("s", "server", "op", "ok", duration)  # type: ignore[arg-type]
    (point,) = rec.collect(delta=True)
    assert (point.count, point.sum_ns, point.min_ns, point.max_ns) == (4, 19, 0, 10)
    assert point.histogram.zero_count == 1


def test_exemplar_of_a_batch_that_downscaled():
    """An exemplar recorded with the first entry of an interval stays in its value's
    bucket when the rest of the batch widens the histogram."""
    rec = Recorder(clock=Clock())
    rec.record("s", "server", "op", "ok", 1_000, SpanContext(1, 2, True))
    rec.record("s", "server", "op", "ok", 10**10)
    (point,) = rec.collect(delta=True)
    (exemplar,) = point.exemplars
    assert exemplar.value_ns == 1_000
    assert point.histogram.bucket_counts[0] == 1  # 1,000 is the lowest bucket's value


def test_explicit_bounds():
    rec = Recorder(bounds=[1_000, 1_000_000], clock=Clock())
    for v in (10, 5_000, 5_000, 10**9):
        rec.record("s", "server", "op", "ok", v)
    (point,) = rec.collect(delta=False)
    assert point.histogram.bounds == (1_000, 1_000_000)
    assert point.histogram.bucket_counts == (1, 2, 1)
    with pytest.raises(ValueError):
        Recorder(bounds=[5, 1])


def test_concurrent_recording_during_collection_loses_nothing():
    """Eight threads append while another collects in a loop: the totals are exact."""
    rec = Recorder(clock=Clock(), buffer_limit=500)
    threads_n, per_thread = 8, 20_000
    stop = threading.Event()
    collected: list[int] = []

    def collector() -> None:
        while not stop.is_set():
            collected.append(sum(p.count for p in rec.collect(delta=True)))

    def worker(n: int) -> None:
        for i in range(per_thread):
            rec.record("s", "server", f"op{n % 3}", "ok" if i % 10 else "error", 1 + i)

    collecting = threading.Thread(target=collector)
    collecting.start()
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    collecting.join()
    collected.append(sum(p.count for p in rec.collect(delta=True)))
    assert sum(collected) == threads_n * per_thread
    totals = rec.collect(delta=False)
    assert sum(p.count for p in totals) == threads_n * per_thread
    assert sum(p.errors for p in totals) == threads_n * per_thread // 10
