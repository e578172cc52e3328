"""Untrusted headers: work is bounded. Oversized values are rejected before any parsing,
whatever the format, so a hostile header costs a length check."""

from __future__ import annotations

import pytest

from tracing_middleware.propagation import PROPAGATORS, build_propagator
from tracing_middleware.propagation.base import MAX_HEADER_LENGTH


class Untouchable(str):
    """A header value that fails the test if anything but its length is looked at."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError("an oversized header was parsed")

    split = strip = partition = lower = upper = encode = startswith = __getitem__ = _refuse
    __iter__ = __contains__ = replace = find = _refuse


@pytest.mark.parametrize("name", [n for n in PROPAGATORS if n not in ("none", "baggage")])
def test_oversized_headers_are_never_parsed(name):
    """Every trace format drops a value longer than MAX_HEADER_LENGTH unparsed."""
    propagator = build_propagator([name], ["key"])
    value = Untouchable("x" * (MAX_HEADER_LENGTH + 1))
    carrier = {field: value for field in propagator.fields}
    assert propagator.extract(carrier).span_context is None


def test_oversized_baggage_is_never_parsed():
    """W3C Baggage: more than 8192 bytes is dropped whole, unparsed."""
    value = Untouchable("k=v," * 3000)
    assert build_propagator(["baggage"]).extract({"baggage": value}).baggage == {}
