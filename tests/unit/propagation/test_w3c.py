"""W3C Trace Context Level 1 and W3C Baggage: the receiver/forwarder MUSTs."""

from __future__ import annotations

import pytest

from tracing_middleware.propagation import build_propagator
from tracing_middleware.propagation.baggage import BaggagePropagator
from tracing_middleware.propagation.tracecontext import TraceContextPropagator
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
TP = TraceContextPropagator()


def _extract(headers):
    return TP.extract(headers).span_context


def test_valid_traceparent():
    """3.2: version-traceid-parentid-flags; flags bit 0 is sampled."""
    ctx = _extract({"traceparent": f"00-{TRACE}-{SPAN}-01"})
    assert (ctx.trace_id_hex, ctx.span_id_hex, ctx.sampled, ctx.remote) == (
        TRACE, SPAN, True, True)
    assert _extract({"traceparent": f"00-{TRACE}-{SPAN}-00"}).sampled is False


@pytest.mark.parametrize("header", [
    f"00-{'0' * 32}-{SPAN}-01",                 # 3.2.2.3 all-zero trace-id is invalid
    f"00-{TRACE}-{'0' * 16}-01",                # 3.2.2.4 all-zero parent-id is invalid
    f"ff-{TRACE}-{SPAN}-01",                    # 3.2.2.1 version ff is invalid
    f"00-{TRACE.upper()}-{SPAN}-01",            # 3.2.2: lowercase hex only
    f"00-{TRACE}-{SPAN}-01-extra",              # version 00 has exactly four fields
    f"0-{TRACE}-{SPAN}-01",
    f"00-{TRACE[:-1]}-{SPAN}-01",
    f"00-{TRACE}-{SPAN}-1",
    f"00_{TRACE}_{SPAN}_01",
    "",
])
def test_invalid_traceparent_is_ignored(header):
    """An invalid traceparent yields no context (the trace restarts)."""
    assert _extract({"traceparent": header}) is None


def test_future_version_parses_the_known_prefix():
    """3.2.4: a higher version is parsed as 00 when the first fields fit; extras allowed."""
    ctx = _extract({"traceparent": f"cc-{TRACE}-{SPAN}-01-what-the-future-holds"})
    assert ctx is not None and ctx.trace_id_hex == TRACE


def test_invalid_traceparent_discards_tracestate():
    """3.3: with an invalid traceparent nothing is kept, tracestate included."""
    result = TP.extract({"traceparent": f"00-{'0' * 32}-{SPAN}-01", "tracestate": "a=1"})
    assert result == EMPTY


def test_tracestate_is_kept_in_order_and_combined_across_headers():
    """3.3.1: multiple tracestate headers are combined; order is preserved."""
    ctx = _extract({"traceparent": f"00-{TRACE}-{SPAN}-01",
                    "tracestate": ["congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7"]})
    assert ctx.trace_state == (("congo", "t61rcWkgMzE"), ("rojo", "00f067aa0ba902b7"))


@pytest.mark.parametrize("state", [
    "a=1,a=2",                                       # duplicate keys
    "UPPER=1",                                       # keys are lowercase
    "a=1," + ",".join(f"k{i}=v" for i in range(33)),  # more than 32 members
    "a=b=c",                                         # invalid value char '='
])
def test_invalid_tracestate_is_dropped_but_traceparent_kept(state):
    """3.3.1.x: an invalid tracestate is discarded; the traceparent still applies."""
    ctx = _extract({"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": state})
    assert ctx is not None and ctx.trace_state == ()


def test_multi_tenant_keys_are_accepted():
    """3.3.1.3.1: tenant@system keys."""
    ctx = _extract({"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": "t1@vendor=x"})
    assert ctx.trace_state == (("t1@vendor", "x"),)


def test_inject_writes_lowercase_version_00():
    """Outgoing traceparent is version 00 with our span id; tracestate forwarded."""
    carrier: dict[str, str] = {}
    ctx = SpanContext(int(TRACE, 16), 0x1234, True, False, (("a", "1"),))
    TP.inject(carrier, Propagated(ctx))
    assert carrier == {"traceparent": f"00-{TRACE}-0000000000001234-01", "tracestate": "a=1"}


def test_nothing_injected_without_context():
    """No valid span context: no header at all."""
    carrier: dict[str, str] = {}
    TP.inject(carrier, EMPTY)
    assert carrier == {}


def test_baggage_limits_and_decoding():
    """W3C Baggage: percent-decoding, properties ignored, invalid members skipped."""
    result = BaggagePropagator().extract(
        {"baggage": "k1=v%201;prop=1, bad key=x ,k2=v2,=novalue"})
    assert dict(result.baggage) == {"k1": "v 1", "k2": "v2"}


def test_baggage_member_limit():
    """At most 180 members are taken."""
    header = ",".join(f"k{i}=v" for i in range(300))[:8192]
    result = BaggagePropagator().extract({"baggage": header})
    assert len(result.baggage) == 180


def test_oversized_baggage_is_ignored():
    """A baggage header beyond 8192 bytes is not parsed."""
    assert BaggagePropagator().extract({"baggage": "k=" + "v" * 9000}) == EMPTY


def test_baggage_round_trip():
    """Values with spaces and commas survive inject + extract."""
    carrier: dict[str, str] = {}
    BaggagePropagator().inject(carrier, EMPTY.with_baggage({"k": "a b,c"}))
    assert dict(BaggagePropagator().extract(carrier).baggage) == {"k": "a b,c"}


def test_composite_first_valid_context_wins_and_baggage_merges():
    """propagators order decides the context; baggage comes from every format."""
    prop = build_propagator(["b3multi", "tracecontext", "jaeger", "baggage"])
    headers = {"traceparent": f"00-{TRACE}-{SPAN}-01",
               "X-B3-TraceId": "1" * 32, "X-B3-SpanId": "2" * 16, "X-B3-Sampled": "1",
               "baggage": "a=1", "uberctx-b": "2"}
    result = prop.extract(headers)
    assert result.span_context.trace_id_hex == "1" * 32
    assert dict(result.baggage) == {"a": "1", "b": "2"}
    only_w3c = prop.extract({k: v for k, v in headers.items() if not k.startswith("X-B3")})
    assert only_w3c.span_context.trace_id_hex == TRACE


def test_unknown_propagator_name():
    """build_propagator names the bad value and the accepted ones."""
    with pytest.raises(ValueError, match=r"unknown propagator 'w3c'.*tracecontext"):
        build_propagator(["w3c"])
