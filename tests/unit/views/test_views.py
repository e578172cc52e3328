"""Every trace view: structure, escaping, and loadability by the tools each targets."""

from __future__ import annotations

import base64
import json
import re
import uuid

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.export.store import Trace
from tracing_middleware.views import FORMATS, analysis, tree
from tracing_middleware.views.osprofiler_import import import_osprofiler_json
from tracing_middleware.views.otlp_json import import_otlp_json

T = "4bf92f3577b34da6a3ce929d0e0e4736"
BASE = 1_700_000_000_000_000_000
EVIL = "<script>alert(1)</script>"


def _trace() -> Trace:
    api = {"service.name": "nova-api", "host.name": "ctl1"}
    spans = [
        SpanRecord(T, "a" * 16, None, "GET /v2.1/servers", "nova-api", "server", BASE,
                   5_000_000, attributes={"http.route": "/v2.1/servers", "n": 3,
                                          "ratio": 0.5, "ok": True, "tags": ["x", "y"]},
                   resource=api),
        SpanRecord(T, "b" * 16, "a" * 16, "compute/build", "nova-api", "client",
                   BASE + 100_000, 4_000_000, resource=api),
        SpanRecord(T, "c" * 16, "b" * 16, "compute/build", "nova-compute", "server",
                   BASE + 200_000, 3_000_000, status="error", status_message="boom",
                   attributes={"evil": EVIL},
                   events=(SpanEvent("exception", BASE + 300_000,
                                     {"exception.type": "ValueError"}),),
                   resource={"service.name": "nova-compute"}),
        SpanRecord(T, "d" * 16, "a" * 16, "SELECT", "nova-api", "client",
                   BASE + 4_000_000, 500_000, resource=api),
        SpanRecord(T, "e" * 16, "9" * 16, "lost parent", "glance-api", "server",
                   BASE + 1_000_000, 1_000_000, resource={"service.name": "glance-api"}),
    ]
    return Trace(T, spans)


# -- json ------------------------------------------------------------------------------

def test_json_schema():
    """The documented JSON: trace_id and spans with exactly SpanRecord.to_json() keys."""
    trace = _trace()
    doc = json.loads(FORMATS["json"](trace))
    assert set(doc) == {"trace_id", "spans"} and doc["trace_id"] == T
    assert doc["spans"] == sorted((s.to_json() for s in trace.spans),
                                  key=lambda s: s["start_time_unix_nano"])
    assert set(doc["spans"][0]) == {"span_id", "parent_span_id", "name", "service", "kind",
                                    "start_time_unix_nano", "duration_ns", "status",
                                    "status_message", "attributes", "events"}
    assert set(doc["spans"][2]["events"][0]) == {"name", "time_unix_nano", "attributes"}


# -- tree ------------------------------------------------------------------------------

def test_tree_order_indentation_and_markers():
    """Children under parents in start order, orphans at the root marked, ERROR last."""
    lines = FORMATS["tree"](_trace()).splitlines()
    assert [re.sub(r"\s+[\d.]+ ms\s+\+.*$", "", line) for line in lines] == [
        "GET /v2.1/servers [nova-api] server",
        "├─ compute/build [nova-api] client",
        "│  └─ compute/build [nova-compute] server",
        "└─ SELECT [nova-api] client",
        "lost parent [glance-api] server (parent not stored)",
    ]
    assert lines[2].endswith("ERROR")
    assert [line.endswith("ERROR") for line in lines].count(True) == 1


def test_tree_columns_align_and_show_offsets():
    """Durations are right-aligned in one column, in ms with 3 decimals, then the offset."""
    lines = FORMATS["tree"](_trace()).splitlines()
    assert len({line.index(" ms") for line in lines}) == 1
    assert re.search(r"\b5\.000 ms  \+\s*0\.000 ms$", lines[0])
    assert re.search(r"\b0\.500 ms  \+\s*4\.000 ms$", lines[3])


def test_tree_marks_the_critical_path_with_what_each_span_holds():
    """The spans on the critical path end with the mark and their contribution, aligned;
    the others, ERROR included, keep their columns."""
    trace = _trace()
    path = analysis.critical_path(trace)["path"]
    held = {step["span_id"]: step["contribution_ns"] for step in path}
    assert held == {"a" * 16: 3_500_000, "e" * 16: 1_000_000, "d" * 16: 500_000}
    lines = tree.render(trace, critical=held).splitlines()
    assert lines[0].endswith("+0.000 ms  ◆ 3.500 ms")
    assert lines[3].endswith("+4.000 ms  ◆ 0.500 ms")
    assert lines[4].endswith("+1.000 ms  ◆ 1.000 ms")
    assert "◆" not in lines[1] and "◆" not in lines[2]
    assert lines[2].endswith("ms              ERROR")
    assert len({line.index(" ms") for line in lines}) == 1
    assert "\x1b[1m◆ 3.500 ms" in tree.render(trace, color=True, critical=held)
    assert tree.render(trace) == FORMATS["tree"](trace) and "◆" not in tree.render(trace)


