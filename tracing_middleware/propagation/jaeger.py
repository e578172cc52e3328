"""Jaeger: ``uber-trace-id: {trace}:{span}:{parent}:{flags}`` and ``uberctx-*`` baggage."""

from __future__ import annotations

import re
import urllib.parse
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

__all__ = ["JaegerPropagator"]

_HEX = re.compile(r"^[0-9a-fA-F]{1,32}$")
_BAGGAGE_PREFIX = "uberctx-"
_MAX_BAGGAGE = 180


class JaegerPropagator(Propagator):
    name = "jaeger"
    fields = frozenset({"uber-trace-id"})

    def extract(self, carrier: Any, propagated: Propagated = EMPTY,
                getter: Getter[Any] = default_getter) -> Propagated:
        result = propagated
        value = first_value(getter, carrier, "uber-trace-id")
        if value is not None:
            parts = urllib.parse.unquote(value).strip().split(":")
            if len(parts) == 4 and all(_HEX.match(p) for p in parts) and len(parts[1]) <= 16 \
                    and len(parts[3]) <= 2:
                trace_id, span_id = int(parts[0], 16), int(parts[1], 16)
                flags = int(parts[3], 16)
                if trace_id and span_id:
                    debug = bool(flags & 2)
                    result = result.with_span_context(SpanContext(
                        trace_id, span_id, bool(flags & 1) or debug, True, (), False, debug))
        baggage: dict[str, str] = {}
        try:
            keys = list(getter.keys(carrier))
        except Exception:
            keys = []
        for key in keys:
            if len(baggage) >= _MAX_BAGGAGE:
                break
            if key.startswith(_BAGGAGE_PREFIX) and len(key) > len(_BAGGAGE_PREFIX):
                item = first_value(getter, carrier, key)
                if item is not None:
                    baggage[key[len(_BAGGAGE_PREFIX):]] = urllib.parse.unquote(item)
        if baggage:
            result = result.with_baggage({**result.baggage, **baggage})
        return result

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        context = propagated.span_context
        if context is None or not context.is_valid:
            return
        flags = 3 if context.debug else (1 if (context.sampled or context.forced) else 0)
        setter.set(carrier, "uber-trace-id",
                   f"{context.trace_id_hex}:{context.span_id_hex}:0:{flags:x}")
        for key, value in propagated.baggage.items():
            setter.set(carrier, _BAGGAGE_PREFIX + key, urllib.parse.quote(value, safe=""))
