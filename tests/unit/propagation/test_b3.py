"""Zipkin B3 (https://github.com/openzipkin/b3-propagation): single and multi header."""

from __future__ import annotations

import pytest

from tracing_middleware.propagation.b3 import B3MultiPropagator, B3SinglePropagator
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

TRACE = "80f198ee56343ba864fe8b2a57d3eff7"
SPAN = "e457b5a2e4d86bd1"
PARENT = "05e3ac9a4f6e3b90"
SINGLE = B3SinglePropagator()
MULTI = B3MultiPropagator()


def _single(value):
    return SINGLE.extract({"b3": value}).span_context


def _multi(**headers):
    names = {"trace": "X-B3-TraceId", "span": "X-B3-SpanId", "sampled": "X-B3-Sampled",
             "flags": "X-B3-Flags", "parent": "X-B3-ParentSpanId"}
    return MULTI.extract({names[k]: v for k, v in headers.items()}).span_context


def _ids(ctx):
    return ctx.trace_id_hex, ctx.span_id_hex


# -- single header ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "sampled", "debug"), [
    (f"{TRACE}-{SPAN}-1-{PARENT}", True, False),
    (f"{TRACE}-{SPAN}-0-{PARENT}", False, False),
    (f"{TRACE}-{SPAN}-d-{PARENT}", True, True),
    (f"{TRACE}-{SPAN}-1", True, False),
    (f"{TRACE}-{SPAN}-d", True, True),
    (f"{TRACE}-{SPAN}", None, False),
])
def test_single_header_forms(value, sampled, debug):
    """b3: {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}; sampling state optional."""
    ctx = _single(value)
    assert _ids(ctx) == (TRACE, SPAN)
    assert (ctx.sampled, ctx.debug, ctx.forced, ctx.remote) == (sampled, debug, False, True)


def test_single_64bit_trace_id_is_left_padded():
    """A 16-hex trace id is the same id as 128 bits, left-padded with zeros."""
    assert _single(f"{TRACE[16:]}-{SPAN}-1").trace_id_hex == "0" * 16 + TRACE[16:]


@pytest.mark.parametrize("value", ["0", "1", "d"])
def test_single_sampling_only_forms_carry_no_parent(value):
    """b3: 0|1|d has no ids: recognised, no remote parent, ``propagated`` unchanged."""
    before = EMPTY.with_baggage({"k": "v"})
    assert SINGLE.extract({"b3": value}, before) is before


@pytest.mark.parametrize("value", [
    f"{TRACE}-{SPAN}-x", f"{TRACE}-{SPAN}-true", f"{TRACE}-{SPAN}-1-{PARENT[:-1]}",
    f"{TRACE}-{SPAN}-1-{PARENT}-extra", f"{TRACE[:-1]}-{SPAN}", f"{TRACE}0-{SPAN}",
    f"{TRACE[:20]}-{SPAN}", f"{TRACE}-{SPAN[:-1]}", f"{'0' * 32}-{SPAN}-1",
    f"{TRACE}-{'0' * 16}-1", f"{TRACE}-{SPAN}-", "", "-", f"{TRACE}", "g" * 32 + f"-{SPAN}",
])
def test_single_invalid_values_are_ignored(value):
    """A malformed b3 header gives no context."""
    assert _single(value) is None


def test_single_inject_forms():
    """Writes 32-hex trace id and span id; 1/0/d, or nothing when deferred."""
    def inject(**kw):
        carrier: dict[str, str] = {}
        SINGLE.inject(carrier, Propagated(SpanContext(int(TRACE[16:], 16), int(SPAN, 16),
                                                      **kw)))
        return carrier["b3"]

    padded = "0" * 16 + TRACE[16:]
    assert inject(sampled=True) == f"{padded}-{SPAN}-1"
    assert inject(sampled=False) == f"{padded}-{SPAN}-0"
    assert inject(sampled=None) == f"{padded}-{SPAN}"
    assert inject(sampled=True, debug=True) == f"{padded}-{SPAN}-d"
    assert inject(sampled=None, forced=True) == f"{padded}-{SPAN}-1"


