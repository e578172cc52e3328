"""Hypothesis: every parser of untrusted input never raises, and round-trips what it accepts.

``Propagator.extract`` (every format's public entry) has a last-resort ``except
Exception``; the never-raises properties also run the parsers *without* it (the private
``_extract`` / ``_context`` / ``parse_*`` functions), so a parser bug cannot hide behind
the guard.
"""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from messaging_driver import envelope
from tracing_middleware.propagation import PROPAGATORS, build_propagator
from tracing_middleware.propagation.b3 import B3MultiPropagator, B3SinglePropagator
from tracing_middleware.propagation.baggage import format_baggage, parse_baggage
from tracing_middleware.propagation.base import default_getter, environ_getter
from tracing_middleware.propagation.jaeger import JaegerPropagator
from tracing_middleware.propagation.osprofiler import OSProfilerPropagator, sign, uuids_for
from tracing_middleware.propagation.tracecontext import (
    TraceContextPropagator,
    format_tracestate,
    parse_tracestate,
)
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

NAMES = [n for n in PROPAGATORS if n != "none"]
KEYS = ["key"]
FIELDS = sorted({f for n in NAMES for f in build_propagator([n], KEYS).fields}
                | {"uberctx-a", "uberctx-b", "x-b3-parentspanid"})
MAX_TRACE, MAX_SPAN = (1 << 128) - 1, (1 << 64) - 1

header_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="0123456789abcdefABCDEF-:;=,%@ \t", max_size=120),
    st.sampled_from([f"00-{'a' * 32}-{'b' * 16}-01", f"{'a' * 32}-{'b' * 16}-d",
                     f"{'a' * 32}:{'b' * 16}:0:3", "k=v;p,j=%FF", "a=1,a=2"]),
)
header_values = st.one_of(header_text, st.lists(header_text, max_size=3))
carriers = st.dictionaries(st.sampled_from(FIELDS), header_values, max_size=8)


def _unguarded(name: str, carrier) -> None:
    """Run one format's parser without the propagator's outer ``except Exception``."""
    getter = default_getter
    if name == "tracecontext":
        TraceContextPropagator()._extract(carrier, EMPTY, getter)
    elif name == "b3":
        B3SinglePropagator()._extract(carrier, EMPTY, getter)
    elif name == "b3multi":
        B3MultiPropagator()._extract(carrier, EMPTY, getter)
    elif name == "jaeger":
        JaegerPropagator._context(carrier, getter)
        JaegerPropagator._baggage(carrier, getter)
    elif name == "osprofiler":
        OSProfilerPropagator(KEYS)._context(carrier, getter)
    elif name == "baggage":
        parse_baggage(getter.get(carrier, "baggage") or [])


@settings(max_examples=400, deadline=None)
@given(carriers)
def test_parsers_never_raise_on_arbitrary_text(carrier):
    """Any text in any of our header names: no exception, even without the guard, and any
    context found is valid and remote."""
    for name in NAMES:
        _unguarded(name, carrier)
        result = build_propagator([name], KEYS).extract(carrier)
        assert isinstance(result, Propagated)
        if result.span_context is not None:
            assert result.span_context.is_valid and result.span_context.remote


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400),
                 st.recursive(st.none() | st.integers() | st.text(max_size=40),
                              lambda inner: st.lists(inner, max_size=4)
                              | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                              max_leaves=12).map(lambda v: repr(v).encode())))
def test_signed_garbage_never_raises(payload):
    """A payload signed with a valid key but not what osprofiler writes: no exception."""
    data = payload if isinstance(payload, bytes) else payload.encode("utf-8", "replace")
    info = data.decode("utf-8", "replace")
    carrier = {"X-Trace-Info": info, "X-Trace-HMAC": sign(info.strip(" \t").encode(), "key")}
    OSProfilerPropagator(KEYS)._context(carrier, default_getter)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.none(), st.integers(), st.text(max_size=10), st.binary(max_size=10),
    st.lists(st.text(max_size=10), max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=30), st.sampled_from(FIELDS), st.binary(),
                              st.integers()),
                    st.one_of(st.none(), st.integers(), st.binary(max_size=20),
                              st.lists(st.one_of(st.text(max_size=5), st.binary(max_size=5),
                                                 st.none()), max_size=3),
                              st.floats(), header_text),
                    max_size=6)))