def test_tree_colour_only_when_asked_and_control_chars_escaped():
    """ANSI colour is opt-in; a span name cannot smuggle terminal escapes."""
    trace = _trace()
    assert "\x1b[" not in tree.render(trace)
    assert "\x1b[31mERROR" in tree.render(trace, color=True)
    nasty = Trace(T, [SpanRecord(T, "a" * 16, None, "x\x1b[2Jy", "s", "server", BASE, 1)])
    assert "\x1b" not in tree.render(nasty) and "x\\x1b[2Jy" in tree.render(nasty)


def test_tree_survives_parent_cycles_and_deep_chains():
    """A parent cycle still shows every span once; a 5000-deep chain does not recurse."""
    cycle = Trace(T, [SpanRecord(T, "1" * 16, "2" * 16, "one", "s", "internal", BASE, 1),
                      SpanRecord(T, "2" * 16, "1" * 16, "two", "s", "internal", BASE + 1, 1)])
    assert len(FORMATS["tree"](cycle).splitlines()) == 2
    deep = [SpanRecord(T, f"{i + 1:016x}", f"{i:016x}" if i else None, f"s{i}", "s",
                       "internal", BASE + i, 1) for i in range(5000)]
    for name, render in FORMATS.items():
        assert render(Trace(T, deep)), name


def test_empty_trace_renders_everywhere():
    """No spans: every view still produces its (empty) document."""
    for render in FORMATS.values():
        assert isinstance(render(Trace(T, [])), str)


# -- dot -------------------------------------------------------------------------------

def test_dot_nodes_and_edges():
    """Graphviz: one node per span, one edge per stored parent link, escaped labels."""
    trace = _trace()
    trace.spans.append(SpanRecord(T, "f" * 16, "a" * 16, 'say "hi" \\o/', "s", "internal",
                                  BASE, 1))
    dot = FORMATS["dot"](trace)
    assert dot.startswith('digraph "trace ') and dot.rstrip().endswith("}")
    nodes = re.findall(r'^  "([0-9a-f]{16})" \[label=', dot, re.M)
    edges = re.findall(r'^  "([0-9a-f]{16})" -> "([0-9a-f]{16})";$', dot, re.M)
    assert sorted(nodes) == sorted(s.span_id for s in trace.spans)
    assert sorted(edges) == sorted([("a" * 16, "b" * 16), ("b" * 16, "c" * 16),
                                    ("a" * 16, "d" * 16), ("a" * 16, "f" * 16)])
    assert r'say \"hi\" \\o/\n[s]' in dot
    assert "style=dashed" in dot and "color=red" in dot


# -- chrome ----------------------------------------------------------------------------

def test_chrome_trace_events():
    """Trace Event Format: an X event per span in µs, a named process per service."""
    trace = _trace()
    doc = json.loads(FORMATS["chrome"](trace))
    complete = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == len(trace.spans)
    names = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "process_name"}
    assert set(names.values()) == {"nova-api", "nova-compute", "glance-api"}
    root = next(e for e in complete if e["args"]["span_id"] == "a" * 16)
    assert (root["dur"], root["ts"], names[root["pid"]], root["tid"]) == (
        5000.0, BASE / 1000, "nova-api", 0)
    child = next(e for e in complete if e["args"]["span_id"] == "c" * 16)
    assert child["tid"] == 2 and child["args"]["status"] == "error"
    assert all({"name", "ts", "dur", "pid", "tid", "args"} <= set(e) for e in complete)


# -- otlp-json -------------------------------------------------------------------------

def _hex_ids_to_base64(doc: dict) -> dict:
    """OTLP/JSON ids are hex (OTLP spec); protobuf's generic JSON parser wants base64."""
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return doc


def test_otlp_json_parses_with_the_official_messages():
    """The output loads into ExportTraceServiceRequest; ids, names, parents, kinds,
    statuses, times and typed attributes survive; one resourceSpans per service."""
    trace = _trace()
    text = FORMATS["otlp-json"](trace)
    request = json_format.Parse(json.dumps(_hex_ids_to_base64(json.loads(text))),
                                ExportTraceServiceRequest())
    services = [next(a.value.string_value for a in rs.resource.attributes
                     if a.key == "service.name") for rs in request.resource_spans]
    assert sorted(services) == ["glance-api", "nova-api", "nova-compute"]
    spans = {s.span_id.hex(): s for rs in request.resource_spans for ss in rs.scope_spans
             for s in ss.spans}
    assert set(spans) == {s.span_id for s in trace.spans}
    for original in trace.spans:
        parsed = spans[original.span_id]
        assert parsed.trace_id.hex() == T and parsed.name == original.name
        assert parsed.parent_span_id.hex() == (original.parent_span_id or "")
        assert parsed.start_time_unix_nano == original.start_time_unix_nano
        assert parsed.end_time_unix_nano == original.end_time_unix_nano
    root, error = spans["a" * 16], spans["c" * 16]
    assert root.kind == 2 and spans["b" * 16].kind == 3  # SERVER, CLIENT
    assert error.status.code == 2 and error.status.message == "boom"
    assert error.events[0].name == "exception"
    attrs = {a.key: a.value for a in root.attributes}
    assert attrs["n"].int_value == 3 and attrs["ratio"].double_value == 0.5
    assert attrs["ok"].bool_value is True
    assert [v.string_value for v in attrs["tags"].array_value.values] == ["x", "y"]


