"""The format-neutral span context every propagator, sampler and engine shares.

Propagation formats disagree on id widths and flags; this is the one shape they all map
to, so a trace entering as B3 can leave as W3C or osprofiler without losing its ids.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

__all__ = [
    "EMPTY",
    "INVALID_SPAN_ID",
    "INVALID_TRACE_ID",
    "Propagated",
    "SpanContext",
    "format_span_id",
    "format_trace_id",
    "new_span_id",
    "new_trace_id",
]

INVALID_TRACE_ID = 0
INVALID_SPAN_ID = 0
_MAX_TRACE_ID = (1 << 128) - 1
_MAX_SPAN_ID = (1 << 64) - 1

#: The module's generator, not a ``SystemRandom``: ids need to be unique, not secret, and
#: this is several times cheaper per span. Forked children do not repeat the parent's
#: ids: the random module reseeds itself in ``os.register_at_fork``, and uwsgi, whose
#: C fork runs no such hook, reseeds it in each worker.
_getrandbits = random.getrandbits


def new_trace_id() -> int:
    """A random, non-zero 128-bit trace id (W3C Trace Context 3.2.2.3).

    Every engine's ids come from here and :func:`new_span_id`, so a fix to how ids are
    drawn reaches them all.
    """
    return _getrandbits(128) or 1


def new_span_id() -> int:
    """A random, non-zero 64-bit span id."""
    return _getrandbits(64) or 1


def format_trace_id(trace_id: int) -> str:
    """32 lowercase hex digits: the form the store, OTLP JSON and W3C use."""
    return f"{trace_id:032x}"


def format_span_id(span_id: int) -> str:
    """16 lowercase hex digits."""
    return f"{span_id:016x}"


class SpanContext(NamedTuple):
    """What crosses a process boundary about one span.

    ``sampled`` is ``None`` when the caller deferred the decision (B3 and Jaeger allow
    it). ``forced`` is set only by a verified osprofiler signature: it is the one signal
    from outside that overrides the sampling policy. ``trace_state`` keeps W3C
    ``tracestate`` members, already validated, in order. ``random`` is W3C Trace Context
    Level 2's random flag: the low 56 bits of the trace id are random. It holds for ids we
    generate and is carried on from a caller that set it, never claimed for another.

    A named tuple, not a frozen dataclass: as immutable, and built in a quarter of the
    time, which counts because every message and outgoing call builds a few.
    """

    trace_id: int
    span_id: int
    sampled: bool | None = None
    remote: bool = True
    trace_state: tuple[tuple[str, str], ...] = ()
    forced: bool = False
    debug: bool = False
    random: bool = False

    @property
    def is_valid(self) -> bool:
        return 0 < self.trace_id <= _MAX_TRACE_ID and 0 < self.span_id <= _MAX_SPAN_ID

    @property
    def trace_id_hex(self) -> str:
        return format_trace_id(self.trace_id)

    @property
    def span_id_hex(self) -> str:
        return format_span_id(self.span_id)


_NO_BAGGAGE: Mapping[str, str] = MappingProxyType({})


class Propagated(NamedTuple):
    """The result of extraction: a remote parent (or none) plus baggage.

    Immutable so that one extraction can be shared by the edge and its integrations
    without anyone editing it under the other's feet.
    """

    span_context: SpanContext | None = None
    baggage: Mapping[str, str] = _NO_BAGGAGE

    def with_span_context(self, span_context: SpanContext | None) -> Propagated:
        return Propagated(span_context, self.baggage)

    def with_baggage(self, baggage: Mapping[str, str]) -> Propagated:
        return Propagated(self.span_context, MappingProxyType(dict(baggage)))


EMPTY = Propagated()
