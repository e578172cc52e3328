"""Jaeger and Tempo read through the embedded store's methods, the commands and the UI,
against their recorded answers (``tests/unit/export/data/README.rst``) played back by a
real HTTP server on 127.0.0.1, which also keeps the requests the readers make."""

from __future__ import annotations

import datetime
import json
import logging
import urllib.request

import pytest

from tracing_middleware.cmd.serve import UIServer
from tracing_middleware.export.store import SpanStore, StoreError
from tracing_middleware.export.store_url import default_store_url, resolve_store_url
from tracing_middleware.views import analysis, remote_store
from tracing_middleware.views.remote_store import JaegerStore, TempoStore, open_store

from ..export.recorded_api import DATA, RecordedAPI
from .conftest import run
from .test_analysis import BASE, MS, T, boot

REQ = "req-11111111-2222-4333-8444-555555555555"
GLOBAL_REQ = "req-66666666-7777-4888-9999-aaaaaaaaaaaa"
SECOND = "0af7651916cd43dd8448eb211c80319c"
MISSING = "f" * 32
UUID_FORM = f"{T[:8]}-{T[8:12]}-{T[12:16]}-{T[16:20]}-{T[20:]}"


@pytest.fixture
def api():
    recorded = RecordedAPI()
    yield recorded
    recorded.close()


@pytest.fixture
def jaeger(api):
    api.serve(f"/api/v3/traces/{T}", "jaeger/trace.json")
    api.serve(f"/api/v3/traces/{SECOND}", "jaeger/trace_second.json")
    api.serve(f"/api/v3/traces/{MISSING}", "jaeger/not_found.json", 404)
    api.serve("/api/v3/traces", "jaeger/search.json")
    api.serve("/api/v3/services", "jaeger/services.json")
    return api


@pytest.fixture
def tempo(api):
    api.serve(f"/api/v2/traces/{T}", "tempo/trace_v2.json")
    api.serve(f"/api/v2/traces/{SECOND}", "tempo/trace_v2_second.json")
    api.serve(f"/api/v2/traces/{MISSING}", b"", 404)
    api.serve(f"/api/traces/{T}", "tempo/trace.json")
    api.serve("/api/search", "tempo/search.json")
    return api


def _fields(spans):
    return sorted((s.span_id, s.parent_span_id, s.name, s.service, s.kind,
                   s.start_time_unix_nano, s.duration_ns, s.status) for s in spans)


# -- reading a trace ------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["jaeger", "tempo"])
def test_a_trace_reads_as_the_embedded_store_would_hold_it(jaeger, tempo, scheme):
    """Same spans, ids, kinds, timings, statuses and attributes as the known-answer
    trace, whatever encoding the store uses (hex ids and numbers from Jaeger, base64 ids
    and enum names from Tempo), so every analysis gives the embedded store's answer."""
    store = open_store(jaeger.url(scheme))
    trace = store.get_trace(T)
    expected = boot()
    assert trace.trace_id == T and _fields(trace.spans) == _fields(expected.spans)
    by_id = {s.span_id: s for s in trace.spans}
    assert by_id["a".rjust(16, "0")].attributes == {"http.request.method": "POST",
                                                    "openstack.request_id": REQ}
    assert [s.start_time_unix_nano for s in trace.spans] == sorted(
        s.start_time_unix_nano for s in trace.spans)
    assert analysis.critical_path(trace) == analysis.critical_path(expected)
    assert analysis.breakdown(trace) == analysis.breakdown(expected)
    assert store.get_trace(MISSING) is None  # Jaeger's 404 body, Tempo's empty 404
    assert store.get_trace(UUID_FORM).trace_id == T  # osprofiler's base id form
    assert store.get_trace("not an id") is None


