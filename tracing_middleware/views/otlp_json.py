"""``--format otlp-json``: an OTLP/JSON ``ExportTraceServiceRequest``; and the reverse,
:func:`import_otlp_json`, for ``os-tracing trace import``.

Output follows the OTLP/JSON encoding (opentelemetry-proto ``docs/specification.md``,
"JSON Protobuf Encoding"): ``traceId``/``spanId``/``parentSpanId`` are *hex* strings, not
the base64 the generic protobuf JSON mapping would use; enums (``kind``, ``status.code``)
are integers; 64-bit integers (times, ``intValue``) are decimal strings. Spans are
grouped into one ``resourceSpans`` entry per (service, resource) with ``service.name``
set, so OpenTelemetry collectors, Jaeger and Tempo accept the file as sent.

The importer is lenient where real files differ: it accepts base64 ids too (files
produced with protobuf's own JSON printer), enum names as well as numbers, and the
pre-1.0 ``instrumentationLibrarySpans`` key. Malformed input raises ``ValueError``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from tracing_middleware.export.records import KINDS, SpanEvent, SpanRecord
from tracing_middleware.export.store import Trace

__all__ = ["records_of", "import_otlp_json", "render"]

#: OTLP ``Span.SpanKind``: INTERNAL=1, SERVER=2, CLIENT=3, PRODUCER=4, CONSUMER=5.
SPAN_KIND = {name: i + 1 for i, name in enumerate(KINDS)}
#: OTLP ``Status.StatusCode``.
STATUS_CODE = {"unset": 0, "ok": 1, "error": 2}
_INT64 = (-(1 << 63), (1 << 63) - 1)
_HEX = re.compile(r"[0-9a-fA-F]+")
_SCOPE = {"name": "os-tracing"}


def _value(value: Any) -> dict[str, Any]:
    """An OTLP ``AnyValue``; what OTLP cannot type (None, dicts, big ints) becomes text."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return {"intValue": str(value)}
        return {"stringValue": str(value)}
    if isinstance(value, float):
        # proto3 JSON spells non-finite doubles as strings; bare NaN is not JSON.
        return {"doubleValue": value if math.isfinite(value) else
                {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN")}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Mapping):
        return {"stringValue": json.dumps(value, default=str, sort_keys=True)}
    return {"stringValue": "" if value is None else str(value)}


def _attributes(attrs: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": _value(v)} for k, v in dict(attrs or {}).items()]


def _span(s: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "traceId": s.trace_id, "spanId": s.span_id, "name": s.name,
        "kind": SPAN_KIND.get(s.kind, SPAN_KIND["internal"]),
        "startTimeUnixNano": str(s.start_time_unix_nano),
        "endTimeUnixNano": str(s.end_time_unix_nano),
        "attributes": _attributes(s.attributes),
        "events": [{"name": e.name, "timeUnixNano": str(e.time_unix_nano),
                    "attributes": _attributes(e.attributes)} for e in s.events],
        "status": {"code": STATUS_CODE.get(s.status, 0)},
    }
    if s.status_message:
        item["status"]["message"] = s.status_message
    if s.parent_span_id:
        item["parentSpanId"] = s.parent_span_id
    return item


def render(trace: Trace) -> str:
    """The trace as an OTLP/JSON ``ExportTraceServiceRequest`` document."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for span in trace.spans:
        resource = {**dict(span.resource or {}), "service.name": span.service}
        key = (span.service, json.dumps(resource, sort_keys=True, default=str))
        groups.setdefault(key, []).append(span)
    resource_spans = []
    for (service, _), spans in groups.items():
        resource = {**dict(spans[0].resource or {}), "service.name": service}
        resource_spans.append({"resource": {"attributes": _attributes(resource)},
                               "scopeSpans": [{"scope": _SCOPE,
                                               "spans": [_span(s) for s in spans]}]})
    return json.dumps({"resourceSpans": resource_spans}, indent=1, default=str)


# -- import ---------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    if "arrayValue" in value:
        return [_plain(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return {kv.get("key", ""): _plain(kv.get("value"))
                for kv in (value["kvlistValue"] or {}).get("values", [])}
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "bytesValue" in value:
        return str(value["bytesValue"])
    return None


def _attrs(items: Any) -> dict[str, Any]:
    return {str(a["key"]): _plain(a.get("value"))
            for a in items or [] if isinstance(a, dict) and "key" in a}


def _id(value: Any, width: int, what: str) -> str:
    """A lowercase hex id of ``width`` digits from hex (OTLP/JSON) or base64 (protobuf)."""
    if isinstance(value, str) and len(value) == width and _HEX.fullmatch(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raw = b""
    if len(raw) * 2 != width:
        raise ValueError(f"bad {what} {value!r}: expected {width} hex digits")
    return raw.hex()


def _enum(value: Any, names: Mapping[str, int], default: int) -> int:
    if isinstance(value, str):
        return names.get(value, int(value) if value.isdigit() else default)
    return int(value) if isinstance(value, int) else default


def import_otlp_json(text: str) -> list[SpanRecord]:
    """The spans of an OTLP/JSON ``ExportTraceServiceRequest`` as records.

    A span's service is its resource's ``service.name`` (``unknown_service`` if absent,
    as OpenTelemetry SDKs default); the whole resource is kept on each record.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    return records_of(doc)


def records_of(doc: Any, skipped: list[str] | None = None) -> list[SpanRecord]:
    """:func:`import_otlp_json` of a parsed document. Tempo names the list ``batches``
    (its trace-by-id answer before OTLP's rename), which is read the same.

    Without ``skipped`` a malformed span makes the whole document a ``ValueError`` (an
    import must not half-succeed). With it, the span is left out and why is appended to
    ``skipped``: one bad span a remote store holds must not hide the rest of its trace.
    """
    if isinstance(doc, dict) and "resourceSpans" not in doc and isinstance(
            doc.get("batches"), list):
        doc = {"resourceSpans": doc["batches"]}
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
        raise ValueError("not an OTLP/JSON ExportTraceServiceRequest (no resourceSpans)")
    records = []
    for rs in doc["resourceSpans"]:
        try:
            resource = _attrs((rs.get("resource") or {}).get("attributes"))
            service = str(resource.get("service.name") or "unknown_service")
            spans = [s for ss in rs.get("scopeSpans") or rs.get(
                "instrumentationLibrarySpans") or [] for s in ss.get("spans") or []]
        except (AttributeError, TypeError) as exc:
            _malformed(f"a resourceSpans entry: {type(exc).__name__}: {exc}", skipped)
            continue
        for s in spans:
            try:
                records.append(_record(s, service, resource))
            except (AttributeError, TypeError, KeyError, ValueError) as exc:
                _malformed(str(exc) if isinstance(exc, ValueError)
                           else f"{type(exc).__name__}: {exc}", skipped)
    return records


def _malformed(problem: str, skipped: list[str] | None) -> None:
    if skipped is None:
        raise ValueError(problem if problem.startswith("bad ")
                         else f"malformed OTLP/JSON: {problem}")
    skipped.append(problem)


_KINDS = {v: k for k, v in SPAN_KIND.items()}
_KIND_NAMES = {f"SPAN_KIND_{k.upper()}": v for k, v in SPAN_KIND.items()}
_STATUSES = {v: k for k, v in STATUS_CODE.items()}
_STATUS_NAMES = {f"STATUS_CODE_{k.upper()}": v for k, v in STATUS_CODE.items()}


def _record(s: Any, service: str, resource: dict[str, Any]) -> SpanRecord:
    """One OTLP/JSON span; AttributeError, TypeError, KeyError or ValueError if bad."""
    start = int(s.get("startTimeUnixNano", 0))
    end = int(s.get("endTimeUnixNano", start))
    status = s.get("status") or {}
    parent = s.get("parentSpanId") or None
    return SpanRecord(
        trace_id=_id(s.get("traceId"), 32, "traceId"),
        span_id=_id(s.get("spanId"), 16, "spanId"),
        parent_span_id=_id(parent, 16, "parentSpanId") if parent else None,
        name=str(s.get("name", "")), service=service,
        kind=_KINDS.get(_enum(s.get("kind"), _KIND_NAMES, 1), "internal"),
        start_time_unix_nano=start, duration_ns=max(0, end - start),
        status=_STATUSES.get(_enum(status.get("code"), _STATUS_NAMES, 0), "unset"),
        status_message=str(status.get("message", "")),
        attributes=_attrs(s.get("attributes")),
        events=tuple(SpanEvent(str(e.get("name", "")), int(e.get("timeUnixNano", 0)),
                               _attrs(e.get("attributes")))
                     for e in s.get("events") or []),
        resource=resource)
