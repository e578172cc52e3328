"""Our formats against tracers nobody here wrote: OpenTelemetry's propagators and
jaeger-client. Ids, flags, tracestate and baggage must survive both directions.

Carriers are case-insensitive, as HTTP headers are: we write canonical names
(``X-B3-TraceId``) and OpenTelemetry's default getter looks up lower-case ones.
"""

from __future__ import annotations

import pytest
from opentelemetry import baggage as otel_baggage
from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.propagators.jaeger import JaegerPropagator as OTelJaeger
from opentelemetry.trace import NonRecordingSpan, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from requests.structures import CaseInsensitiveDict

from tracing_middleware.propagation import build_propagator
from tracing_middleware.spancontext import Propagated, SpanContext

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7

PEERS = {
    "tracecontext": TraceContextTextMapPropagator(),
    "b3": B3SingleFormat(),
    "b3multi": B3MultiFormat(),
    "jaeger": OTelJaeger(),
}


def _otel_context(sampled: bool = True, trace_id: int = TRACE_ID, state=None):
    span_context = trace.SpanContext(trace_id, SPAN_ID, is_remote=False,
                                     trace_flags=TraceFlags(1 if sampled else 0),
                                     trace_state=TraceState(state or []))
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def _otel_span_context(context):
    return trace.get_current_span(context).get_span_context()


@pytest.mark.parametrize("name", sorted(PEERS))
@pytest.mark.parametrize("sampled", [True, False])
def test_otel_injects_we_extract(name, sampled):
    """What OpenTelemetry writes, we read with the same ids and flag."""
    carrier: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    PEERS[name].inject(carrier, context=_otel_context(sampled))
    ctx = build_propagator([name]).extract(carrier).span_context
    assert (ctx.trace_id, ctx.span_id, ctx.sampled, ctx.remote) == (
        TRACE_ID, SPAN_ID, sampled, True)


@pytest.mark.parametrize("name", sorted(PEERS))
@pytest.mark.parametrize("sampled", [True, False])
def test_we_inject_otel_extracts(name, sampled):
    """What we write, OpenTelemetry reads with the same ids and flag."""
    carrier: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    build_propagator([name]).inject(carrier, Propagated(SpanContext(TRACE_ID, SPAN_ID, sampled)))
    ctx = _otel_span_context(PEERS[name].extract(carrier))
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled, ctx.is_remote) == (
        TRACE_ID, SPAN_ID, sampled, True)


@pytest.mark.parametrize("name", ["b3", "b3multi", "jaeger"])
def test_debug_is_read_as_sampled_by_otel(name):
    """Our debug encoding (b3 'd', X-B3-Flags: 1, Jaeger flags 3) means sampled to OTel."""
    carrier: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    build_propagator([name]).inject(
        carrier, Propagated(SpanContext(TRACE_ID, SPAN_ID, True, debug=True)))
    assert _otel_span_context(PEERS[name].extract(carrier)).trace_flags.sampled


@pytest.mark.parametrize("name", ["b3", "b3multi"])
def test_64bit_b3_trace_id_from_otel_is_padded(name):
    """A 64-bit trace id OpenTelemetry sends as B3 is the same id, left-padded."""
    carrier: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    PEERS[name].inject(carrier, context=_otel_context(trace_id=0xA3CE929D0E0E4736))
    ctx = build_propagator([name]).extract(carrier).span_context
    assert ctx.trace_id_hex == "0000000000000000a3ce929d0e0e4736"


def test_tracestate_both_ways_with_otel():
    """tracestate members, multi-tenant keys included, survive in both directions."""
    state = [("rojo", "00f067aa0ba902b7"), ("t1@congo", "t61rcWkgMzE")]
    carrier: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    PEERS["tracecontext"].inject(carrier, context=_otel_context(state=state))
    ctx = build_propagator(["tracecontext"]).extract(carrier).span_context
    assert ctx.trace_state == tuple(state)
    ours: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    build_propagator(["tracecontext"]).inject(ours, Propagated(ctx))
    theirs = _otel_span_context(PEERS["tracecontext"].extract(ours))
    assert list(theirs.trace_state.items()) == state


@pytest.mark.parametrize("value", ["v 1", "a,b;c=d", "caf\u00e9 \u2603", "+plus+", "%41"])
def test_baggage_both_ways_with_otel(value):
    """W3C baggage written by OpenTelemetry is read by us and vice versa."""
    carrier: dict[str, str] = {}
    W3CBaggagePropagator().inject(carrier, context=otel_baggage.set_baggage("k", value))
    assert dict(build_propagator(["baggage"]).extract(carrier).baggage) == {"k": value}
    ours: dict[str, str] = {}
    build_propagator(["baggage"]).inject(ours, Propagated(None, {"k": value}))
    assert otel_baggage.get_baggage("k", W3CBaggagePropagator().extract(ours)) == value


def test_jaeger_baggage_both_ways_with_otel():
    """uberctx-* baggage from OpenTelemetry's Jaeger propagator is ours and vice versa."""
    context = otel_baggage.set_baggage("tenant", "t 1", _otel_context())
    carrier: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    PEERS["jaeger"].inject(carrier, context=context)
    assert dict(build_propagator(["jaeger"]).extract(carrier).baggage) == {"tenant": "t 1"}
    ours: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    build_propagator(["jaeger"]).inject(
        ours, Propagated(SpanContext(TRACE_ID, SPAN_ID, True), {"tenant": "t 1"}))
    assert otel_baggage.get_baggage("tenant", PEERS["jaeger"].extract(ours)) == "t 1"


@pytest.mark.parametrize("url_encoding", [True, False])
@pytest.mark.parametrize("flags", [0, 1, 3])
def test_jaeger_client_codec_both_ways(url_encoding, flags):
    """jaeger-client's own TextCodec reads our uber-trace-id and we read its."""
    from jaeger_client.codecs import TextCodec
    from jaeger_client.span_context import SpanContext as JaegerContext

    codec = TextCodec(url_encoding=url_encoding)
    carrier: dict[str, str] = {}
    codec.inject(JaegerContext(TRACE_ID, SPAN_ID, None, flags, {"tenant": "t1"}), carrier)
    result = build_propagator(["jaeger"]).extract(carrier)
    ctx = result.span_context
    assert (ctx.trace_id, ctx.span_id, ctx.sampled, ctx.debug) == (
        TRACE_ID, SPAN_ID, bool(flags & 1), bool(flags & 2))
    assert dict(result.baggage) == {"tenant": "t1"}
    ours: dict[str, str] = {}
    build_propagator(["jaeger"]).inject(ours, Propagated(ctx, {"tenant": "t1"}))
    theirs = codec.extract(ours)
    assert (theirs.trace_id, theirs.span_id, theirs.flags) == (TRACE_ID, SPAN_ID, flags)
    assert theirs.baggage == {"tenant": "t1"}


def test_jaeger_client_url_encoded_baggage():
    """jaeger-client with url_encoding percent-encodes baggage; we decode it."""
    from jaeger_client.codecs import TextCodec
    from jaeger_client.span_context import SpanContext as JaegerContext

    carrier: dict[str, str] = {}
    TextCodec(url_encoding=True).inject(
        JaegerContext(TRACE_ID, SPAN_ID, None, 1, {"k": "a b/c"}), carrier)
    assert dict(build_propagator(["jaeger"]).extract(carrier).baggage) == {"k": "a b/c"}
