"""CompositePropagator and build_propagator: order, merging and configuration errors."""

from __future__ import annotations

import pytest

import tracing_middleware.propagation as propagation
from tracing_middleware.propagation import PROPAGATORS, CompositePropagator, build_propagator
from tracing_middleware.propagation.base import Propagator
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

W3C_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
HEADERS = {
    "traceparent": f"00-{W3C_TRACE}-{SPAN}-01",
    "X-B3-TraceId": "1" * 32, "X-B3-SpanId": "2" * 16, "X-B3-Sampled": "0",
    "uber-trace-id": f"{'3' * 32}:{'4' * 16}:0:1",
    "baggage": "a=from-w3c,shared=w3c", "uberctx-b": "from-jaeger", "uberctx-shared": "jaeger",
}


def test_first_valid_format_in_order_wins():
    """The configured order decides whose span context is used."""
    assert build_propagator(["b3multi", "tracecontext"]).extract(
        HEADERS).span_context.trace_id_hex == "1" * 32
    assert build_propagator(["tracecontext", "b3multi"]).extract(
        HEADERS).span_context.trace_id_hex == W3C_TRACE


def test_invalid_earlier_format_falls_through():
    """An invalid header in the first format lets the next valid one supply the context."""
    headers = {**HEADERS, "X-B3-TraceId": "junk"}
    ctx = build_propagator(["b3multi", "jaeger", "tracecontext"]).extract(headers).span_context
    assert ctx.trace_id_hex == "3" * 32


def test_baggage_is_merged_from_every_format():
    """Baggage from each format is merged even though only one supplies the context;
    later formats win on a shared key."""
    result = build_propagator(["tracecontext", "baggage", "jaeger"]).extract(HEADERS)
    assert result.span_context.trace_id_hex == W3C_TRACE
    assert dict(result.baggage) == {"a": "from-w3c", "b": "from-jaeger", "shared": "jaeger"}


def test_baggage_only_carrier_keeps_the_given_context():
    """No valid context in the carrier: the one passed in stays; baggage is added."""
    before = Propagated(SpanContext(5, 6, True), {"old": "1"})
    result = build_propagator(["tracecontext", "baggage"]).extract({"baggage": "k=v"}, before)
    assert result.span_context == before.span_context
    assert dict(result.baggage) == {"old": "1", "k": "v"}


def test_carrier_context_replaces_the_given_one():
    """Like each format, the composite fills in the carrier's context over ``propagated``."""
    before = Propagated(SpanContext(5, 6, True))
    result = build_propagator(["tracecontext"]).extract(HEADERS, before)
    assert result.span_context.trace_id_hex == W3C_TRACE


def test_nothing_found_returns_propagated_unchanged():
    """An empty carrier returns exactly what was passed in."""
    before = Propagated(SpanContext(5, 6, True), {"k": "v"})
    assert build_propagator(["tracecontext", "baggage", "jaeger"]).extract({}, before) is before


def test_every_format_injects():
    """Injection writes every configured format."""
    carrier: dict[str, str] = {}
    build_propagator(["tracecontext", "b3", "b3multi", "jaeger", "baggage", "osprofiler"],
                     ["k"]).inject(carrier, Propagated(SpanContext(1, 2, True), {"x": "y"}))
    assert set(carrier) == {"traceparent", "b3", "X-B3-TraceId", "X-B3-SpanId",
                            "X-B3-Sampled", "uber-trace-id", "uberctx-x", "baggage",
                            "X-Trace-Info", "X-Trace-HMAC"}


def test_fields_are_the_union():
    """``fields`` lists every header any configured format reads or writes."""
    composite = build_propagator(["tracecontext", "b3"])
    assert composite.fields == {"traceparent", "tracestate", "b3"}


class _Broken(Propagator):
    name = "broken"

    def extract(self, carrier, propagated=EMPTY, getter=None):
        raise RuntimeError("bug")

    def inject(self, carrier, propagated, setter=None):
        raise RuntimeError("bug")


def test_a_broken_format_does_not_stop_extraction():
    """One format's bug costs that format only; extraction still never raises."""
    composite = CompositePropagator([_Broken(), *build_propagator(["tracecontext"]).propagators])
    assert composite.extract(HEADERS).span_context.trace_id_hex == W3C_TRACE


def test_none_alone_is_an_empty_composite():
    """``none`` propagates nothing, in or out."""
    composite = build_propagator(["none"])
    assert composite.propagators == () and composite.fields == frozenset()
    carrier: dict[str, str] = {}
    composite.inject(carrier, Propagated(SpanContext(1, 2, True), {"k": "v"}))
    assert carrier == {} and composite.extract(HEADERS) == EMPTY


def test_names_are_deduplicated_in_order():
    """A repeated name is configured once, at its first position."""
    composite = build_propagator(["b3", "tracecontext", "b3"])
    assert [p.name for p in composite.propagators] == ["b3", "tracecontext"]


def test_unknown_propagator_name_is_a_config_error():
    """build_propagator names the bad value and the accepted ones."""
    with pytest.raises(ValueError, match=r"unknown propagator 'w3c'; expected one of "
                                         r"tracecontext, baggage, b3, b3multi, jaeger"):
        build_propagator(["tracecontext", "w3c"])


def test_osprofiler_gets_the_hmac_keys():
    """The osprofiler format is built with the configured keys."""
    carrier: dict[str, str] = {}
    build_propagator(["osprofiler"], ["k"]).inject(carrier, Propagated(SpanContext(1, 2, True)))
    assert set(carrier) == {"X-Trace-Info", "X-Trace-HMAC"}


def test_every_name_has_a_propagator_with_that_name():
    """PROPAGATORS keys are the operator-facing names each class declares."""
    for name, cls in PROPAGATORS.items():
        if cls is not None:
            assert cls.name == name and cls.fields
    assert set(PROPAGATORS) == {"tracecontext", "baggage", "b3", "b3multi", "jaeger",
                                "osprofiler", "none"}


@pytest.mark.parametrize("module", ["", ".b3", ".baggage", ".composite", ".jaeger",
                                    ".osprofiler", ".tracecontext"])
def test_all_is_declared_and_resolvable(module):
    """Each module declares ``__all__`` and every name in it exists."""
    import importlib

    mod = importlib.import_module(propagation.__name__ + module)
    assert mod.__all__ and all(hasattr(mod, name) for name in mod.__all__)
