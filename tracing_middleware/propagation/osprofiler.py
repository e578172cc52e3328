"""osprofiler's signed headers: ``X-Trace-Info`` (base64 JSON) + ``X-Trace-HMAC`` (SHA-1).

Wire format, as upstream ``osprofiler.web`` and ``osprofiler._utils.signed_pack`` write
it: ``X-Trace-Info`` is ``urlsafe_b64encode(json.dumps({"base_id", "parent_id"}))`` and
``X-Trace-HMAC`` the hex HMAC-SHA1 of that exact base64 text. The key is *not* in the
payload: upstream ``signed_unpack`` adds ``hmac_key`` after verifying, and its
``WsgiMiddleware`` rejects a payload with keys other than ``base_id``, ``parent_id`` and
``hmac_key``; we apply the same rule so both accept the same headers.

Id mapping, both ways: trace id = the base id UUID's 128 bits; span id = the parent id
UUID's low 64 bits (``osprofiler._utils.shorten_id``, what osprofiler's own Jaeger and
OTLP drivers export, so their spans land in the same trace). Outgoing: base id =
``UUID(int=trace_id)``; parent id = the trace id's high 64 bits followed by the span id,
deterministic, and any 128-bit value is a UUID string osprofiler's ``uuid.UUID`` accepts.

A valid signature forces sampling (it is how ``openstack --os-profile KEY`` asks for a
trace). A wrong or missing signature is treated exactly like no header, and an HMAC key is
never written into any header.
"""

from __future__ import annotations

import base64
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
    first_value,
)
from tracing_middleware.spancontext import Propagated, SpanContext

__all__ = ["OSProfilerPropagator", "sign", "trace_info_to_span_context", "uuids_for"]

_LOW64 = (1 << 64) - 1
# upstream web._REQUIRED_KEYS + _OPTIONAL_KEYS; "hmac_key" is added by signed_unpack.
_ALLOWED_KEYS = frozenset({"base_id", "parent_id", "hmac_key"})


def sign(data: bytes, key: str) -> str:
    """osprofiler ``_utils.generate_hmac``: hex HMAC-SHA1 keyed with the UTF-8 key."""
    return hmac.new(key.encode("utf-8"), data, hashlib.sha1).hexdigest()


def uuids_for(trace_id: int, span_id: int) -> tuple[str, str]:
    """(base_id, parent_id) for a span, as osprofiler expects them."""
    return (str(uuid.UUID(int=trace_id)),
            str(uuid.UUID(int=((trace_id >> 64) << 64) | span_id)))


def _context_from(base_id: Any, parent_id: Any) -> SpanContext | None:
    """osprofiler ids to a forced span context; a missing parent id means the base id
    (upstream ``_Profiler`` does ``parent_id or base_id``)."""
    if parent_id is None:
        parent_id = base_id
    if not isinstance(base_id, str) or not isinstance(parent_id, str) \
            or len(base_id) > 64 or len(parent_id) > 64:
        return None
    try:
        trace_id = uuid.UUID(base_id).int
        span_id = uuid.UUID(parent_id).int & _LOW64
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, sampled=True, remote=True, forced=True)


def _key_matches(given: str, hmac_keys: Sequence[str]) -> bool:
    # compare_digest refuses non-ASCII str; comparing bytes lets hostile input just fail.
    raw = given.encode("utf-8", "replace")
    matched = False
    for key in hmac_keys:  # no early exit: the time taken does not say which key matched
        matched |= hmac.compare_digest(raw, key.encode("utf-8", "replace"))
    return matched


def trace_info_to_span_context(trace_info: Any, hmac_keys: Sequence[str]
                               ) -> SpanContext | None:
    """The span context of an RPC ``trace_info`` dict, if its ``hmac_key`` is one of ours.

    nova's and cinder's ``ProfilerRequestContextSerializer`` put
    ``{"hmac_key", "base_id", "parent_id"}`` into the request context and the receiver
    calls ``profiler.init(**trace_info)`` unchecked. We are stricter: the message bus is
    shared, so the embedded key must be one we were configured with.
    """
    if not isinstance(trace_info, Mapping) or not hmac_keys:
        return None
    key = trace_info.get("hmac_key")
    if not isinstance(key, str) or len(key) > 1024 or not _key_matches(key, hmac_keys):
        return None
    return _context_from(trace_info.get("base_id"), trace_info.get("parent_id"))


class OSProfilerPropagator(Propagator):
    """Signed osprofiler headers; inert without ``hmac_keys`` (osprofiler refuses unsigned)."""

    name = "osprofiler"
    fields = frozenset({"x-trace-info", "x-trace-hmac"})

    def __init__(self, hmac_keys: Sequence[str] = ()) -> None:
        if isinstance(hmac_keys, (str, bytes)):
            raise TypeError("hmac_keys must be a sequence of keys, not one string")
        if not all(isinstance(k, str) for k in hmac_keys):
            raise TypeError("hmac_keys must be strings")
        self._keys = tuple(k for k in hmac_keys if k)

    def _extract(self, carrier: Any, propagated: Propagated, getter: Getter[Any]
                 ) -> Propagated:
        context = self._context(carrier, getter)
        return propagated.with_span_context(context) if context else propagated

    def _context(self, carrier: Any, getter: Getter[Any]) -> SpanContext | None:
        if not self._keys:
            return None
        info = first_value(getter, carrier, "x-trace-info")
        signature = first_value(getter, carrier, "x-trace-hmac")
        if not info or not signature:
            return None
        # Header OWS is not part of the value (RFC 9110 5.5); upstream strips the HMAC too.
        data = info.strip(" \t").encode("utf-8", "replace")
        given = signature.strip(" \t").encode("utf-8", "replace")
        valid = False
        for key in self._keys:  # every key, like upstream signed_unpack
            valid |= hmac.compare_digest(given, sign(data, key).encode())
        if not valid:
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(data))
        except (ValueError, RecursionError):  # signed, yet not base64 JSON
            return None
        if not isinstance(payload, dict) or "base_id" not in payload \
                or not _ALLOWED_KEYS.issuperset(payload):
            return None
        return _context_from(payload["base_id"], payload.get("parent_id"))

    def _inject(self, carrier: Any, context: SpanContext, propagated: Propagated,
                setter: Setter[Any]) -> None:
        if not self._keys or not (context.sampled or context.forced):
            return
        base_id, parent_id = uuids_for(context.trace_id, context.span_id)
        # Same bytes as upstream signed_pack({"base_id", "parent_id"}, key)[0].
        data = base64.urlsafe_b64encode(
            json.dumps({"base_id": base_id, "parent_id": parent_id}).encode())
        setter.set(carrier, "X-Trace-Info", data.decode("ascii"))
        setter.set(carrier, "X-Trace-HMAC", sign(data, self._keys[0]))
