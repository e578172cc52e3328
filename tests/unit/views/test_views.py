"""Every trace view: structure, escaping, and loadability by the tools it targets."""

from __future__ import annotations

import base64
import json
import uuid

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.export.store import Trace
from tracing_middleware.views import FORMATS
from tracing_middleware.views.osprofiler_import import import_osprofiler_json
from tracing_middleware.views.otlp_json import import_otlp_json

T = "4bf92f3577b34da6a3ce929d0e0e4736"


def _trace() -> Trace:
    base = 1_700_000_000_000_000_000
    spans = [
        SpanRecord(T, "a" * 16, None, "GET /v2.1/servers", "nova-api", "server", base,
                   5_000_000, attributes={"http.route": "/v2.1/servers", "n": 3}),
        SpanRecord(T, "b" * 16, "a" * 16, "compute/build", "nova-api", "client",
                   base + 100_000, 4_000_000),
        SpanRecord(T, "c" * 16, "b" * 16, "compute/build", "nova-compute", "server",
                   base + 200_000, 3_000_000, status="error", status_message="boom",
                   attributes={"evil": "<script>alert(1)</script>"},
                   events=(SpanEvent("exception", base + 300_000,
                                     {"exception.type": "ValueError"}),)),
    ]
    return Trace(T, spans)


def test_json_schema():
    """The documented JSON: trace_id and spans with the documented keys."""
    doc = json.loads(FORMATS["json"](_trace()))
    assert doc["trace_id"] == T
    assert [s["parent_span_id"] for s in doc["spans"]] == [None, "a" * 16, "b" * 16]
    assert set(doc["spans"][0]) == {"span_id", "parent_span_id", "name", "service", "kind",
                                    "start_time_unix_nano", "duration_ns", "status",
                                    "status_message", "attributes", "events"}


def test_tree_nesting_alignment_and_errors():
    """Children are indented under parents; durations align; errors are marked."""
    lines = FORMATS["tree"](_trace()).splitlines()
    assert lines[0].startswith("GET /v2.1/servers [nova-api] server")
    assert lines[1].startswith("└─ compute/build [nova-api] client")
    assert lines[2].startswith("   └─ compute/build [nova-compute] server")
    assert lines[2].endswith("ERROR") and not lines[0].endswith("ERROR")
    assert len({line.index(" ms") for line in lines}) == 1  # duration column aligned


def test_html_is_self_contained_and_escaped():
    """One bar per span, a legend per service, no external resources, values escaped."""
    html = FORMATS["html"](_trace())
    assert html.count("class='bar'") == 3
    assert "nova-compute" in html and "nova-api" in html
    assert "<script>alert(1)</script>" not in html
    assert "http://" not in html and "https://" not in html


def test_dot_nodes_and_edges():
    """Graphviz: one node per span, an edge per parent link."""
    dot = FORMATS["dot"](_trace())
    assert dot.startswith("digraph")
    assert dot.count(" -> ") == 2
    assert dot.count("[label=") == 3


def test_chrome_trace_events():
    """Trace Event Format: an X event per span, named processes per service."""
    doc = json.loads(FORMATS["chrome"](_trace()))
    complete = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == 3
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M"}
    assert names == {"nova-api", "nova-compute"}
    assert complete[0]["dur"] == 5000.0  # microseconds


def test_otlp_json_parses_with_the_official_messages():
    """The OTLP JSON loads into ExportTraceServiceRequest with ids and parents intact."""
    doc = json.loads(FORMATS["otlp-json"](_trace()))
    # OTLP/JSON writes ids in hex (OTLP spec); protobuf's generic JSON mapping wants
    # base64, so convert exactly those fields before handing it to the official parser.
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        assert len(span[key]) in (16, 32)
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    request = json_format.Parse(json.dumps(doc), ExportTraceServiceRequest())
    spans = {s.name + s.span_id.hex(): s for rs in request.resource_spans
             for ss in rs.scope_spans for s in ss.spans}
    assert len(spans) == 3
    for span in spans.values():
        assert span.trace_id.hex() == T
    child = next(s for s in spans.values() if s.span_id.hex() == "c" * 16)
    assert child.parent_span_id.hex() == "b" * 16
    assert child.kind == 2 and child.status.code == 2


def test_otlp_json_import_round_trip():
    """render -> import gives back the same records."""
    trace = _trace()
    records = import_otlp_json(FORMATS["otlp-json"](trace))
    by_id = {r.span_id: r for r in records}
    for original in trace.spans:
        back = by_id[original.span_id]
        assert (back.trace_id, back.parent_span_id, back.name, back.service, back.kind,
                back.start_time_unix_nano, back.duration_ns, back.status) == (
            original.trace_id, original.parent_span_id, original.name, original.service,
            original.kind, original.start_time_unix_nano, original.duration_ns,
            original.status)
        assert dict(back.attributes) == dict(original.attributes)


def test_osprofiler_json_import_maps_ids():
    """osprofiler's nested JSON becomes spans with the documented id mapping."""
    base = str(uuid.uuid4())
    wsgi, db = str(uuid.uuid4()), str(uuid.uuid4())
    doc = {"info": {"name": "total", "started": 0, "finished": 10},
           "children": [{"info": {"name": "wsgi", "started": 0, "finished": 10,
                                  "service": "api", "host": "h1"},
                         "trace_id": wsgi, "parent_id": base,
                         "children": [{"info": {"name": "db", "started": 2, "finished": 5,
                                                "service": "api"},
                                       "trace_id": db, "parent_id": wsgi,
                                       "children": []}]}]}
    records = {r.name: r for r in import_osprofiler_json(doc)}
    assert records["wsgi"].trace_id == f"{uuid.UUID(base).int:032x}"
    assert records["wsgi"].parent_span_id is None
    assert records["db"].parent_span_id == f"{uuid.UUID(wsgi).int & ((1 << 64) - 1):016x}"
    assert records["db"].duration_ns == 3_000_000
