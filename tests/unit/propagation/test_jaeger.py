"""Jaeger ``uber-trace-id`` and ``uberctx-*`` baggage."""

from __future__ import annotations

import pytest

from tracing_middleware.propagation.base import environ_getter
from tracing_middleware.propagation.jaeger import MAX_BAGGAGE_MEMBERS, JaegerPropagator
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

JP = JaegerPropagator()
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def _ctx(value):
    return JP.extract({"uber-trace-id": value}).span_context


@pytest.mark.parametrize(("flags", "sampled", "debug"), [
    ("0", False, False), ("1", True, False), ("3", True, True), ("2", True, True),
    ("01", True, False), ("5", True, False),
])
def test_flags(flags, sampled, debug):
    """Flags: bit 1 sampled, bit 2 debug (debug implies sampled); debug is never forced."""
    ctx = _ctx(f"{TRACE}:{SPAN}:0:{flags}")
    assert (ctx.sampled, ctx.debug, ctx.forced, ctx.remote) == (sampled, debug, False, True)


def test_unpadded_ids_are_accepted():
    """Jaeger clients write ids with {:x}: no leading zeros."""
    ctx = _ctx("abc:f:0:1")
    assert (ctx.trace_id, ctx.span_id) == (0xABC, 0xF)


def test_url_encoded_value_is_accepted():
    """Some clients URL-encode the whole value (%3A for ':')."""
    ctx = _ctx(f"{TRACE}%3A{SPAN}%3A0%3A1")
    assert (ctx.trace_id_hex, ctx.span_id_hex, ctx.sampled) == (TRACE, SPAN, True)


def test_parent_span_id_is_ignored():
    """The parent id field is deprecated: any valid value gives the same context."""
    assert _ctx(f"{TRACE}:{SPAN}:0:1") == _ctx(f"{TRACE}:{SPAN}:{SPAN}:1")


@pytest.mark.parametrize("value", [
    f"0:{SPAN}:0:1", f"{'0' * 32}:{SPAN}:0:1", f"{TRACE}:0:0:1", f"{TRACE}:{SPAN}:0",
    f"{TRACE}:{SPAN}:0:1:1", f"{TRACE}0:{SPAN}:0:1", f"{TRACE}:{SPAN}0:0:1",
    f"{TRACE}:{SPAN}:0:100", f"{TRACE}:{SPAN}::1", f"{TRACE}-{SPAN}-0-1", "", "x:y:z:w",
])
def test_invalid_values_are_ignored(value):
    """Trace id 0, span id 0, wrong field count or width: no context."""
    assert _ctx(value) is None


def test_baggage_from_uberctx_headers():
    """uberctx-{key} headers are baggage; values are URL-decoded and merged."""
    result = JP.extract({"uber-trace-id": f"{TRACE}:{SPAN}:0:1", "uberctx-tenant": "a%20b",
                         "UberCtx-Zone": "z1", "uberctx-": "ignored"},
                        EMPTY.with_baggage({"tenant": "old", "keep": "1"}))
    assert dict(result.baggage) == {"tenant": "a b", "zone": "z1", "keep": "1"}


def test_baggage_without_trace_id_is_still_read():
    """Baggage does not depend on a valid uber-trace-id."""
    result = JP.extract({"uber-trace-id": "junk", "uberctx-k": "v"})
    assert result.span_context is None and dict(result.baggage) == {"k": "v"}


def test_baggage_from_wsgi_environ():
    """The WSGI getter lists HTTP_UBERCTX_* as uberctx-* headers."""
    environ = {"HTTP_UBER_TRACE_ID": f"{TRACE}:{SPAN}:0:1", "HTTP_UBERCTX_USER": "me"}
    result = JP.extract(environ, getter=environ_getter)
    assert result.span_context.trace_id_hex == TRACE and dict(result.baggage) == {"user": "me"}


def test_baggage_member_limit():
    """At most 180 uberctx-* headers are read, like W3C Baggage."""
    carrier = {f"uberctx-k{i}": "v" for i in range(MAX_BAGGAGE_MEMBERS + 50)}
    assert len(JP.extract(carrier).baggage) == MAX_BAGGAGE_MEMBERS


@pytest.mark.parametrize(("kw", "flags"), [
    ({"sampled": True}, "1"), ({"sampled": False}, "0"), ({"sampled": None}, "0"),
    ({"sampled": True, "debug": True}, "3"), ({"sampled": None, "forced": True}, "1"),
])
def test_inject(kw, flags):
    """uber-trace-id with 32-hex trace id, 16-hex span id, parent 0, flags; uberctx-*."""
    carrier: dict[str, str] = {}
    JP.inject(carrier, Propagated(SpanContext(0xABC, 0xF, **kw), {"k": "a b", "bad key": "x"}))
    assert carrier == {"uber-trace-id": f"{0xABC:032x}:{0xF:016x}:0:{flags}",
                       "uberctx-k": "a%20b"}


def test_nothing_injected_without_a_valid_context():
    """No valid span context: not even baggage is written."""
    carrier: dict[str, str] = {}
    JP.inject(carrier, Propagated(None, {"k": "v"}))
    assert carrier == {}