def test_non_string_carriers_never_raise(carrier):
    """Wrong carrier or value types (None, bytes, ints, lists) are ignored, never raised."""
    before = Propagated(SpanContext(1, 2, True), {"k": "v"})
    for name in NAMES:
        result = build_propagator([name], KEYS).extract(carrier, before)
        assert isinstance(result, Propagated)
        if not isinstance(carrier, dict):
            assert result is before


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=40), st.text(max_size=200), max_size=8))
def test_environ_getter_never_raises(headers):
    """The WSGI environ getter takes anything a server could put in environ."""
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    assert isinstance(build_propagator(NAMES, KEYS).extract(environ, getter=environ_getter),
                      Propagated)


# -- round trips ------------------------------------------------------------------------

trace_ids = st.integers(min_value=1, max_value=MAX_TRACE)
span_ids = st.integers(min_value=1, max_value=MAX_SPAN)
ts_keys = st.one_of(
    st.from_regex(r"[a-z][_0-9a-z\-*/]{0,20}", fullmatch=True),
    st.from_regex(r"[a-z0-9][_0-9a-z\-*/]{0,10}@[a-z][_0-9a-z\-*/]{0,13}", fullmatch=True))
ts_values = st.from_regex(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,30}[\x21-\x2b\x2d-\x3c\x3e-\x7e]",
                          fullmatch=True)
trace_states = st.lists(st.tuples(ts_keys, ts_values), max_size=8,
                        unique_by=lambda kv: kv[0]).map(tuple)
token_keys = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9a-z]{1,20}", fullmatch=True)
baggages = st.dictionaries(token_keys, st.text(max_size=30), max_size=10)


def _round_trip(name: str, propagated: Propagated) -> Propagated:
    propagator = build_propagator([name], KEYS)
    carrier: dict[str, str] = {}
    propagator.inject(carrier, propagated)
    return propagator.extract(carrier)


@settings(max_examples=200, deadline=None)
@given(trace_ids, span_ids, st.booleans(), st.booleans(), trace_states)
def test_tracecontext_round_trips(trace_id, span_id, sampled, forced, state):
    """traceparent + tracestate: ids, sampled (forced goes out as sampled) and members."""
    back = _round_trip("tracecontext", Propagated(SpanContext(
        trace_id, span_id, sampled, forced=forced, trace_state=state))).span_context
    assert back == SpanContext(trace_id, span_id, sampled or forced, remote=True,
                               trace_state=state)


@settings(max_examples=200, deadline=None)
@given(trace_ids, span_ids, st.sampled_from([None, True, False]), st.booleans(),
       st.sampled_from(["b3", "b3multi"]))
def test_b3_round_trips(trace_id, span_id, sampled, debug, name):
    """B3: ids, deferred/accept/deny, and debug (which implies sampled)."""
    if debug:
        sampled = True
    back = _round_trip(name, Propagated(SpanContext(trace_id, span_id, sampled,
                                                    debug=debug))).span_context
    assert back == SpanContext(trace_id, span_id, sampled, remote=True, debug=debug)


@settings(max_examples=200, deadline=None)
@given(trace_ids, span_ids, st.booleans(), st.booleans(), baggages)
def test_jaeger_round_trips(trace_id, span_id, sampled, debug, baggage):
    """uber-trace-id and uberctx-*: ids, sampled, debug and baggage (lower-case keys, as
    HTTP header names are case-insensitive)."""
    result = _round_trip("jaeger", Propagated(SpanContext(trace_id, span_id, sampled or debug,
                                                          debug=debug), baggage))
    assert result.span_context == SpanContext(trace_id, span_id, sampled or debug,
                                              remote=True, debug=debug)
    assert dict(result.baggage) == baggage


@settings(max_examples=200, deadline=None)
@given(baggages)
def test_baggage_round_trips(baggage):
    """W3C baggage: any text value survives percent-encoding and decoding."""
    assert dict(_round_trip("baggage", Propagated(None, baggage)).baggage) == baggage


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=4))
def test_baggage_parser_is_bounded(values):
    """Whatever arrives, at most 180 members come out, and formatting them stays valid."""
    found = parse_baggage(values)
    assert len(found) <= 180
    assert parse_baggage([format_baggage(found)]) == found