# -- multi header -----------------------------------------------------------------------


@pytest.mark.parametrize(("sampled_header", "sampled"), [
    ("1", True), ("0", False), ("true", True), ("false", False), ("True", True),
    (None, None), ("maybe", None),
])
def test_multi_sampled_values(sampled_header, sampled):
    """X-B3-Sampled: 1/0, and true/false from older tracers; absent or unknown = deferred."""
    headers = {"trace": TRACE, "span": SPAN}
    if sampled_header is not None:
        headers["sampled"] = sampled_header
    ctx = _multi(**headers)
    assert _ids(ctx) == (TRACE, SPAN) and ctx.sampled is sampled


def test_multi_debug_flag_means_sampled_not_forced():
    """X-B3-Flags: 1 is debug: implies accept; it never overrides policy like osprofiler."""
    ctx = _multi(trace=TRACE, span=SPAN, flags="1")
    assert (ctx.sampled, ctx.debug, ctx.forced) == (True, True, False)
    assert _multi(trace=TRACE, span=SPAN, flags="0").debug is False


def test_multi_parent_span_id_is_ignored():
    """X-B3-ParentSpanId does not change the extracted context, even when malformed."""
    assert _multi(trace=TRACE, span=SPAN, parent="junk") == _multi(trace=TRACE, span=SPAN)


def test_multi_header_names_are_case_insensitive():
    """HTTP header names are case-insensitive."""
    ctx = MULTI.extract({"x-b3-traceid": TRACE, "X-B3-SPANID": SPAN}).span_context
    assert _ids(ctx) == (TRACE, SPAN)


def test_multi_64bit_trace_id_is_left_padded():
    """X-B3-TraceId of 16 hex is left-padded to 128 bits."""
    assert _multi(trace=TRACE[16:], span=SPAN).trace_id_hex == "0" * 16 + TRACE[16:]


@pytest.mark.parametrize("headers", [
    {"trace": TRACE}, {"span": SPAN}, {"trace": TRACE[:-2], "span": SPAN},
    {"trace": "0" * 32, "span": SPAN}, {"trace": TRACE, "span": "0" * 16},
    {"trace": TRACE, "span": SPAN + "0"}, {"sampled": "1"},
])
def test_multi_invalid_is_ignored(headers):
    """Missing or malformed ids give no context."""
    assert _multi(**headers) is None


@pytest.mark.parametrize(("kw", "expected"), [
    ({"sampled": True}, {"X-B3-Sampled": "1"}),
    ({"sampled": False}, {"X-B3-Sampled": "0"}),
    ({"sampled": None}, {}),
    ({"sampled": None, "forced": True}, {"X-B3-Sampled": "1"}),
    ({"sampled": True, "debug": True}, {"X-B3-Flags": "1"}),
])
def test_multi_inject(kw, expected):
    """Trace and span ids always; Sampled 1/0 (omitted when deferred); debug as Flags: 1
    without Sampled ("Debug implies an accept decision, so don't also send X-B3-Sampled")."""
    carrier: dict[str, str] = {}
    MULTI.inject(carrier, Propagated(SpanContext(int(TRACE, 16), int(SPAN, 16), **kw)))
    assert carrier == {"X-B3-TraceId": TRACE, "X-B3-SpanId": SPAN, **expected}


@pytest.mark.parametrize("propagator", [SINGLE, MULTI])
def test_nothing_injected_without_a_valid_context(propagator):
    """No valid span context: no header."""
    for propagated in (EMPTY, Propagated(SpanContext(0, 1, True), {"k": "v"})):
        carrier: dict[str, str] = {}
        propagator.inject(carrier, propagated)
        assert carrier == {}
