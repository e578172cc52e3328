"""W3C Trace Context Level 1: ``traceparent`` and ``tracestate``.

https://www.w3.org/TR/trace-context-1/. We act as a receiver and forwarder: every MUST
for those roles is enforced here, and anything that fails one is ignored as if absent, so a
bad header restarts the trace instead of corrupting it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tracing_middleware.propagation.base import (
    MAX_HEADER_LENGTH,
    Getter,
    Propagator,
    Setter,
    default_setter,
)
from tracing_middleware.spancontext import Propagated, SpanContext

__all__ = [
    "MAX_MEMBERS",
    "MAX_TRACESTATE_LENGTH",
    "TraceContextPropagator",
    "format_traceparent",
    "format_tracestate",
    "parse_traceparent",
    "parse_tracestate",
]

# 3.2.2: version 00 is exactly four lowercase-hex fields (55 characters). 3.2.4: a higher
# version is parsed with the version-00 layout and may carry more fields after a '-'.
_TRACEPARENT_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_TRACEPARENT_ANY = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})"
                              r"(?:-.*)?")
# 3.3.1.3.1 key: simple-key or tenant@system multi-tenant key.
_KEY = re.compile(r"[a-z][_0-9a-z\-*/]{0,255}"
                  r"|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13}")
# 3.3.1.3.2 value: 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; no ',' or '='.
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_OWS = " \t"
_ODD_HEX = "13579bdf"

#: 3.3.1.1: "There can be a maximum of 32 list-members in a list."
MAX_MEMBERS = 32
#: 3.3.1.5: vendors SHOULD propagate at least 512 characters of a combined header.
MAX_TRACESTATE_LENGTH = 512
#: 3.3.1.5: when truncating, entries longer than this are removed first.
_LONG_ENTRY = 128

TraceState = tuple[tuple[str, str], ...]


def parse_tracestate(values: Iterable[Any]) -> TraceState | None:
    """Validated members in order, or ``None`` when the combined header is invalid.

    3.3.1: multiple ``tracestate`` headers are combined with ``,``; empty members are
    allowed and skipped. A bad member, a duplicate key ("keys MUST be unique") or more than
    32 members makes the whole header invalid, and an invalid tracestate is discarded
    while the traceparent still applies. An accepted list longer than 512 characters is
    truncated as :func:`format_tracestate` does, so what we store is what we forward.
    """
    strings = [v for v in values if isinstance(v, str)]
    if sum(len(v) + 1 for v in strings) > MAX_HEADER_LENGTH + 1:
        return None  # bounded work: over-long input is never split
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in ",".join(strings).split(","):
        item = raw.strip(_OWS)
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or key in seen or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value):
            return None
        seen.add(key)
        members.append((key, value))
        if len(members) > MAX_MEMBERS:
            return None
    return _truncate(members)


def _truncate(members: list[tuple[str, str]]) -> TraceState:
    """3.3.1.5: drop entries over 128 characters first, then from the end, to fit 512."""

    def length(items: list[tuple[str, str]]) -> int:
        return sum(len(k) + len(v) + 1 for k, v in items) + max(len(items) - 1, 0)

    if length(members) > MAX_TRACESTATE_LENGTH:
        members = [(k, v) for k, v in members if len(k) + len(v) + 1 <= _LONG_ENTRY]
        while members and length(members) > MAX_TRACESTATE_LENGTH:
            members.pop()
    return tuple(members)


def format_tracestate(trace_state: Iterable[tuple[str, str]]) -> str:
    """The ``tracestate`` value for valid members, at most 32 and 512 characters.

    Locally built state is not trusted either: invalid or duplicate members are left out
    (a value with CR/LF must never reach a header), then 3.3.1.5 truncation applies.
    """
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, value in trace_state:
        if (isinstance(key, str) and isinstance(value, str) and key not in seen
                and _KEY.fullmatch(key) and _VALUE.fullmatch(value)):
            seen.add(key)
            members.append((key, value))
            if len(members) == MAX_MEMBERS:
                break
    return ",".join(f"{k}={v}" for k, v in _truncate(members))


def parse_traceparent(header: Any) -> SpanContext | None:
    """The remote span context of one ``traceparent`` value, ``None`` if it is invalid."""
    if not isinstance(header, str) or len(header) > MAX_HEADER_LENGTH:
        return None
    header = header.strip(_OWS)
    if header.startswith("00"):
        match = _TRACEPARENT_00.fullmatch(header)
    else:
        match = _TRACEPARENT_ANY.fullmatch(header)
        # 3.2.2.1: version ff is invalid.
        if match is not None and match.group(1) == "ff":
            match = None
    if match is None:
        return None
    trace_hex, span_hex, flags_hex = match.groups()[-3:]
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    # 3.2.2.3 / 3.2.2.4: all-zero trace-id or parent-id is invalid.
    if trace_id == 0 or span_id == 0:
        return None
    # 3.2.2.5: only the sampled bit (bit 0) is defined; other bits are ignored. The
    # last hex digit holds it: odd means sampled. (``remote`` defaults to True.)
    return SpanContext(trace_id, span_id, flags_hex[1] in _ODD_HEX)


def format_traceparent(context: SpanContext) -> str:
    """Version 00 for a valid context. A deferred decision (sampled None) has no W3C
    encoding: it goes out as 00, as does anything not sampled."""
    flags = "01" if (context.sampled or context.forced) else "00"
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}"


class TraceContextPropagator(Propagator):
    """``traceparent: 00-{trace}-{parent}-{flags}`` plus ``tracestate``."""

    name = "tracecontext"
    fields = frozenset({"traceparent", "tracestate"})

    def _extract(self, carrier: Any, propagated: Propagated, getter: Getter[Any]
                 ) -> Propagated:
        values = getter.get(carrier, "traceparent")
        # NOTE(os-tracing): two traceparent headers are ambiguous; the W3C test suite
        # (test_traceparent_duplicated) expects the receiver to restart the trace.
        if not values or len(values) != 1:
            return propagated
        context = parse_traceparent(values[0])
        if context is None:
            return propagated
        states = getter.get(carrier, "tracestate")
        state = parse_tracestate(states) if states else None
        if state:
            context = context._replace(trace_state=state)
        return propagated.with_span_context(context)

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        context = propagated.span_context
        if context is None or not context.is_valid:
            return
        setter.set(carrier, "traceparent", format_traceparent(context))
        if context.trace_state:
            state = format_tracestate(context.trace_state)
            if state:
                setter.set(carrier, "tracestate", state)