def test_each_store_is_asked_at_its_documented_paths(jaeger, tempo):
    JaegerStore(jaeger.url("jaeger")).get_trace(T)
    TempoStore(tempo.url("tempo")).get_trace(T)
    assert [path for path, _ in jaeger.requests] == [f"/api/v3/traces/{T}",
                                                     f"/api/v2/traces/{T}"]
    assert jaeger.headers[0]["Accept"] == "application/json"


def test_tempo_before_2_6_is_read_at_the_older_path(api):
    """Without /api/v2/traces (Go's "404 page not found"), the trace is read from
    /api/traces, answered as {"batches": ...}; later reads go there directly."""
    api.serve(f"/api/traces/{T}", "tempo/trace.json")
    store = TempoStore(api.url("tempo"))
    assert _fields(store.get_trace(T).spans) == _fields(boot().spans)
    store.close()  # forget the cached trace
    store.get_trace(T)
    assert [path for path, _ in api.requests] == [
        f"/api/v2/traces/{T}", f"/api/traces/{T}", f"/api/traces/{T}"]


def test_a_partial_tempo_trace_is_read_and_said_once(api, caplog):
    api.serve(f"/api/v2/traces/{T}", "tempo/trace_v2_partial.json")
    with caplog.at_level(logging.WARNING, "tracing_middleware.views.remote_store"):
        trace = TempoStore(api.url("tempo")).get_trace(T)
    assert len(trace.spans) == 4
    (record,) = caplog.records
    assert "partial" in record.getMessage() and "maximum size" in record.getMessage()