def test_otlp_json_import_round_trip():
    """render -> import gives back equal records (resources carry service.name)."""
    trace = _trace()
    back = {r.span_id: r for r in import_otlp_json(FORMATS["otlp-json"](trace))}
    assert [back[s.span_id] for s in trace.spans] == trace.spans


def test_otlp_json_import_accepts_base64_ids_and_enum_names():
    """Files from protobuf's JSON printer (base64 ids, enum names) import the same."""
    doc = _hex_ids_to_base64(json.loads(FORMATS["otlp-json"](_trace())))
    for rs in doc["resourceSpans"]:
        for span in rs["scopeSpans"][0]["spans"]:
            span["kind"] = "SPAN_KIND_SERVER"
            span["status"]["code"] = "STATUS_CODE_ERROR"
    records = import_otlp_json(json.dumps(doc))
    assert {r.span_id for r in records} == {s.span_id for s in _trace().spans}
    assert {(r.kind, r.status) for r in records} == {("server", "error")}


def test_otlp_json_import_rejects_garbage():
    """Malformed input is a ValueError, never a KeyError deep inside."""
    import pytest

    for text in ("nope", "[]", '{"resourceSpans": [{"scopeSpans": [{"spans": [{}]}]}]}',
                 '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}'):
        with pytest.raises(ValueError):
            import_otlp_json(text)


# -- osprofiler import -----------------------------------------------------------------

def _osprofiler_doc() -> tuple[dict, str, str, str]:
    base, wsgi, db = (str(uuid.uuid4()) for _ in range(3))
    start = {"name": "wsgi-start", "base_id": base, "trace_id": wsgi, "parent_id": base,
             "timestamp": "2024-05-01T10:00:00.250000",
             "info": {"request": {"path": "/v2/images", "method": "GET"},
                      "auth_token": "secret"}}
    doc = {"info": {"name": "total", "started": 0, "finished": 10},
           "children": [{"info": {"name": "wsgi", "started": 0, "finished": 10,
                                  "service": "api", "host": "h1", "project": "glance",
                                  "meta.raw_payload.wsgi-start": start},
                         "trace_id": wsgi, "parent_id": base,
                         "children": [{"info": {"name": "db", "started": 2, "finished": 5,
                                                "service": "api", "exception": "OperationalError"},
                                       "trace_id": db, "parent_id": wsgi,
                                       "children": []}]}],
           "stats": {}}
    return doc, base, wsgi, db


def test_osprofiler_json_import_maps_ids_times_and_errors():
    """Trace id = base UUID's 128 bits, span id = point UUID's low 64 bits, absolute times
    from the raw payload timestamp (UTC), exceptions become error status."""
    doc, base, wsgi, _db = _osprofiler_doc()
    records = {r.name: r for r in import_osprofiler_json(doc)}
    expected_start = 1714557600_250_000_000  # 2024-05-01T10:00:00.25Z
    assert records["wsgi"].trace_id == f"{uuid.UUID(base).int:032x}"
    assert records["wsgi"].span_id == f"{uuid.UUID(wsgi).int & ((1 << 64) - 1):016x}"
    assert records["wsgi"].parent_span_id is None and records["wsgi"].kind == "server"
    assert records["wsgi"].start_time_unix_nano == expected_start
    assert records["db"].parent_span_id == records["wsgi"].span_id
    assert records["db"].start_time_unix_nano == expected_start + 2_000_000
    assert records["db"].duration_ns == 3_000_000
    assert records["db"].status == "error" and records["db"].kind == "client"
    assert records["wsgi"].attributes["osprofiler.request.path"] == "/v2/images"
    assert not any("token" in k for k in records["wsgi"].attributes)


def test_osprofiler_import_without_raw_payloads_uses_parent_of_top_level():
    """No raw payloads: the base id is the top-level points' parent id."""
    doc, base, _wsgi, _db = _osprofiler_doc()
    del doc["children"][0]["info"]["meta.raw_payload.wsgi-start"]
    records = import_osprofiler_json(doc)
    assert {r.trace_id for r in records} == {f"{uuid.UUID(base).int:032x}"}
    assert all(r.attributes["osprofiler.time_origin"] == "unknown" for r in records)
