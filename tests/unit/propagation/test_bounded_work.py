"""Untrusted headers: work is bounded. Oversized values are rejected before any parsing,
whatever the format, so a hostile header costs a length check."""

from __future__ import annotations

import pytest

from tracing_middleware.propagation import PROPAGATORS, build_propagator
from tracing_middleware.propagation.base import MAX_HEADER_LENGTH

VALID_TRACEPARENT = f"00-{'a' * 32}-{'b' * 16}-01"


class Untouchable(str):
    """A header value that fails the test if anything but its length is looked at."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError("an oversized header was parsed")

    split = strip = partition = lower = upper = encode = startswith = __getitem__ = _refuse
    __iter__ = __contains__ = replace = find = rstrip = lstrip = _refuse


def _huge() -> Untouchable:
    return Untouchable("x" * (MAX_HEADER_LENGTH + 1))


@pytest.mark.parametrize("name", [n for n in PROPAGATORS if n not in ("none", "baggage")])
def test_oversized_headers_are_never_parsed(name):
    """Every trace format drops a value longer than MAX_HEADER_LENGTH unparsed."""
    propagator = build_propagator([name], ["key"])
    carrier = {field: _huge() for field in propagator.fields}
    assert propagator.extract(carrier).span_context is None


def test_oversized_tracestate_is_never_parsed():
    """An oversized tracestate is dropped unparsed; the valid traceparent still applies."""
    ctx = build_propagator(["tracecontext"]).extract(
        {"traceparent": VALID_TRACEPARENT, "tracestate": [_huge()]}).span_context
    assert ctx is not None and ctx.trace_state == ()


def test_oversized_baggage_is_never_parsed():
    """W3C Baggage: more than 8192 bytes is dropped whole, unparsed."""
    value = Untouchable("k=v," * 3000)
    assert build_propagator(["baggage"]).extract({"baggage": value}).baggage == {}


def test_oversized_uberctx_value_is_never_parsed():
    """An oversized uberctx-* value is skipped unparsed; the others are kept."""
    result = build_propagator(["jaeger"]).extract({"uberctx-big": _huge(), "uberctx-ok": "1"})
    assert dict(result.baggage) == {"ok": "1"}
