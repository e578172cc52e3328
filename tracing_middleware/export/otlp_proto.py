"""OTLP ``ExportTraceServiceRequest`` protobuf, written directly from native spans.

Why not the ``opentelemetry-proto`` classes: building one message object per span, per
attribute and per value and then serialising them costs more than recording the span
(``doc/source/benchmarks.rst`` has the figures). Writing the wire format directly is a
few hundred lines less general and much cheaper; the tests parse every output with the
official protobuf classes, so the two cannot drift apart.

Field numbers are those of ``opentelemetry/proto/trace/v1/trace.proto`` and
``common/v1/common.proto`` (OTLP 1.x).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

__all__ = ["EncodableSpan", "encode_request", "encode_resource"]

_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack

# (field number << 3) | wire type, as single bytes (all field numbers here are < 16).
_LEN, _VARINT, _I64, _I32 = 2, 0, 1, 5


def _tag(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_VARINTS = [_varint(i) for i in range(256)]


def _len(n: int) -> bytes:
    return _VARINTS[n] if n < 256 else _varint(n)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _len(len(payload)) + payload


# Span fields
_S_TRACE_ID = _tag(1, _LEN) + b"\x10"  # trace_id is always 16 bytes
_S_SPAN_ID = _tag(2, _LEN) + b"\x08"
_S_TRACE_STATE = _tag(3, _LEN)
_S_PARENT = _tag(4, _LEN) + b"\x08"
_S_NAME = _tag(5, _LEN)
_S_KIND = _tag(6, _VARINT)
_S_START = _tag(7, _I64)
_S_END = _tag(8, _I64)
_S_ATTR = _tag(9, _LEN)
_S_DROPPED_ATTRS = _tag(10, _VARINT)
_S_EVENT = _tag(11, _LEN)
_S_DROPPED_EVENTS = _tag(12, _VARINT)
_S_LINK = _tag(13, _LEN)
_S_STATUS = _tag(15, _LEN)
_S_FLAGS = _tag(16, _I32)
# Event / Link / Status / KeyValue / AnyValue fields
_E_TIME = _tag(1, _I64)
_E_NAME = _tag(2, _LEN)
_E_ATTR = _tag(3, _LEN)
_L_TRACE_ID = _tag(1, _LEN) + b"\x10"
_L_SPAN_ID = _tag(2, _LEN) + b"\x08"
_L_ATTR = _tag(4, _LEN)
_L_FLAGS = _tag(6, _I32)
_ST_MESSAGE = _tag(2, _LEN)
_ST_CODE = _tag(3, _VARINT)
_KV_KEY = _tag(1, _LEN)
_KV_VALUE = _tag(2, _LEN)
_V_STRING = _tag(1, _LEN)
_V_BOOL_TRUE = _tag(2, _VARINT) + b"\x01"
_V_BOOL_FALSE = _tag(2, _VARINT) + b"\x00"
_V_INT = _tag(3, _VARINT)
_V_DOUBLE = _tag(4, _I64)
_V_ARRAY = _tag(5, _LEN)
_ARRAY_VALUE = _tag(1, _LEN)
# Envelope
_REQ_RESOURCE_SPANS = _tag(1, _LEN)
_RS_RESOURCE = _tag(1, _LEN)
_RS_SCOPE_SPANS = _tag(2, _LEN)
_RES_ATTR = _tag(1, _LEN)
_SS_SCOPE = _tag(1, _LEN)
_SS_SPANS = _tag(2, _LEN)
_SCOPE_NAME = _tag(1, _LEN)
_SCOPE_VERSION = _tag(2, _LEN)

#: W3C sampled flag, plus OTLP's "is_remote is known" bit and the is_remote bit.
_FLAGS_LOCAL_PARENT = _S_FLAGS + _pack_fixed32(0x101)
_FLAGS_REMOTE_PARENT = _S_FLAGS + _pack_fixed32(0x301)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

#: Encoded ``KeyValue.key`` prefixes: attribute keys repeat (``http.request.method``...).
_key_cache: dict[str, bytes] = {}
#: Whole encoded attribute fields (tag, length and ``KeyValue``) for ints and short
#: strings, which repeat even more (``GET``, a host, a route, 200); one cache per field
#: tag, each bounded and emptied when full.
_kv_caches: dict[bytes, dict[tuple[Any, ...], bytes]] = {}
_CACHE_MAX = 4096
_CACHED_VALUE_MAX = 64


class EncodableSpan(Protocol):
    """What the encoder reads from a finished span (the native engine's ``Span``)."""

    trace_id: int
    span_id: int
    parent_id: int
    parent_remote: bool
    trace_state: tuple[tuple[str, str], ...]
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    dropped_attributes: int
    events: Sequence[tuple[str, int, Mapping[str, Any]]] | None
    dropped_events: int
    links: Sequence[tuple[int, int, bool]] | None
    status_code: int
    status_message: str


def _key(key: str) -> bytes:
    encoded = _key_cache.get(key)
    if encoded is None:
        if len(_key_cache) >= _CACHE_MAX:
            _key_cache.clear()
        raw = key.encode("utf-8", "replace")
        encoded = _key_cache[key] = _KV_KEY + _len(len(raw)) + raw
    return encoded


def _any_value(value: Any) -> bytes:
    kind = type(value)
    if kind is str:
        raw = value.encode("utf-8", "replace")
        return _V_STRING + _len(len(raw)) + raw
    if kind is bool:
        return _V_BOOL_TRUE if value else _V_BOOL_FALSE
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return _V_INT + _varint(value & 0xFFFFFFFFFFFFFFFF)
        return _any_value(str(value))
    if kind is float:
        return _V_DOUBLE + _pack_double(value)
    if kind in (list, tuple):
        items = b"".join(_field(_ARRAY_VALUE, _any_value(v)) for v in value)
        return _field(_V_ARRAY, items)
    for base in (bool, int, float, str):  # subclasses: IntEnum, str subclasses...
        if isinstance(value, base):
            return _any_value(base(value))
    return _any_value(str(value))


def _item(tag: bytes, key: str, value: Any) -> bytes:
    kv = _key(key) + _field(_KV_VALUE, _any_value(value))
    return tag + _len(len(kv)) + kv


def _attributes(tag: bytes, attributes: Mapping[str, Any]) -> bytes:
    cache = _kv_caches.setdefault(tag, {})
    parts = []
    for key, value in attributes.items():
        kind = type(value)
        if kind is int or (kind is str and len(value) <= _CACHED_VALUE_MAX):
            # (key, 1, 0) never equals a string entry (key, "1"); bools are not cached,
            # so True (== 1) cannot hit an int entry.
            cache_key = (key, value) if kind is str else (key, value, 0)
            item = cache.get(cache_key)
            if item is None:
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                item = cache[cache_key] = _item(tag, key, value)
        else:
            item = _item(tag, key, value)
        parts.append(item)
    return b"".join(parts)


def _span(span: EncodableSpan) -> bytes:
    trace_state = span.trace_state
    name = span.name.encode("utf-8", "replace")
    parts = [
        _S_TRACE_ID, span.trace_id.to_bytes(16, "big"),
        _S_SPAN_ID, span.span_id.to_bytes(8, "big"),
    ]
    if trace_state:
        raw = ",".join([f"{k}={v}" for k, v in trace_state]).encode("ascii", "replace")
        parts += (_S_TRACE_STATE, _len(len(raw)), raw)
    if span.parent_id:
        parts += (_S_PARENT, span.parent_id.to_bytes(8, "big"))
    parts += (_S_NAME, _len(len(name)), name,
              _S_KIND, _VARINTS[span.kind],
              _S_START, _pack_fixed64(span.start_ns),
              _S_END, _pack_fixed64(span.end_ns))
    if span.attributes:
        parts.append(_attributes(_S_ATTR, span.attributes))
    if span.dropped_attributes:
        parts += (_S_DROPPED_ATTRS, _varint(span.dropped_attributes))
    if span.events:
        for event_name, time_ns, attributes in span.events:
            raw = event_name.encode("utf-8", "replace")
            body = _E_TIME + _pack_fixed64(time_ns) + _E_NAME + _len(len(raw)) + raw
            if attributes:
                body += _attributes(_E_ATTR, attributes)
            parts += (_S_EVENT, _len(len(body)), body)
    if span.dropped_events:
        parts += (_S_DROPPED_EVENTS, _varint(span.dropped_events))
    if span.links:
        for trace_id, span_id, sampled in span.links:
            body = (_L_TRACE_ID + trace_id.to_bytes(16, "big") + _L_SPAN_ID
                    + span_id.to_bytes(8, "big") + _L_FLAGS
                    + _pack_fixed32(0x100 | (1 if sampled else 0)))
            parts += (_S_LINK, _len(len(body)), body)
    if span.status_code:
        body = _ST_CODE + _VARINTS[span.status_code]
        if span.status_message:
            raw = span.status_message.encode("utf-8", "replace")
            body = _ST_MESSAGE + _len(len(raw)) + raw + body
        parts += (_S_STATUS, _len(len(body)), body)
    parts.append(_FLAGS_REMOTE_PARENT if span.parent_remote else _FLAGS_LOCAL_PARENT)
    return b"".join(parts)


def encode_resource(attributes: Mapping[str, Any], scope_name: str,
                    scope_version: str) -> tuple[bytes, bytes]:
    """The constant parts of every request: (encoded Resource, encoded scope)."""
    resource = _attributes(_RES_ATTR, attributes)
    name = scope_name.encode()
    version = scope_version.encode()
    scope = (_SCOPE_NAME + _len(len(name)) + name + _SCOPE_VERSION + _len(len(version))
             + version)
    return resource, scope


def encode_request(spans: Iterable[EncodableSpan], resource: tuple[bytes, bytes]) -> bytes:
    """One ``ExportTraceServiceRequest`` holding ``spans`` under one resource and scope."""
    encoded_resource, encoded_scope = resource
    parts = [_field(_SS_SCOPE, encoded_scope)]
    for span in spans:
        body = _span(span)
        parts += (_SS_SPANS, _len(len(body)), body)
    scope_spans = b"".join(parts)
    resource_spans = (_field(_RS_RESOURCE, encoded_resource)
                      + _field(_RS_SCOPE_SPANS, scope_spans))
    return _field(_REQ_RESOURCE_SPANS, resource_spans)
