"""``--format otlp-json``: OTLP/JSON ``ExportTraceServiceRequest`` (ids in hex, as the OTLP
JSON mapping specifies), loadable by OpenTelemetry tools and Jaeger's UI; and the reverse,
for ``os-tracing trace import``."""

from __future__ import annotations

import json
from typing import Any

from tracing_middleware.export.records import KINDS, SpanEvent, SpanRecord
from tracing_middleware.export.store import Trace

__all__ = ["import_otlp_json", "render"]

_KIND = {name: i + 1 for i, name in enumerate(KINDS)}  # INTERNAL=1 ... CONSUMER=5
_STATUS = {"unset": 0, "ok": 1, "error": 2}


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attributes(attrs: Any) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": _value(v)} for k, v in dict(attrs).items()]


def render(trace: Trace) -> str:
    by_service: dict[str, list[SpanRecord]] = {}
    for span in trace.spans:
        by_service.setdefault(span.service, []).append(span)
    resource_spans = []
    for service, spans in by_service.items():
        otlp_spans = []
        for s in spans:
            item: dict[str, Any] = {
                "traceId": s.trace_id, "spanId": s.span_id, "name": s.name,
                "kind": _KIND.get(s.kind, 1),
                "startTimeUnixNano": str(s.start_time_unix_nano),
                "endTimeUnixNano": str(s.end_time_unix_nano),
                "attributes": _attributes(s.attributes),
                "events": [{"name": e.name, "timeUnixNano": str(e.time_unix_nano),
                            "attributes": _attributes(e.attributes)} for e in s.events],
                "status": {"code": _STATUS.get(s.status, 0), "message": s.status_message},
            }
            if s.parent_span_id:
                item["parentSpanId"] = s.parent_span_id
            otlp_spans.append(item)
        resource = dict(spans[0].resource or {})
        resource["service.name"] = service
        resource_spans.append({"resource": {"attributes": _attributes(resource)},
                               "scopeSpans": [{"scope": {"name": "os-tracing"},
                                               "spans": otlp_spans}]})
    return json.dumps({"resourceSpans": resource_spans}, indent=1)


def _plain(value: dict[str, Any]) -> Any:
    if "arrayValue" in value:
        return [_plain(v) for v in value["arrayValue"].get("values", [])]
    for key, cast in (("stringValue", str), ("boolValue", bool), ("intValue", int),
                      ("doubleValue", float)):
        if key in value:
            return cast(value[key])
    return None


def _attrs(items: Any) -> dict[str, Any]:
    return {a["key"]: _plain(a.get("value", {})) for a in items or [] if "key" in a}


def _hex(value: str, width: int) -> str:
    """OTLP/JSON ids are hex; some exporters write base64 (the protobuf JSON default)."""
    if len(value) == width and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    import base64

    return base64.b64decode(value).hex().rjust(width, "0")


def import_otlp_json(text: str) -> list[SpanRecord]:
    doc = json.loads(text)
    records = []
    kinds = {v: k for k, v in _KIND.items()}
    statuses = {v: k for k, v in _STATUS.items()}
    for rs in doc.get("resourceSpans", []):
        resource = _attrs(rs.get("resource", {}).get("attributes"))
        service = str(resource.get("service.name", "unknown_service"))
        for ss in rs.get("scopeSpans", rs.get("instrumentationLibrarySpans", [])):
            for s in ss.get("spans", []):
                start = int(s.get("startTimeUnixNano", 0))
                end = int(s.get("endTimeUnixNano", start))
                kind = s.get("kind", 1)
                if isinstance(kind, str):
                    kind = {f"SPAN_KIND_{k.upper()}": v for k, v in _KIND.items()}.get(kind, 1)
                status = s.get("status", {}).get("code", 0)
                if isinstance(status, str):
                    status = {"STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}.get(status, 0)
                parent = s.get("parentSpanId") or None
                records.append(SpanRecord(
                    trace_id=_hex(s["traceId"], 32), span_id=_hex(s["spanId"], 16),
                    parent_span_id=_hex(parent, 16) if parent else None,
                    name=s.get("name", ""), service=service, kind=kinds.get(kind, "internal"),
                    start_time_unix_nano=start, duration_ns=max(0, end - start),
                    status=statuses.get(status, "unset"),
                    status_message=s.get("status", {}).get("message", ""),
                    attributes=_attrs(s.get("attributes")),
                    events=tuple(SpanEvent(e.get("name", ""), int(e.get("timeUnixNano", 0)),
                                           _attrs(e.get("attributes")))
                                 for e in s.get("events", [])),
                    resource=resource))
    return records
