"""The jaeger engine: spans reach a real UDP agent socket (decoded with jaeger-client's own
Thrift classes) and the embedded store with exact parents."""

from __future__ import annotations

import socket

from jaeger_client.thrift_gen.agent import Agent
from jaeger_client.thrift_gen.jaeger import ttypes
from thrift.protocol import TCompactProtocol
from thrift.transport import TTransport

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.export.store import SpanStore


def _decode(datagram: bytes) -> ttypes.Batch:
    """Read the agent's oneway emitBatch call with jaeger-client's generated classes."""
    protocol = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(datagram))
    name, _, _ = protocol.readMessageBegin()
    assert name == "emitBatch"
    args = Agent.emitBatch_args()
    args.read(protocol)
    protocol.readMessageEnd()
    return args.batch


def test_agent_and_store_receive_the_exact_tree(tmp_path):
    """Three spans: the agent's batch and the store agree on ids and parents."""
    agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agent.bind(("127.0.0.1", 0))
    agent.settimeout(10)
    url = f"sqlite:///{tmp_path}/j.db"
    conf = {"tracer": "jaeger", "sampler": "always_on", "integrations": "",
            "service_name": "cinder-volume",
            "exporters": f"{url},jaeger+udp://127.0.0.1:{agent.getsockname()[1]}"}
    tracing = tracer.setup(load_settings(None, conf, environ={}))
    root = tracing.start_span("root", parent=None, kind="server")
    with tracing.activate(root, finish_on_close=True):
        child = tracing.start_span("child", kind="client")
        with tracing.activate(child, finish_on_close=True):
            leaf = tracing.start_span("leaf")
            tracing.set_error(leaf, RuntimeError("disk"))
            leaf.finish()
    ids = [tracing.span_context_of(s) for s in (root, child, leaf)]
    assert tracing.force_flush()
    batch = _decode(agent.recv(65535))
    agent.close()
    assert batch.process.serviceName == "cinder-volume"
    by_name = {s.operationName: s for s in batch.spans}
    assert set(by_name) == {"root", "child", "leaf"}
    for name, context in zip(("root", "child", "leaf"), ids, strict=True):
        span = by_name[name]
        mask = (1 << 64) - 1
        assert ((span.traceIdHigh & mask) << 64) | (span.traceIdLow & mask) == context.trace_id
        assert span.spanId & mask == context.span_id
    assert by_name["child"].parentSpanId & ((1 << 64) - 1) == ids[0].span_id
    assert by_name["leaf"].parentSpanId & ((1 << 64) - 1) == ids[1].span_id
    store = SpanStore.from_url(url)
    trace = store.get_trace(ids[0].trace_id_hex)
    store.close()
    spans = {s.name: s for s in trace.spans}
    assert spans["root"].parent_span_id is None and spans["root"].kind == "server"
    assert spans["child"].parent_span_id == ids[0].span_id_hex
    assert spans["child"].kind == "client"
    assert spans["leaf"].parent_span_id == ids[1].span_id_hex
    assert spans["leaf"].status == "error"
    assert spans["leaf"].events[0].attributes["error.kind"] == "RuntimeError"


def test_jaeger_engine_rejects_otlp_exporters():
    """OTLP is the OpenTelemetry engine's; asking the jaeger engine for it is a config error."""
    from tracing_middleware.config import ConfigError

    conf = {"tracer": "jaeger", "exporters": "otlp+http://127.0.0.1:4318", "integrations": ""}
    try:
        tracer.setup(load_settings(None, conf, environ={}))
    except (ConfigError, ValueError) as exc:
        assert "not supported by [tracing] tracer = jaeger" in str(exc)
    else:
        raise AssertionError("the jaeger engine accepted an OTLP exporter")