def test_a_malformed_span_is_left_out_with_one_log_line(api, caplog):
    doc = json.loads((DATA / "jaeger" / "trace.json").read_text())
    spans = doc["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[1]["traceId"] = 7
    spans[2]["startTimeUnixNano"] = "soon"
    api.serve(f"/api/v3/traces/{T}", json.dumps(doc).encode())
    with caplog.at_level(logging.WARNING, "tracing_middleware.views.remote_store"):
        trace = JaegerStore(api.url("jaeger")).get_trace(T)
    assert len(trace.spans) == len(boot().spans) - 2
    (record,) = caplog.records
    assert "left out 2 malformed span(s)" in record.getMessage()


def test_id_prefixes_are_refused_with_the_reason(jaeger):
    store = JaegerStore(jaeger.url("jaeger"))
    assert store.get_trace(T[:12]) is None
    with pytest.raises(StoreError, match=r"not a whole trace id.*embedded store only"):
        store.find_trace_ids(T[:12])
    assert store.find_trace_ids(T) == [T] and store.find_trace_ids(MISSING) == []


# -- searching: Jaeger ----------------------------------------------------------------

def _rfc3339_ns(text: str) -> int:
    moment = datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    assert text[19] == "." and text.endswith("Z") and len(text) == 30
    return int(moment.timestamp()) * 10**9 + int(text[20:29])


def test_jaeger_search_sends_the_documented_parameters(jaeger):
    """One search of the service, every filter Jaeger knows as a parameter; the traces
    its answer holds are then held to the embedded store's rule (here: a span named
    POST /servers), so the second trace of the recorded answer is left out."""
    store = JaegerStore(jaeger.url("jaeger"))
    since, until = BASE - 1500 * MS, BASE + 10_000 * MS + 7
    (found,) = store.find_traces(service="api", operation="POST /servers", since_ns=since,
                                 until_ns=until, min_duration_ns=5 * MS, limit=7)
    (query,) = jaeger.asked("/api/v3/traces")
    assert {key: values[0] for key, values in query.items()} == {
        "query.service_name": "api", "query.operation_name": "POST /servers",
        "query.start_time_min": query["query.start_time_min"][0],
        "query.start_time_max": query["query.start_time_max"][0],
        "query.duration_min": "5000000ns", "query.num_traces": "7"}
    assert _rfc3339_ns(query["query.start_time_min"][0]) == since
    assert _rfc3339_ns(query["query.start_time_max"][0]) == until
    assert (found.trace_id, found.root_name, found.root_service, found.span_count,
            found.error, found.start_ns, found.duration_ns) == (
        T, "POST /servers", "api", len(boot().spans), True, BASE, 130 * MS)
    assert found.services == {"api", "conductor", "compute", "listener", "placement"}
    # The search answered whole traces: reading one again asks nothing more.
    assert store.get_trace(T) is not None and len(jaeger.requests) == 1


@pytest.mark.parametrize("request_id", [REQ, GLOBAL_REQ])
def test_jaeger_request_id_is_two_attribute_searches_per_service(jaeger, request_id):
    """Jaeger needs a service: without one each service of /api/v3/services is asked,
    once per request id attribute, deeper than the limit. Jaegers before 2.19 ignore
    query.attributes (as this playback does) and so answer other traces too: only the
    trace that holds the id is kept."""
    found = JaegerStore(jaeger.url("jaeger")).find_traces(request_id=f" {request_id} ")
    assert [s.trace_id for s in found] == [T]
    asked = jaeger.asked("/api/v3/traces")
    services = ["api", "compute", "conductor", "listener", "placement"]
    assert sorted(q["query.service_name"][0] for q in asked) == sorted(services * 2)
    assert {q["query.attributes"][0] for q in asked} == {
        json.dumps({"openstack.request_id": request_id}),
        json.dumps({"openstack.global_request_id": request_id})}
    assert {q["query.num_traces"][0] for q in asked} == {
        str(remote_store.FILTERED_DEPTH)}
    assert [p for p, _ in jaeger.requests].count("/api/v3/services") == 1


def test_jaeger_request_id_with_filters_another_span_meets(jaeger):
    """The id is on the API's span, the service and the error on compute's: Jaeger's
    filters hold for one span, so only the id is asked (of every service) and the rest
    is held to the embedded store's rule here."""
    store = JaegerStore(jaeger.url("jaeger"))
    found = store.find_traces(request_id=REQ, service="compute", operation="spawn",
                              errors=True, min_duration_ns=100 * MS)
    assert [s.trace_id for s in found] == [T]
    asked = jaeger.asked("/api/v3/traces")
    assert len(asked) == 10 and all(
        set(q) == {"query.service_name", "query.attributes", "query.num_traces",
                   "query.start_time_min", "query.start_time_max"} for q in asked)
    assert store.find_traces(request_id=REQ, service="compute", operation="quota") == []


def test_jaeger_streamed_chunks_read_as_one_answer(jaeger):
    """Jaeger 1.x's grpc-gateway streamed one {"result": ...} per trace, ids in base64;
    a bare TracesData reads the same."""
    store = JaegerStore(jaeger.url("jaeger"))
    combined = store.find_traces(service="api")
    jaeger.serve("/api/v3/traces", "jaeger/search_streamed.json")
    streamed = JaegerStore(jaeger.url("jaeger")).find_traces(service="api")
    assert [s.trace_id for s in streamed] == [SECOND, T] and streamed == combined
    bare = json.loads((DATA / "jaeger" / "search.json").read_text())["result"]
    jaeger.serve("/api/v3/traces", json.dumps(bare).encode())
    assert JaegerStore(jaeger.url("jaeger")).find_traces(service="api") == combined


def test_jaeger_nothing_found_is_no_traces(jaeger):
    jaeger.serve("/api/v3/traces", "jaeger/not_found.json", 404)
    assert JaegerStore(jaeger.url("jaeger")).find_traces(service="api") == []


# -- searching: Tempo -----------------------------------------------------------------

def test_tempo_search_is_one_traceql_query(tempo):
    """Conditions any span may meet are spansets of their own, those one span must meet
    together share one; start/end/limit as documented; each trace found is then read
    whole (the second by its id with the zero Tempo's search drops put back)."""
    store = TempoStore(tempo.url("tempo"))
    found = store.find_traces(request_id=REQ, service="api", errors=True,
                              attribute=("http.request.method", "POST"),
                              min_duration_ns=MS, since_ns=BASE - 1500 * MS, limit=5)
    assert [s.trace_id for s in found] == [T]
    assert found[0].span_count == len(boot().spans) and found[0].error
    (query,) = tempo.asked("/api/search")
    assert query["q"] == [
        '{ span."openstack.request_id" = "req-11111111-2222-4333-8444-555555555555" || '
        'span."openstack.global_request_id" = "req-11111111-2222-4333-8444-555555555555" }'
        ' && { resource.service.name = "api" && span."http.request.method" = "POST" }'
        ' && { status = error } && { traceDuration >= 1000000ns }']
    assert query["limit"] == ["5"] and query["start"] == [str(BASE // 10**9 - 2)]
    assert int(query["end"][0]) > datetime.datetime.now().timestamp()
    assert sorted(p for p, _ in tempo.requests if p.startswith("/api/v2/")) == sorted(
        [f"/api/v2/traces/{SECOND}", f"/api/v2/traces/{T}"])


def test_tempo_search_details(tempo):
    store = TempoStore(tempo.url("tempo"))
    # Without --since: the last week, Tempo's longest search by default.
    assert [s.trace_id for s in store.list_traces()] == [SECOND, T]
    (query,) = tempo.asked("/api/search")
    assert query["q"] == ["{ }"] and query["limit"] == ["20"]
    assert int(query["end"][0]) - int(query["start"][0]) == 7 * 86400
    # A number matches the string or the number, as on the embedded store.
    (found,) = store.find_traces(attribute=("http.response.status_code", "200"))
    assert found.trace_id == SECOND
    assert tempo.asked("/api/search")[-1]["q"] == [
        '{ (span."http.response.status_code" = "200" || '
        'span."http.response.status_code" = 200) }']
    # A quote cannot end the string.
    store.find_traces(operation='x" || true')
    assert tempo.asked("/api/search")[-1]["q"] == ['{ name = "x\\" || true" }']


def test_list_traces_limit_and_the_window_cap(jaeger, monkeypatch):
    store = JaegerStore(jaeger.url("jaeger"))
    assert [s.trace_id for s in store.list_traces(service="api", limit=1)] == [SECOND]
    assert len(store.list_traces(service="api", limit=None)) == 2
    assert store.capped_at is None
    monkeypatch.setattr(remote_store, "WINDOW_CAP", 1)
    assert [s.trace_id for s in store.list_traces(service="api", limit=None)] == [SECOND]
    assert store.capped_at == 1
    assert jaeger.asked("/api/v3/traces")[-1]["query.num_traces"] == ["2"]


# -- what goes wrong ------------------------------------------------------------------

@pytest.mark.parametrize("scheme, path, call", [
    pytest.param("jaeger", f"/api/v3/traces/{T}", lambda s: s.get_trace(T), id="jaeger"),
    pytest.param("tempo", "/api/search", lambda s: s.find_traces(), id="tempo"),
])
@pytest.mark.parametrize("status, body, misbehaviour, message", [
    pytest.param(500, b'{"error":{"httpCode":500,"message":"storage\\ndown"}}', {},
                 "answered HTTP 500: storage down$", id="500-json"),
    pytest.param(400, b"invalid TraceQL query: parse error at line 1, col 3\n", {},
                 "answered HTTP 400: invalid TraceQL query: parse error at line 1, col 3$",
                 id="400-text"),
    pytest.param(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {},
                 "answered HTTP 502$", id="502-html"),
    pytest.param(200, b"<html><body>proxy login</body></html>", {}, "not JSON",
                 id="200-html"),
    pytest.param(200, b'{"result": {"resourceSpans": [', {}, "not JSON", id="truncated"),
    pytest.param(200, b"", {}, "answered nothing", id="empty"),
    pytest.param(200, b"[1, 2]", {}, "answered list|no traces list", id="wrong-shape"),
    pytest.param(200, b"{}", {"length": remote_store.MAX_REPLY_BYTES + 1},
                 "answered more than 67,108,864 bytes", id="huge-length"),
    pytest.param(200, b"{}" + b" " * 5000, {"length": -1},
                 "answered more than 4,096 bytes", id="huge-body"),
    pytest.param(200, b'{"traces": []}', {"stall_s": 3}, "no whole answer within 0.5s",
                 id="stalls"),
    pytest.param(200, b'{"traces": []}', {"delay_s": 3}, "no whole answer within 0.5s",
                 id="silent"),
    pytest.param(200, b'{"traces": []}' + b" " * 30, {"drip_s": 0.1},
                 "no whole answer within 0.5s", id="drips"),
])
def test_a_bad_answer_is_one_clear_error(api, scheme, path, call, status, body,
                                         misbehaviour, message):
    api.serve(path, body, status, **misbehaviour)
    store = open_store(f"{api.url(scheme)}?timeout=0.5")
    store.max_reply_bytes = 4096 if misbehaviour.get("length") == -1 else (
        store.max_reply_bytes)
    with pytest.raises(StoreError, match=message) as err:
        call(store)
    text = str(err.value)
    assert text.startswith(store.url) and "\n" not in text and "<" not in text


def test_an_unreachable_store():
    with pytest.raises(StoreError, match=r"cannot reach http://127\.0\.0\.1:9: .*refused"):
        JaegerStore("jaeger+http://127.0.0.1:9").get_trace(T)


# -- URLs -----------------------------------------------------------------------------

def test_open_store_picks_the_reader_by_scheme(tmp_path):
    assert isinstance(open_store("jaeger+https://jaeger.example:443/base/"), JaegerStore)
    assert isinstance(open_store("tempo+http://tempo:3200"), TempoStore)
    store = open_store(f"sqlite:///{tmp_path}/t.db")
    assert isinstance(store, SpanStore) and not store.exists()
    for url, problem in [
            ("zipkin+http://x:9411", "not a store URL: 'zipkin\\+http://x:9411'; expected"),
            ("jaeger+udp://agent:6831", "expected sqlite.*jaeger\\+http\\(s\\)"),
            ("jaeger+ftp://x", "not a store URL"), ("tempo+http://", "not a tempo\\+http"),
            ("tempo+http://t:3200?timeout=0", "timeout must be seconds"),
            ("tempo+http://t:3200?timeout=x", "timeout must be seconds"),
            ("jaeger+http://j?limit=5", "unknown option 'limit'"),
            ("jaeger+http://j:99999", "store URL"), ("sqlite://", "not a store URL")]:
        with pytest.raises(ValueError, match=problem):
            open_store(url)


def test_base_path_timeout_and_credentials(api):
    """A base path is kept; ?timeout= sets the deadline; credentials in the URL are
    sent as HTTP basic authentication and never shown."""
    api.serve(f"/tracing/api/v3/traces/{T}", "jaeger/trace.json")
    store = open_store(f"jaeger+http://ops:s3cret@127.0.0.1:{api.port}/tracing/?timeout=7")
    assert store.get_trace(T) is not None and store.timeout_s == 7
    assert api.headers[0]["Authorization"] == "Basic b3BzOnMzY3JldA=="
    assert "s3cret" not in store.url and "s3cret" not in repr(store)
    assert store.path == f"jaeger+http://ops:***@127.0.0.1:{api.port}/tracing/?timeout=7"


def test_os_tracing_store_may_name_jaeger_or_tempo():
    """The commands read a remote store named by $OS_TRACING_STORE; what spans are
    written to by default stays the embedded store, since nothing writes to these."""
    env = {"OS_TRACING_STORE": "tempo+http://tempo:3200", "XDG_DATA_HOME": "/data"}
    assert resolve_store_url(None, env) == "tempo+http://tempo:3200"
    assert resolve_store_url("jaeger+http://j:16686", env) == "jaeger+http://j:16686"
    assert default_store_url(env) == "sqlite:////data/os-tracing/traces.db"
    assert default_store_url({"OS_TRACING_STORE": "sqlite:///x.db"}) == "sqlite:///x.db"


# -- the commands and the UI over a remote store ----------------------------------------

@pytest.mark.parametrize("scheme", ["jaeger", "tempo"])
def test_commands_read_jaeger_and_tempo(jaeger, tempo, scheme, capsys):
    url = jaeger.url(scheme)
    assert run("trace", "show", T, "--store", url) == 0
    assert "conductor/build [conductor] server" in capsys.readouterr().out
    assert run("trace", "critical-path", UUID_FORM, "--store", url, "--format",
               "json") == 0
    assert json.loads(capsys.readouterr().out) == analysis.critical_path(boot())
    assert run("trace", "breakdown", T, "--store", url, "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == analysis.breakdown(boot())
    assert run("trace", "diff", T, SECOND, "--store", url, "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["a"], report["b"]) == (T, SECOND) and report["only_in_a"]
    assert run("trace", "find", "--request-id", GLOBAL_REQ, "--store", url,
               "--format", "json") == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)] == [T]
    assert run("trace", "list", "--service", "api", "--errors", "--store", url) == 0
    listing = capsys.readouterr().out
    assert T in listing and SECOND not in listing
    assert run("deps", "--store", url, "--since", "2000-01-01T00:00:00", "--service",
               "api", "--format", "json") == 0
    edges = json.loads(capsys.readouterr().out)["edges"]
    assert {(e["from"], e["to"], e["protocol"]) for e in edges} == {
        ("api", "conductor", "rpc_call"), ("api", "listener", "notification")}


def test_command_messages_over_a_remote_store(jaeger, capsys, tmp_path, monkeypatch):
    url = jaeger.url("jaeger")
    assert run("trace", "show", T[:12], "--store", url) == 1
    assert "is not a whole trace id" in capsys.readouterr().err
    assert run("trace", "show", MISSING, "--store", url) == 1
    assert f"not found in {url}" in capsys.readouterr().err
    jaeger.serve(f"/api/v3/traces/{T}", b"<html>", 200)
    assert run("trace", "show", T, "--store", url) == 1
    err = capsys.readouterr().err
    assert "not JSON" in err and "Traceback" not in err and err.count("\n") == 1
    otlp = tmp_path / "trace.json"
    otlp.write_text(json.dumps(json.loads((DATA / "jaeger" / "trace.json").read_text())[
        "result"]))
    assert run("trace", "import", str(otlp), "--store", url) == 1
    assert "embedded store only" in capsys.readouterr().err
    monkeypatch.setattr(remote_store, "WINDOW_CAP", 1)
    assert run("deps", "--store", url, "--since", "2000-01-01T00:00:00", "--service",
               "api") == 0
    assert (f"note: only the newest 1 traces of the window were read from {url}"
            in capsys.readouterr().err)


@pytest.mark.parametrize("scheme", ["jaeger", "tempo"])
def test_the_web_ui_reads_a_remote_store(jaeger, tempo, scheme):
    ui = UIServer(jaeger.url(scheme), "127.0.0.1", 0).start()
    try:
        with urllib.request.urlopen(f"{ui.url}/api/traces/{T}", timeout=10) as reply:
            assert len(json.loads(reply.read())["spans"]) == len(boot().spans)
        with urllib.request.urlopen(f"{ui.url}/search?service=api", timeout=10) as reply:
            page = reply.read().decode()
        assert T in page and SECOND in page
        with urllib.request.urlopen(f"{ui.url}/trace/{T}", timeout=10) as reply:
            assert "POST /servers" in reply.read().decode()
        with urllib.request.urlopen(f"{ui.url}/trace/{T}?raw=1", timeout=10) as reply:
            assert "conductor/build" in reply.read().decode()  # the waterfall's rows
    finally:
        ui.stop()
