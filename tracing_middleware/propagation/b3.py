"""Zipkin B3: the single ``b3`` header and the ``X-B3-*`` headers."""

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

__all__ = ["B3MultiPropagator", "B3SinglePropagator"]

_TRACE = re.compile(r"^(?:[0-9a-f]{16}|[0-9a-f]{32})$")
_SPAN = re.compile(r"^[0-9a-f]{16}$")


def _ids(trace_hex: str, span_hex: str) -> tuple[int, int] | None:
    if not _TRACE.match(trace_hex) or not _SPAN.match(span_hex):
        return None
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if trace_id == 0 or span_id == 0:
        return None
    return trace_id, span_id  # a 64-bit trace id is left-padded to 128 by value


def _sampled_flag(context: SpanContext) -> str | None:
    if context.debug:
        return "d"
    if context.sampled is None and not context.forced:
        return None
    return "1" if (context.sampled or context.forced) else "0"


class B3SinglePropagator(Propagator):
    """``b3: {trace}-{span}[-{1|0|d}[-{parent}]]``; ``b3: 0`` alone is a deny."""

    name = "b3"
    fields = frozenset({"b3"})

    def extract(self, carrier: Any, propagated: Propagated = EMPTY,
                getter: Getter[Any] = default_getter) -> Propagated:
        value = first_value(getter, carrier, "b3")
        if value is None:
            return propagated
        parts = value.strip().split("-")
        if len(parts) < 2 or len(parts) > 4:
            return propagated
        ids = _ids(parts[0], parts[1])
        if ids is None:
            return propagated
        sampled: bool | None = None
        debug = False
        if len(parts) >= 3:
            flag = parts[2]
            if flag == "d":
                sampled, debug = True, True
            elif flag in ("1", "0"):
                sampled = flag == "1"
            else:
                return propagated
        if len(parts) == 4 and not _SPAN.match(parts[3]):
            return propagated
        return propagated.with_span_context(
            SpanContext(ids[0], ids[1], sampled, True, (), False, debug))

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        context = propagated.span_context
        if context is None or not context.is_valid:
            return
        value = f"{context.trace_id_hex}-{context.span_id_hex}"
        flag = _sampled_flag(context)
        if flag is not None:
            value += f"-{flag}"
        setter.set(carrier, "b3", value)


class B3MultiPropagator(Propagator):
    name = "b3multi"
    fields = frozenset({"x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags",
                        "x-b3-parentspanid"})

    def extract(self, carrier: Any, propagated: Propagated = EMPTY,
                getter: Getter[Any] = default_getter) -> Propagated:
        trace_hex = first_value(getter, carrier, "x-b3-traceid")
        span_hex = first_value(getter, carrier, "x-b3-spanid")
        if trace_hex is None or span_hex is None:
            return propagated
        ids = _ids(trace_hex.strip().lower(), span_hex.strip().lower())
        if ids is None:
            return propagated
        sampled: bool | None = None
        debug = (first_value(getter, carrier, "x-b3-flags") or "").strip() == "1"
        flag = (first_value(getter, carrier, "x-b3-sampled") or "").strip().lower()
        if flag in ("1", "true", "d"):
            sampled = True
        elif flag in ("0", "false"):
            sampled = False
        if debug:
            sampled = True
        return propagated.with_span_context(
            SpanContext(ids[0], ids[1], sampled, True, (), False, debug))

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        context = propagated.span_context
        if context is None or not context.is_valid:
            return
        setter.set(carrier, "x-b3-traceid", context.trace_id_hex)
        setter.set(carrier, "x-b3-spanid", context.span_id_hex)
        if context.debug:
            setter.set(carrier, "x-b3-flags", "1")
        elif context.sampled is not None or context.forced:
            setter.set(carrier, "x-b3-sampled",
                       "1" if (context.sampled or context.forced) else "0")