ts_members = st.tuples(ts_keys, ts_values).map("=".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(ts_members, ts_members.map(lambda m: f" {m}\t,,"), header_text),
                max_size=12))
def test_tracestate_parser_output_round_trips(values):
    """Whatever tracestate is accepted is re-emitted unchanged and re-parses the same."""
    state = parse_tracestate(values) or ()
    assert len(state) <= 32
    assert parse_tracestate([format_tracestate(state)]) == state


@settings(max_examples=200, deadline=None)
@given(trace_ids, span_ids)
def test_osprofiler_round_trips(trace_id, span_id):
    """osprofiler carries sampled contexts only, and they come back forced."""
    back = _round_trip("osprofiler", Propagated(SpanContext(trace_id, span_id, True)))
    assert back.span_context == SpanContext(trace_id, span_id, True, remote=True, forced=True)


# -- cross-format -----------------------------------------------------------------------

ID_FORMATS = ["tracecontext", "b3", "b3multi", "jaeger", "osprofiler"]


@settings(max_examples=100, deadline=None)
@given(trace_ids, span_ids, st.sampled_from(ID_FORMATS), st.sampled_from(ID_FORMATS))
def test_ids_survive_any_format_to_any_format(trace_id, span_id, first, second):
    """A context entering as one format and leaving as another keeps its ids."""
    entered = _round_trip(first, Propagated(SpanContext(trace_id, span_id, True)))
    left = _round_trip(second, entered).span_context
    assert (left.trace_id, left.span_id) == (trace_id, span_id)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_SPAN), span_ids,
       st.sampled_from(["b3", "b3multi", "jaeger"]))
def test_64bit_trace_ids_pad_and_round_trip_through_w3c(trace64, span_id, name):
    """A 64-bit B3/Jaeger trace id is left-padded to 128 bits, crosses W3C unchanged and
    comes back as the same id."""
    carrier = {"b3": f"{trace64:016x}-{span_id:016x}-1",
               "X-B3-TraceId": f"{trace64:016x}", "X-B3-SpanId": f"{span_id:016x}",
               "uber-trace-id": f"{trace64:x}:{span_id:x}:0:1"}
    entered = build_propagator([name]).extract(carrier)
    assert entered.span_context.trace_id_hex == f"{trace64:032x}"
    via_w3c = _round_trip("tracecontext", entered)
    assert _round_trip(name, via_w3c).span_context.trace_id == trace64


@settings(max_examples=100, deadline=None)
@given(st.uuids(), st.uuids(), st.sampled_from(["tracecontext", "b3", "b3multi", "jaeger"]))
def test_osprofiler_ids_map_both_ways(base, parent, via):
    """osprofiler -> any format -> osprofiler: the base id is unchanged and the parent id's
    low 64 bits (osprofiler's shorten_id) are the span id all the way."""
    propagator = OSProfilerPropagator(KEYS)
    base_id, parent_id = str(base), str(parent)
    assume(parent.int & MAX_SPAN)
    from osprofiler import _utils as osprofiler_utils

    info, signature = osprofiler_utils.signed_pack({"base_id": base_id, "parent_id": parent_id},
                                                   "key")
    entered = propagator.extract({"X-Trace-Info": info.decode(), "X-Trace-HMAC": signature})
    assert entered.span_context.trace_id == base.int
    assert entered.span_context.span_id == osprofiler_utils.shorten_id(parent_id)
    crossed = _round_trip(via, entered)
    carrier: dict[str, str] = {}
    propagator.inject(carrier, crossed)
    data = osprofiler_utils.signed_unpack(carrier["X-Trace-Info"], carrier["X-Trace-HMAC"],
                                          ["key"])
    assert data["base_id"] == base_id
    assert data["parent_id"] == uuids_for(base.int, parent.int & MAX_SPAN)[1]
    assert uuid.UUID(data["parent_id"]).int & MAX_SPAN == parent.int & MAX_SPAN


# -- RPC envelope (the other untrusted input the propagators read) ------------------------


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
