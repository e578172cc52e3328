"""Jaeger: ``uber-trace-id: {trace}:{span}:{parent}:{flags}`` and ``uberctx-*`` baggage.

https://www.jaegertracing.io/docs/1.22/client-libraries/#propagation-format. Ids are hex
and may be unpadded; the whole value may be URL-encoded (``%3A`` for ``:``) because some
clients encode it. The parent id is deprecated (``0``) and ignored. Flags: bit 1 sampled,
bit 2 debug (debug implies sampled, never forced). Jaeger has no deferred state, so an
undecided context leaves as not sampled.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from tracing_middleware.propagation.base import (
    Getter,
    Propagator,
    Setter,
    first_value,
)
from tracing_middleware.spancontext import Propagated, SpanContext

__all__ = ["JaegerPropagator"]

_UBER_TRACE_ID = re.compile(
    r"([0-9a-fA-F]{1,32}):([0-9a-fA-F]{1,16}):([0-9a-fA-F]{1,16}):([0-9a-fA-F]{1,2})")
_BAGGAGE_PREFIX = "uberctx-"
# A header name is a token (RFC 7230 3.2.6); anything else cannot be sent.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: The W3C Baggage limits, applied to ``uberctx-*`` too so a flood of headers costs little.
MAX_BAGGAGE_MEMBERS = 180
MAX_BAGGAGE_BYTES = 8192
_SAMPLED, _DEBUG = 0x01, 0x02


class JaegerPropagator(Propagator):
    name = "jaeger"
    fields = frozenset({"uber-trace-id"})
    prefixed_fields = True  # baggage in uberctx-{key} headers

    def _extract(self, carrier: Any, propagated: Propagated, getter: Getter[Any]
                 ) -> Propagated:
        # Each part guarded on its own: a broken uber-trace-id must not cost the baggage.
        result = propagated
        try:
            context = self._context(carrier, getter)
            if context is not None:
                result = result.with_span_context(context)
        except Exception:  # a foreign carrier or getter misbehaving: as if absent
            pass
        try:
            baggage = self._baggage(carrier, getter)
        except Exception:
            baggage = {}
        if baggage:
            result = result.with_baggage({**result.baggage, **baggage})
        return result

    @staticmethod
    def _context(carrier: Any, getter: Getter[Any]) -> SpanContext | None:
        value = first_value(getter, carrier, "uber-trace-id")
        if value is None:
            return None
        match = _UBER_TRACE_ID.fullmatch(urllib.parse.unquote(value).strip(" \t"))
        if match is None:
            return None
        trace_id, span_id = int(match.group(1), 16), int(match.group(2), 16)
        if trace_id == 0 or span_id == 0:
            return None
        flags = int(match.group(4), 16)
        debug = bool(flags & _DEBUG)
        return SpanContext(trace_id, span_id, bool(flags & _SAMPLED) or debug, remote=True,
                           debug=debug)

    @staticmethod
    def _baggage(carrier: Any, getter: Getter[Any]) -> dict[str, str]:
        baggage: dict[str, str] = {}
        size = 0
        for name in getter.keys(carrier):
            if len(baggage) >= MAX_BAGGAGE_MEMBERS:
                break
            if not isinstance(name, str) or not name.startswith(_BAGGAGE_PREFIX):
                continue
            key = name[len(_BAGGAGE_PREFIX):]
            item = first_value(getter, carrier, name)
            if not key or item is None:
                continue
            size += len(key) + len(item)
            if size > MAX_BAGGAGE_BYTES:
                break
            baggage[key] = urllib.parse.unquote(item)
        return baggage

    def _inject(self, carrier: Any, context: SpanContext, propagated: Propagated,
                setter: Setter[Any]) -> None:
        if context.debug:
            flags = _SAMPLED | _DEBUG
        else:
            flags = _SAMPLED if (context.sampled or context.forced) else 0
        setter.set(carrier, "uber-trace-id",
                   f"{context.trace_id_hex}:{context.span_id_hex}:0:{flags:x}")
        for key, value in list(propagated.baggage.items())[:MAX_BAGGAGE_MEMBERS]:
            if isinstance(key, str) and isinstance(value, str) and _TOKEN.fullmatch(key):
                encoded = urllib.parse.quote(value, safe="", errors="replace")
                setter.set(carrier, _BAGGAGE_PREFIX + key, encoded)
