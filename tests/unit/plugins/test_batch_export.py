"""Every engine that exports queues through the shared batch processors: one queue per
exporter, bounded by ``[tracing] max_queue_size``, counted and flushed alike, and each one a
:class:`BatchProcessor`, which the after-fork hook restarts in a forked worker."""

from __future__ import annotations

import pytest

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.export.batch import BatchProcessor
from tracing_middleware.plugins.base import BatchExportPlugin
from tracing_middleware.spancontext import SpanContext

REMOTE = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, sampled=True)


@pytest.mark.parametrize("name", ["opentelemetry", "opentelemetry-sdk", "jaeger"])
def test_queue_is_bounded_counted_and_flushed_per_exporter(tmp_path, name):
    """Two exporters, a queue of two: a third span is dropped once by each queue, and
    force_flush empties both."""
    tracing = tracer.setup(load_settings(None, {
        "tracer": name, "sampler": "always_on", "integrations": "",
        "exporters": f"sqlite:///{tmp_path}/a.db,sqlite:///{tmp_path}/b.db",
        "max_queue_size": "2", "export_batch_size": "2",
        "export_interval_ms": "3600000"}, environ={}))
    plugin = tracing.plugin
    assert isinstance(plugin, BatchExportPlugin)
    assert [type(p) for p in plugin.processors] == [BatchProcessor, BatchProcessor]
    # A sampled remote parent: the jaeger engine samples roots through jaeger-client.
    for _ in range(3):
        tracing.start_span("op", parent=REMOTE).finish()
    assert (plugin.queued_spans(), plugin.dropped_spans()) == (4, 2)
    assert tracing.force_flush(5)
    assert plugin.queued_spans() == 0


def test_sdk_provider_flush_and_shutdown_reach_the_queues(tmp_path):
    """Code holding the SDK engine's provider flushes and stops the engine's queues."""
    tracing = tracer.setup(load_settings(None, {
        "tracer": "opentelemetry-sdk", "sampler": "always_on", "integrations": "",
        "exporters": f"sqlite:///{tmp_path}/t.db", "export_interval_ms": "3600000"},
        environ={}))
    plugin = tracing.plugin
    tracing.start_span("op", parent=None).finish()
    assert plugin.queued_spans() == 1
    assert plugin.provider.force_flush(5000)
    assert plugin.queued_spans() == 0
    plugin.provider.shutdown()
    tracing.start_span("late", parent=None).finish()
    assert plugin.queued_spans() == 0
