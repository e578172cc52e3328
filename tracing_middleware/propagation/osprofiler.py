"""osprofiler's signed headers: ``X-Trace-Info`` (base64 JSON) + ``X-Trace-HMAC`` (SHA-1).

Mapping: trace id = the base id UUID's 128 bits; span id = the parent id UUID's low 64
bits (what osprofiler's own OTLP and Jaeger drivers use, so spans they export land in the
same trace). Outgoing: base id = UUID of the trace id, parent id = UUID with the trace
id's high 64 bits and the span id as low 64 bits. A valid signature forces sampling; a
wrong or missing one is treated exactly like no header. The key is never written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
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

__all__ = ["OSProfilerPropagator", "sign", "trace_info_to_span_context", "uuids_for"]

_LOW64 = (1 << 64) - 1


def sign(data: bytes, key: str) -> str:
    return hmac.new(key.encode(), data, hashlib.sha1).hexdigest()


def uuids_for(trace_id: int, span_id: int) -> tuple[str, str]:
    """(base_id, parent_id) for a span, as osprofiler expects them."""
    return (str(uuid.UUID(int=trace_id)),
            str(uuid.UUID(int=((trace_id >> 64) << 64) | span_id)))


def _context_from(base_id: Any, parent_id: Any) -> SpanContext | None:
    if not isinstance(base_id, str) or not isinstance(parent_id, str):
        return None
    try:
        trace_id = uuid.UUID(base_id).int
        span_id = uuid.UUID(parent_id).int & _LOW64
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, True, True, (), True)


def trace_info_to_span_context(trace_info: Any, hmac_keys: Sequence[str]
                               ) -> SpanContext | None:
    """A ``trace_info`` dict from nova/cinder profiler serializers, if its key is ours."""
    if not isinstance(trace_info, Mapping) or not hmac_keys:
        return None
    key = trace_info.get("hmac_key")
    if not isinstance(key, str) or not any(
            hmac.compare_digest(key.encode("utf-8", "replace"), k.encode("utf-8", "replace"))
            for k in hmac_keys):
        return None
    return _context_from(trace_info.get("base_id"), trace_info.get("parent_id"))


class OSProfilerPropagator(Propagator):
    name = "osprofiler"
    fields = frozenset({"x-trace-info", "x-trace-hmac"})

    def __init__(self, hmac_keys: Sequence[str] = ()) -> None:
        self._keys = tuple(k for k in hmac_keys if k)

    def extract(self, carrier: Any, propagated: Propagated = EMPTY,
                getter: Getter[Any] = default_getter) -> Propagated:
        if not self._keys:
            return propagated
        info = first_value(getter, carrier, "x-trace-info")
        signature = first_value(getter, carrier, "x-trace-hmac")
        if not info or not signature:
            return propagated
        data = info.strip().encode("utf-8", "replace")
        # compare_digest rejects non-ASCII str; compare bytes so hostile input just fails
        given = signature.strip().encode("utf-8", "replace")
        if not any(hmac.compare_digest(given, sign(data, key).encode()) for key in self._keys):
            return propagated
        try:
            payload = json.loads(base64.urlsafe_b64decode(data))
        except (ValueError, binascii.Error):
            return propagated
        if not isinstance(payload, dict):
            return propagated
        context = _context_from(payload.get("base_id"), payload.get("parent_id"))
        return propagated.with_span_context(context) if context else propagated

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        context = propagated.span_context
        if not self._keys or context is None or not context.is_valid or not (
                context.sampled or context.forced):
            return
        base_id, parent_id = uuids_for(context.trace_id, context.span_id)
        data = base64.urlsafe_b64encode(
            json.dumps({"base_id": base_id, "parent_id": parent_id}).encode())
        setter.set(carrier, "X-Trace-Info", data.decode())
        setter.set(carrier, "X-Trace-HMAC", sign(data, self._keys[0]))
