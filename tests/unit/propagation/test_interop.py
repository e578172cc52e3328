"""Our formats against tracers nobody here wrote: OpenTelemetry's propagators, jaeger-client
and upstream osprofiler. Ids and flags must survive both directions."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry import baggage as otel_baggage
from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.propagators.jaeger import JaegerPropagator as OTelJaeger
from opentelemetry.trace import NonRecordingSpan, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from osprofiler import _utils as osprofiler_utils
from osprofiler import profiler, web

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


def _otel_context(sampled: bool = True):
    span_context = trace.SpanContext(TRACE_ID, SPAN_ID, is_remote=False,
                                     trace_flags=TraceFlags(1 if sampled else 0))
    return trace.set_span_in_context(NonRecordingSpan(span_context))


@pytest.mark.parametrize("name", sorted(PEERS))
@pytest.mark.parametrize("sampled", [True, False])
def test_otel_injects_we_extract(name, sampled):
    """What OpenTelemetry writes, we read with the same ids and flag."""
    carrier: dict[str, str] = {}
    PEERS[name].inject(carrier, context=_otel_context(sampled))
    ctx = build_propagator([name]).extract(carrier).span_context
    assert (ctx.trace_id, ctx.span_id, bool(ctx.sampled)) == (TRACE_ID, SPAN_ID, sampled)


@pytest.mark.parametrize("name", sorted(PEERS))
@pytest.mark.parametrize("sampled", [True, False])
def test_we_inject_otel_extracts(name, sampled):
    """What we write, OpenTelemetry reads with the same ids and flag."""
    carrier: dict[str, str] = {}
    build_propagator([name]).inject(carrier, Propagated(
        SpanContext(TRACE_ID, SPAN_ID, sampled)))
    ctx = trace.get_current_span(PEERS[name].extract(carrier)).get_span_context()
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled) == (TRACE_ID, SPAN_ID, sampled)


def test_b3_64bit_trace_id_is_padded():
    """A 16-hex B3 trace id becomes the same 128-bit id, left-padded with zeros."""
    ctx = build_propagator(["b3multi"]).extract(
        {"X-B3-TraceId": "a3ce929d0e0e4736", "X-B3-SpanId": "00f067aa0ba902b7"}).span_context
    assert ctx.trace_id_hex == "0000000000000000a3ce929d0e0e4736"
    assert ctx.sampled is None  # deferred


def test_baggage_both_ways_with_otel():
    """W3C baggage written by OpenTelemetry is read by us and vice versa."""
    carrier: dict[str, str] = {}
    W3CBaggagePropagator().inject(carrier, context=otel_baggage.set_baggage("k", "v 1"))
    assert dict(build_propagator(["baggage"]).extract(carrier).baggage) == {"k": "v 1"}
    ours: dict[str, str] = {}
    build_propagator(["baggage"]).inject(ours, Propagated(None, {"k": "v 1"}))
    assert otel_baggage.get_baggage("k", W3CBaggagePropagator().extract(ours)) == "v 1"


def test_jaeger_client_codec_round_trip():
    """jaeger-client's own TextCodec reads our uber-trace-id and we read its."""
    from jaeger_client.codecs import TextCodec
    from jaeger_client.span_context import SpanContext as JaegerContext

    codec = TextCodec(url_encoding=True, trace_id_header="uber-trace-id",
                      baggage_header_prefix="uberctx-")
    carrier: dict[str, str] = {}
    codec.inject(JaegerContext(TRACE_ID, SPAN_ID, None, 1, {"tenant": "t 1"}), carrier)
    result = build_propagator(["jaeger"]).extract(carrier)
    assert (result.span_context.trace_id, result.span_context.span_id) == (TRACE_ID, SPAN_ID)
    assert dict(result.baggage) == {"tenant": "t 1"}
    ours: dict[str, str] = {}
    build_propagator(["jaeger"]).inject(ours, Propagated(SpanContext(TRACE_ID, SPAN_ID, True),
                                                         {"tenant": "t 1"}))
    theirs = codec.extract(ours)
    assert (theirs.trace_id, theirs.span_id, theirs.flags & 1) == (TRACE_ID, SPAN_ID, 1)
    assert theirs.baggage == {"tenant": "t 1"}


def test_osprofiler_headers_from_upstream_are_accepted_and_forced():
    """Headers from osprofiler's own get_trace_id_headers() continue the trace, forced."""
    profiler.clean()
    profiler.init("secret", base_id=str(uuid.UUID(int=TRACE_ID)),
                  parent_id=str(uuid.UUID(int=(7 << 64) | SPAN_ID)))
    try:
        headers = web.get_trace_id_headers()
    finally:
        profiler.clean()
    ctx = build_propagator(["osprofiler"], ["other", "secret"]).extract(headers).span_context
    assert (ctx.trace_id, ctx.span_id, ctx.forced, ctx.sampled) == (
        TRACE_ID, SPAN_ID, True, True)


def test_osprofiler_wrong_key_is_like_no_header():
    """A signature made with another key is ignored entirely."""
    info, signature = osprofiler_utils.signed_pack(
        {"base_id": str(uuid.uuid4()), "parent_id": str(uuid.uuid4())}, "attacker")
    result = build_propagator(["osprofiler"], ["secret"]).extract(
        {"X-Trace-Info": info.decode(), "X-Trace-HMAC": signature})
    assert result.span_context is None


def test_our_osprofiler_headers_pass_upstream_verification():
    """Unmodified osprofiler's signed_unpack accepts what we send, with mapped ids."""
    carrier: dict[str, str] = {}
    build_propagator(["osprofiler"], ["secret"]).inject(
        carrier, Propagated(SpanContext(TRACE_ID, SPAN_ID, True)))
    assert "secret" not in repr(carrier)
    data = osprofiler_utils.signed_unpack(carrier["X-Trace-Info"], carrier["X-Trace-HMAC"],
                                          ["secret"])
    assert data is not None
    assert uuid.UUID(data["base_id"]).int == TRACE_ID
    assert osprofiler_utils.shorten_id(data["parent_id"]) == SPAN_ID
