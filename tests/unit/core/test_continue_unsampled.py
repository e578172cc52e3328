"""``Tracing.continue_unsampled``: an edge receiving an unsampled trace skips the sampler
and the span name only when no name could change the outcome, and then carries the
caller's context on unchanged (W3C pass-through)."""

from __future__ import annotations

import pytest

from tracing_middleware import tracer
from tracing_middleware.propagation.tracecontext import parse_traceparent
from tracing_middleware.spancontext import Propagated, SpanContext
from tracing_middleware.testing import capture_spans

TRACE_ID, SPAN_ID = 0x0AF7651916CD43DD8448EB211C80319C, 0x00F067AA0BA902B7
UNSAMPLED = SpanContext(TRACE_ID, SPAN_ID, sampled=False, trace_state=(("rojo", "x1"),))


@pytest.fixture(autouse=True)
def _reset():
    yield
    tracer.reset()


@pytest.mark.parametrize("sampler", ["parentbased_always_on", "parentbased_traceidratio",
                                     "always_off"])
def test_an_unsampled_caller_is_carried_on_unchanged(sampler):
    with capture_spans(sampler=sampler, sampler_arg="1.0") as read:
        tracing = read.tracing
        span = tracing.continue_unsampled(Propagated(UNSAMPLED, {"tenant": "t1"}), "consumer")
        assert span is not None and not tracing.is_recording(span)
        with tracing.activate(span, finish_on_close=True):
            carrier: dict[str, str] = {}
            tracing.inject(carrier)
            child = tracing.start_span("child")
            assert not tracing.is_recording(child)
            child.finish()
        assert read() == []
    assert carrier["traceparent"] == f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-00"
    assert carrier["tracestate"] == "rojo=x1"
    assert carrier["baggage"] == "tenant=t1"


@pytest.mark.parametrize("parent", [
    SpanContext(TRACE_ID, SPAN_ID, sampled=True),
    SpanContext(TRACE_ID, SPAN_ID, sampled=None),  # deferred: the root sampler decides
    SpanContext(TRACE_ID, SPAN_ID, sampled=False, forced=True),  # signed osprofiler
    SpanContext(0, SPAN_ID, sampled=False),  # invalid
    None,
], ids=["sampled", "deferred", "forced", "invalid", "none"])
def test_only_a_plain_unsampled_caller_skips_the_sampler(parent):
    with capture_spans(sampler="parentbased_always_off"):
        tracing = tracer.get_tracing()
        assert tracing.continue_unsampled(Propagated(parent), "server") is None


@pytest.mark.parametrize("conf, records", [
    ({"sampler": "always_on"}, True),
    ({"sampler": "traceidratio", "sampler_arg": "1.0"}, True),
    ({"tracer": "opentelemetry-sdk", "sampler": "parentbased_always_on"}, False),
    ({"tracer": "jaeger", "sampler": "parentbased_always_on"}, False),
], ids=["always_on", "traceidratio", "opentelemetry-sdk", "jaeger"])
def test_otherwise_the_sampler_decides(conf, records):
    """A root sampler alone may sample under an unsampled caller, so it must see the span;
    an engine with no pass-through span starts one through the sampler."""
    with capture_spans(**conf) as read:
        tracing = read.tracing
        assert tracing.continue_unsampled(Propagated(UNSAMPLED), "consumer") is None
        span = tracing.start_span("op", parent=Propagated(UNSAMPLED), kind="consumer")
        assert tracing.is_recording(span) is records
        assert tracing.span_context_of(span).trace_id == TRACE_ID
        span.finish()
        assert [r.name for r in read()] == (["op"] if records else [])


def test_the_received_header_round_trips_byte_for_byte():
    """What the edge parsed is what it sends on: the receiver invents no span id."""
    header = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-00"
    with capture_spans(sampler="parentbased_always_on") as read:
        tracing = read.tracing
        span = tracing.continue_unsampled(Propagated(parse_traceparent(header)), "server")
        carrier: dict[str, str] = {}
        tracing.inject(carrier, span=span)
    assert carrier == {"traceparent": header}
