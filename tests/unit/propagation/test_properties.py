"""Hypothesis: every parser of untrusted input never raises and round-trips what it accepts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from messaging_driver import envelope
from tracing_middleware.propagation import PROPAGATORS, build_propagator
from tracing_middleware.propagation.base import environ_getter
from tracing_middleware.spancontext import Propagated, SpanContext

NAMES = [n for n in PROPAGATORS if n != "none"]
FIELDS = sorted({f for n in NAMES for f in build_propagator([n], ["k"]).fields}
                | {"uberctx-a", "b3"})

header_values = st.one_of(st.text(max_size=300), st.text(alphabet="0123456789abcdef-:;=,",
                                                          max_size=120))
carriers = st.dictionaries(st.sampled_from(FIELDS), header_values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(carriers)
def test_extract_never_raises(carrier):
    """Any text in any of our header names: a Propagated, never an exception."""
    for name in NAMES:
        result = build_propagator([name], ["key"]).extract(carrier)
        assert isinstance(result, Propagated)
        if result.span_context is not None:
            assert result.span_context.is_valid


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=30), st.one_of(st.none(), st.integers(),
                                                       st.binary(max_size=20),
                                                       st.lists(st.text(max_size=5))),
                       max_size=5))
def test_non_string_carriers_never_raise(carrier):
    """Wrong value types in a carrier are ignored."""
    for name in NAMES:
        assert isinstance(build_propagator([name], ["k"]).extract(carrier), Propagated)


contexts = st.builds(
    SpanContext,
    trace_id=st.integers(min_value=1, max_value=(1 << 128) - 1),
    span_id=st.integers(min_value=1, max_value=(1 << 64) - 1),
    sampled=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(contexts, st.sampled_from(["tracecontext", "b3", "b3multi", "jaeger", "osprofiler"]))
def test_inject_then_extract_round_trips(context, name):
    """What a format writes for a sampled context, it reads back with the same ids."""
    if name == "osprofiler" and not context.sampled:
        return  # osprofiler only carries sampled (signed) traces
    propagator = build_propagator([name], ["key"])
    carrier: dict[str, str] = {}
    propagator.inject(carrier, Propagated(context))
    back = propagator.extract(carrier).span_context
    assert (back.trace_id, back.span_id, bool(back.sampled)) == (
        context.trace_id, context.span_id, context.sampled)


@settings(max_examples=100, deadline=None)
@given(contexts)
def test_ids_survive_every_format_to_every_format(context):
    """A context entering as one format and leaving as another keeps its ids."""
    context = SpanContext(context.trace_id, context.span_id, True)
    for first in ("tracecontext", "b3", "b3multi", "jaeger", "osprofiler"):
        carrier: dict[str, str] = {}
        build_propagator([first], ["k"]).inject(carrier, Propagated(context))
        entered = build_propagator([first], ["k"]).extract(carrier).span_context
        for second in ("tracecontext", "b3multi", "jaeger"):
            out: dict[str, str] = {}
            build_propagator([second]).inject(out, Propagated(entered))
            left = build_propagator([second]).extract(out).span_context
            assert (left.trace_id, left.span_id) == (context.trace_id, context.span_id)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=40), st.text(max_size=200), max_size=8))
def test_environ_getter_never_raises(headers):
    """The WSGI environ getter takes anything a server could put in environ."""
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    build_propagator(NAMES, ["k"]).extract(environ, getter=environ_getter)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.text(max_size=20),
                 st.dictionaries(st.text(max_size=80), st.one_of(st.text(max_size=100),
                                                                 st.integers()), max_size=20)))
def test_rpc_envelope_never_raises_and_is_bounded(raw):
    """A received envelope is accepted only as a small dict of short strings."""
    message = {"method": "m", envelope.KEY: raw}
    headers = envelope.pop_envelope(message)
    assert envelope.KEY not in message
    if headers is not None:
        assert len(headers) <= envelope.MAX_ENTRIES
        assert all(isinstance(v, str) and len(v) <= envelope.MAX_VALUE_LENGTH
                   for v in headers.values())
