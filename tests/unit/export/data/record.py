"""Write the recorded Jaeger and Tempo answers of this directory (see README.rst).

Run from the repository root: ``python tests/unit/export/data/record.py``. The spans are
the known-answer trace of ``tests/unit/views/test_analysis.py`` (``boot()``) with request
ids, and a second, small trace; each store's file encodes them as that store does.
"""

from __future__ import annotations

import base64
import json
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))

from tests.unit.views.test_analysis import MS, T, boot, span  # noqa: E402
from tracing_middleware.export.records import SpanRecord  # noqa: E402

HERE = pathlib.Path(__file__).parent
#: The request id the API span carries, and the global request id of its caller, which
#: the conductor's span carries.
REQ = "req-11111111-2222-4333-8444-555555555555"
GLOBAL_REQ = "req-66666666-7777-4888-9999-aaaaaaaaaaaa"
#: A second trace, five seconds later, without request ids; its id starts with a zero,
#: which Tempo's search drops.
SECOND = "0af7651916cd43dd8448eb211c80319c"
KIND = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
STATUS = {"unset": 0, "ok": 1, "error": 2}


def traces() -> dict[str, list[SpanRecord]]:
    first = []
    for s in boot().spans:
        extra = {}
        if s.span_id == "a".rjust(16, "0"):
            extra = {"openstack.request_id": REQ}
        elif s.span_id == "d".rjust(16, "0"):
            extra = {"openstack.global_request_id": GLOBAL_REQ}
        first.append(SpanRecord(s.trace_id, s.span_id, s.parent_span_id, s.name, s.service,
                                s.kind, s.start_time_unix_nano, s.duration_ns, s.status,
                                attributes={**s.attributes, **extra}))
    second = [
        span("21", None, "GET /servers/detail", "api", "server", 5000, 5020,
             trace_id=SECOND, **{"http.request.method": "GET",
                                 "http.response.status_code": 200}),
        span("22", "21", "SELECT mysql", "api", "client", 5002, 5012, trace_id=SECOND,
             **{"db.system.name": "mysql"}),
    ]
    return {T: first, SECOND: second}


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": str(value)}


def _span(s: SpanRecord, ids: str, enums: str) -> dict[str, Any]:
    """A span as protobuf's JSON mapping writes it: zero fields left out; ids in hex
    (OTLP/JSON, Jaeger's pdata marshaller) or base64 (gogo jsonpb, Tempo); enums as
    numbers (Jaeger) or names (Tempo)."""
    def ident(hex_id: str) -> str:
        return hex_id if ids == "hex" else base64.b64encode(bytes.fromhex(hex_id)).decode()

    item: dict[str, Any] = {"traceId": ident(s.trace_id), "spanId": ident(s.span_id)}
    if s.parent_span_id:
        item["parentSpanId"] = ident(s.parent_span_id)
    item["name"] = s.name
    item["kind"] = KIND[s.kind] if enums == "int" else f"SPAN_KIND_{s.kind.upper()}"
    item["startTimeUnixNano"] = str(s.start_time_unix_nano)
    item["endTimeUnixNano"] = str(s.end_time_unix_nano)
    if s.attributes:
        item["attributes"] = [{"key": k, "value": _value(v)} for k, v in s.attributes.items()]
    code = STATUS[s.status]
    item["status"] = {} if not code else {
        "code": code if enums == "int" else f"STATUS_CODE_{s.status.upper()}"}
    return item


def resource_spans(spans: Sequence[SpanRecord], ids: str, enums: str) -> list[dict]:
    """One ``ResourceSpans`` per service, in the order the services first appear."""
    groups: dict[str, list[SpanRecord]] = {}
    for s in spans:
        groups.setdefault(s.service, []).append(s)
    return [{"resource": {"attributes": [{"key": "service.name",
                                          "value": {"stringValue": service}}]},
             "scopeSpans": [{"scope": {"name": "tracing_middleware"},
                             "spans": [_span(s, ids, enums) for s in group]}]}
            for service, group in groups.items()]


def _tempo_search_entry(trace_id: str, spans: Sequence[SpanRecord]) -> dict[str, Any]:
    root = next(s for s in spans if s.parent_span_id is None)
    start = min(s.start_time_unix_nano for s in spans)
    end = max(s.end_time_unix_nano for s in spans)
    matched = {"spans": [{"spanID": root.span_id, "name": root.name,
                          "startTimeUnixNano": str(root.start_time_unix_nano),
                          "durationNanos": str(root.duration_ns),
                          "attributes": [{"key": "service.name",
                                          "value": {"stringValue": root.service}}]}],
               "matched": 1}
    return {"traceID": trace_id.lstrip("0"), "rootServiceName": root.service,
            "rootTraceName": root.name, "startTimeUnixNano": str(start),
            "durationMs": (end - start) // MS, "spanSet": matched, "spanSets": [matched]}


def write(name: str, doc: Any, lines: Sequence[Any] = ()) -> None:
    text = "\n".join(json.dumps(d, separators=(",", ":")) for d in (lines or [doc]))
    (HERE / name).write_text(text + "\n")


def main() -> None:
    by_id = traces()
    first, second = by_id[T], by_id[SECOND]
    jaeger = {i: resource_spans(s, "hex", "int") for i, s in by_id.items()}
    # Protobuf's JSON mapping (gogo jsonpb, grpc-gateway): Tempo, and Jaeger 1.x.
    pb_json = {i: resource_spans(s, "base64", "name") for i, s in by_id.items()}
    write("jaeger/trace.json", {"result": {"resourceSpans": jaeger[T]}})
    write("jaeger/trace_second.json", {"result": {"resourceSpans": jaeger[SECOND]}})
    write("jaeger/search.json", {"result": {"resourceSpans": jaeger[SECOND] + jaeger[T]}})
    # Jaeger 1.x's grpc-gateway: a chunk per trace, protobuf's JSON mapping.
    write("jaeger/search_streamed.json", None, lines=[
        {"result": {"resourceSpans": pb_json[SECOND]}}, {"result": {"resourceSpans": pb_json[T]}}])
    write("jaeger/services.json", {"services": sorted({s.service for s in first + second})})
    write("jaeger/not_found.json", {"error": {"httpCode": 404, "message": "No traces found"}})
    metrics = {"inspectedBytes": "48213"}
    write("tempo/trace_v2.json", {"trace": {"resourceSpans": pb_json[T]}, "metrics": metrics})
    write("tempo/trace_v2_second.json", {"trace": {"resourceSpans": pb_json[SECOND]},
                                         "metrics": metrics})
    write("tempo/trace_v2_partial.json", {
        "trace": {"resourceSpans": resource_spans(first[:4], "base64", "name")},
        "metrics": metrics, "status": "PARTIAL",
        "message": "Trace exceeds maximum size of 5000 bytes, a partial trace is returned"})
    write("tempo/trace.json", {"batches": pb_json[T]})
    write("tempo/search.json", {
        "traces": [_tempo_search_entry(SECOND, second), _tempo_search_entry(T, first)],
        "metrics": {"inspectedTraces": 2, "inspectedBytes": "96426", "totalBlocks": 1,
                    "completedJobs": 1, "totalJobs": 1}})


if __name__ == "__main__":
    main()
