"""A dead, black-holed or recovering collector costs spans at most, never a request."""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.export.batch import BatchProcessor
from tracing_middleware.testing import OTLPReceiver


@pytest.fixture(params=["opentelemetry", "opentelemetry-sdk"])
def engine(request):
    """Both OTLP engines face the same faults."""
    yield request.param
    tracer.reset()


def _setup(engine: str, endpoint: str, **extra: str):
    conf = {"sampler": "always_on", "integrations": "", "exporters": endpoint,
            "export_timeout_ms": "1000", "tracer": engine, **extra}
    return tracer.setup(load_settings(None, conf, environ={}))


def _spans(tracing, count: int) -> list[str]:
    ids = []
    for i in range(count):
        span = tracing.start_span(f"op-{i}", parent=None)
        ids.append(tracing.span_context_of(span).span_id_hex)
        span.finish()
    return ids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_black_holed_collector_never_blocks_the_caller(engine):
    """Spans finish while the collector accepts and never answers: export is elsewhere."""
    with OTLPReceiver() as receiver:
        receiver.hold.clear()  # the handler blocks until released
        tracing = _setup(engine, receiver.endpoint, max_queue_size="50", export_batch_size="10")
        done = threading.Event()

        def work():
            _spans(tracing, 500)
            done.set()

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        finished = done.wait(30)
        receiver.hold.set()
    assert finished, "finishing spans blocked behind a hung collector"


def test_queue_is_bounded_and_drops_are_counted_and_logged_once(engine, caplog):
    """Collector down: at most max_queue_size spans are held; the rest are counted."""
    caplog.set_level(logging.WARNING, logger="tracing_middleware")
    tracing = _setup(engine, f"otlp+http://127.0.0.1:{_free_port()}", max_queue_size="100",
                     export_batch_size="100", export_interval_ms="3600000")
    _spans(tracing, 1000)
    assert tracing.plugin.queued_spans() <= 100
    # at most one batch (<= export_batch_size) is in flight besides the queue
    assert tracing.plugin.dropped_spans() >= 800
    assert not tracing.force_flush(2)  # cannot reach the collector
    drop_lines = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drop_lines) <= 1


def test_export_resumes_and_queued_spans_are_not_lost(engine):
    """Spans queued while the collector is down arrive once it comes back."""
    port = _free_port()
    tracing = _setup(engine, f"otlp+http://127.0.0.1:{port}", export_interval_ms="3600000")
    sent = set(_spans(tracing, 20))
    assert not tracing.force_flush(2)
    receiver = OTLPReceiver.on_port(port)
    with receiver:
        assert tracing.force_flush(10)
        got = {s.span_id for s in receiver.take(20)}
    assert got == sent
    assert receiver.spans.empty()


def test_batch_processor_retries_failed_batch_without_duplicates():
    """A failed batch goes back to the front of the queue; success exports it once."""
    attempts: list[list[int]] = []
    healthy = threading.Event()

    def export(batch):
        attempts.append(list(batch))
        return healthy.is_set()

    processor = BatchProcessor(export, name="test", max_queue_size=10, max_batch_size=5,
                               interval_s=3600)
    for i in range(8):
        processor.emit(i)
    assert not processor.force_flush(1)
    healthy.set()
    assert processor.force_flush(5)
    delivered = [i for batch in attempts[1:] for i in batch]
    assert sorted(delivered) == list(range(8))
    assert processor.exported == 8 and processor.dropped == 0
    processor.shutdown()
