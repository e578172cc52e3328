"""W3C Trace Context Level 1: ``traceparent`` and ``tracestate``."""

from __future__ import annotations

import re
from typing import Any

from tracing_middleware.propagation.base import (
    Getter,
    Propagator,
    Setter,
    default_getter,
    default_setter,
    first_value,
)
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

__all__ = ["TraceContextPropagator", "parse_tracestate"]

_TRACEPARENT = re.compile(
    r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_KEY = re.compile(r"^(?:[a-z][_0-9a-z\-*/]{0,255}|"
                  r"[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$")
_VALUE = re.compile(r"^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$")
MAX_MEMBERS = 32
MAX_TRACESTATE_LENGTH = 512


def parse_tracestate(values: list[str]) -> tuple[tuple[str, str], ...] | None:
    """Members in order, or ``None`` when the header is invalid (3.3: then discard it)."""
    combined = ",".join(values)
    if len(combined) > MAX_TRACESTATE_LENGTH * 4:
        return None
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in combined.split(","):
        item = raw.strip(" \t")
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not _KEY.match(key) or not _VALUE.match(value):
            return None
        if key in seen:
            return None
        seen.add(key)
        members.append((key, value))
    if len(members) > MAX_MEMBERS:
        return None
    return tuple(members)


class TraceContextPropagator(Propagator):
    name = "tracecontext"
    fields = frozenset({"traceparent", "tracestate"})

    def extract(self, carrier: Any, propagated: Propagated = EMPTY,
                getter: Getter[Any] = default_getter) -> Propagated:
        header = first_value(getter, carrier, "traceparent")
        if header is None:
            return propagated
        match = _TRACEPARENT.match(header.strip(" \t"))
        if match is None:
            return propagated
        version, trace_hex, span_hex, flags_hex, rest = match.groups()
        if version == "ff":
            return propagated
        if version == "00" and rest is not None:
            return propagated
        trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
        if trace_id == 0 or span_id == 0:
            return propagated
        state: tuple[tuple[str, str], ...] = ()
        values = getter.get(carrier, "tracestate")
        if values:
            state = parse_tracestate([v for v in values if isinstance(v, str)]) or ()
        sampled = bool(int(flags_hex, 16) & 1)
        return propagated.with_span_context(
            SpanContext(trace_id, span_id, sampled, True, state))

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        context = propagated.span_context
        if context is None or not context.is_valid:
            return
        flags = "01" if (context.sampled or context.forced) else "00"
        setter.set(carrier, "traceparent",
                   f"00-{context.trace_id_hex}-{context.span_id_hex}-{flags}")
        if context.trace_state:
            value = ",".join(f"{k}={v}" for k, v in context.trace_state[:MAX_MEMBERS])
            while len(value) > MAX_TRACESTATE_LENGTH and "," in value:
                value = value.rsplit(",", 1)[0]
            setter.set(carrier, "tracestate", value)
