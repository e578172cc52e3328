"""Spans leave the process over OTLP/HTTP (decoded by the official protobuf messages) and
into the embedded store, from the default engine, including after fork()."""

from __future__ import annotations

import os
import pickle

import pytest

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.export.store import SpanStore
from tracing_middleware.testing import OTLPReceiver


def _setup(**local_conf):
    conf = {"sampler": "always_on", "integrations": "", "service_name": "nova-api",
            **local_conf}
    return tracer.setup(load_settings(None, conf, environ={}))


def _tree(tracing):
    """root SERVER -> child CLIENT -> grandchild INTERNAL with an error."""
    root = tracing.start_span("GET /v2.1/servers", parent=None, kind="server",
                              tags={"http.request.method": "GET"})
    with tracing.activate(root, finish_on_close=True):
        child = tracing.start_span("POST", kind="client")
        with tracing.activate(child, finish_on_close=True):
            leaf = tracing.start_span("work")
            tracing.set_error(leaf, ValueError("nope"))
            leaf.finish()
    return [tracing.span_context_of(s) for s in (root, child, leaf)]


def test_otlp_http_receiver_gets_the_exact_tree():
    """A real OTLP/HTTP endpoint receives three spans with exact ids, kinds and parents."""
    with OTLPReceiver() as receiver:
        tracing = _setup(exporters=receiver.endpoint)
        root, child, leaf = _tree(tracing)
        assert tracing.force_flush()
        spans = {s.name: s for s in receiver.take(3)}
    assert {s.trace_id for s in spans.values()} == {root.trace_id_hex}
    assert spans["GET /v2.1/servers"].span_id == root.span_id_hex
    assert spans["GET /v2.1/servers"].parent_span_id is None
    assert spans["GET /v2.1/servers"].kind == 2  # SPAN_KIND_SERVER
    assert spans["POST"].parent_span_id == root.span_id_hex
    assert spans["POST"].kind == 3  # SPAN_KIND_CLIENT
    assert spans["work"].parent_span_id == child.span_id_hex
    assert spans["work"].span_id == leaf.span_id_hex
    assert spans["work"].status_code == 2  # STATUS_CODE_ERROR
    assert spans["GET /v2.1/servers"].service == "nova-api"
    assert spans["GET /v2.1/servers"].attributes == {"http.request.method": "GET"}


def test_store_and_otlp_at_once(tmp_path):
    """Several exporters each get every span."""
    url = f"sqlite:///{tmp_path}/t.db"
    with OTLPReceiver() as receiver:
        tracing = _setup(exporters=f"{receiver.endpoint},{url}")
        root, _, _ = _tree(tracing)
        assert tracing.force_flush()
        assert len(receiver.take(3)) == 3
    store = SpanStore.from_url(url)
    trace = store.get_trace(root.trace_id_hex)
    store.close()
    assert trace is not None and len(trace.spans) == 3
    kinds = {s.name: s.kind for s in trace.spans}
    assert kinds == {"GET /v2.1/servers": "server", "POST": "client", "work": "internal"}


def test_dead_collector_costs_nothing_but_spans():
    """Connection refused at the collector: spans start and finish, flush reports failure."""
    with OTLPReceiver() as receiver:
        port = receiver.port
    tracing = _setup(exporters=f"otlp+http://127.0.0.1:{port}", export_timeout_ms="500")
    root, _, _ = _tree(tracing)
    assert root.sampled


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_forked_child_exports_on_its_own(tmp_path):
    """After fork() the child's spans are exported by the child, each exactly once."""
    url = f"sqlite:///{tmp_path}/fork.db"
    tracing = _setup(exporters=url)
    parent_ids = _tree(tracing)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            ids = _tree(tracing)
            ok = tracing.force_flush(10)
            os.write(write_fd, pickle.dumps(([c.trace_id_hex for c in ids], ok)))
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        child_trace_ids, child_flushed = pickle.loads(pipe.read())
    os.waitpid(pid, 0)
    assert child_flushed
    assert tracing.force_flush()
    store = SpanStore.from_url(url)
    try:
        child_trace = store.get_trace(child_trace_ids[0])
        parent_trace = store.get_trace(parent_ids[0].trace_id_hex)
    finally:
        store.close()
    assert child_trace is not None and len(child_trace.spans) == 3
    assert parent_trace is not None and len(parent_trace.spans) == 3
