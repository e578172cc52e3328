"""Jaeger and Tempo read through the embedded store's methods, the commands and the UI,
against their documented answers (``data/README.rst``) served by a real HTTP server."""

from __future__ import annotations

import datetime
import http.server
import json
import pathlib
import threading
import urllib.parse
import urllib.request

import pytest

from tracing_middleware.cmd.serve import UIServer
from tracing_middleware.export.store import StoreError
from tracing_middleware.views import analysis
from tracing_middleware.views.remote_store import JaegerStore, TempoStore, open_store

from .conftest import run
from .test_analysis import BASE, T, boot

DATA = pathlib.Path(__file__).parent / "data"
REQ = "req-11111111-2222-4333-8444-555555555555"
SECOND = "0af7651916cd43dd8448eb211c80319c"


class Remote:
    """A stand-in for Jaeger's or Tempo's HTTP API: recorded bodies by path, and every
    request it got (path and query)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes]] = {}
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        remote = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                remote.requests.append((parsed.path, urllib.parse.parse_qs(parsed.query)))
                status, body = remote.routes.get(parsed.path, (404, b'{"error": {}}'))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, scheme: str) -> str:
        return f"{scheme}+http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, path: str, name: str | bytes, status: int = 200) -> None:
        body = name if isinstance(name, bytes) else (DATA / name).read_bytes()
        self.routes[path] = (status, body)

    def asked(self, path: str) -> list[dict[str, list[str]]]:
        return [query for got, query in self.requests if got == path]


@pytest.fixture
def remote():
    r = Remote()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def jaeger(remote):
    remote.serve(f"/api/v3/traces/{T}", "jaeger/trace.json")
    remote.serve("/api/v3/traces", "jaeger/search.json")
    remote.serve("/api/v3/services", "jaeger/services.json")
    remote.serve(f"/api/v3/traces/{'f' * 32}", "jaeger/not_found.json", 404)
    return remote


@pytest.fixture
def tempo(remote):
    remote.serve(f"/api/traces/{T}", "tempo/trace.json")
    remote.serve("/api/search", "tempo/search.json")
    return remote


# -- reading a trace ------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["jaeger", "tempo"])
def test_a_trace_reads_as_the_embedded_store_would_hold_it(jaeger, tempo, scheme):
    """Same spans, ids, kinds, timings, statuses and attributes as the known-answer trace,
    so every analysis gives the same answer as on the embedded store."""
    store = open_store(jaeger.url(scheme))
    trace = store.get_trace(T)
    expected = boot()
    assert sorted((s.span_id, s.parent_span_id, s.name, s.service, s.kind,
                   s.start_time_unix_nano, s.duration_ns, s.status) for s in trace.spans) \
        == sorted((s.span_id, s.parent_span_id, s.name, s.service, s.kind,
                   s.start_time_unix_nano, s.duration_ns, s.status) for s in expected.spans)
    assert analysis.critical_path(trace) == analysis.critical_path(expected)
    assert analysis.breakdown(trace) == analysis.breakdown(expected)
    assert store.get_trace("f" * 32) is None  # Jaeger's 404, Tempo's unknown path
    assert store.get_trace(T[:12]) is None and store.find_trace_ids(T[:12]) == []
    assert store.get_trace(f"{T[:8]}-{T[8:12]}-{T[12:16]}-{T[16:20]}-{T[20:]}") is not None


def test_tempo_v2_trace_answer_is_read_too(tempo):
    tempo.serve(f"/api/traces/{T}", "tempo/trace_v2.json")
    assert len(TempoStore(tempo.url("tempo")).get_trace(T).spans) == len(boot().spans)


# -- searching ------------------------------------------------------------------------

def test_jaeger_search_sends_the_documented_parameters(jaeger):
    store = JaegerStore(jaeger.url("jaeger"))
    found = store.find_traces(service="api", operation="POST /servers", since_ns=BASE - 10**9,
                              min_duration_ns=5_000_000, limit=7)
    assert [s.trace_id for s in found] == [T, SECOND] or [s.trace_id for s in found] == [
        SECOND, T]
    (query,) = jaeger.asked("/api/v3/traces")
    assert query["query.service_name"] == ["api"]
    assert query["query.operation_name"] == ["POST /servers"]
    assert query["query.duration_min"] == ["5000000ns"]
    assert query["query.search_depth"] == ["7"]
    start = datetime.datetime.fromisoformat(query["query.start_time_min"][0].replace(
        "Z", "+00:00"))
    assert int(start.timestamp()) == (BASE - 10**9) // 10**9
    boot_summary = next(s for s in found if s.trace_id == T)
    assert (boot_summary.root_name, boot_summary.root_service, boot_summary.span_count,
            boot_summary.error) == ("POST /servers", "api", len(boot().spans), True)
    assert boot_summary.duration_ns == 130 * 10**6  # the compute consumer ends at 130


def test_jaeger_request_id_asks_each_service_for_both_attributes(jaeger):
    """Jaeger needs a service: without one every service of /api/v3/services is asked,
    once per request id attribute; only traces holding the id are kept."""
    found = JaegerStore(jaeger.url("jaeger")).find_traces(request_id=REQ)
    assert [s.trace_id for s in found] == [T]  # the second trace's spans lack the id
    asked = jaeger.asked("/api/v3/traces")
    assert sorted(q["query.service_name"][0] for q in asked) == sorted(
        ["api", "api", "compute", "compute", "conductor", "conductor"])
    assert {q["query.attributes"][0] for q in asked} == {
        json.dumps({"openstack.request_id": REQ}),
        json.dumps({"openstack.global_request_id": REQ})}


def test_tempo_search_is_one_traceql_query(tempo):
    store = TempoStore(tempo.url("tempo"))
    found = store.find_traces(request_id=REQ, service="api", errors=True,
                              attribute=("http.request.method", "POST"),
                              min_duration_ns=1_000_000, since_ns=BASE - 10**9, limit=5)
    assert [s.trace_id for s in found] == [T] and found[0].span_count == len(boot().spans)
    (query,) = tempo.asked("/api/search")
    assert query["q"] == [
        '{ (span."openstack.request_id" = "req-11111111-2222-4333-8444-555555555555" || '
        'span."openstack.global_request_id" = "req-11111111-2222-4333-8444-555555555555") '
        '&& resource.service.name = "api" && span."http.request.method" = "POST" && '
        'status = error && traceDuration >= 1000000ns }']
    assert query["limit"] == ["5"] and query["start"] == [str((BASE - 10**9) // 10**9)]
    store.find_traces(operation='x" || true')  # a quote cannot end the string
    assert tempo.asked("/api/search")[-1]["q"] == ['{ name = "x\\" || true" }']


# -- what goes wrong --------------------------------------------------------------------

@pytest.mark.parametrize("status, body, message", [
    (500, b'{"error": {"httpCode": 500, "message": "storage down"}}', "HTTP 500"),
    (200, b"<html><body>proxy login</body></html>", "not JSON"),
    (200, b'{"result": {"resourceSpans": [', "not JSON"),
    (200, b'{"result": {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 7}]}]}]}}',
     "bad traceId"),
])
def test_a_bad_answer_is_one_clear_error(jaeger, status, body, message):
    jaeger.serve(f"/api/v3/traces/{T}", body, status)
    with pytest.raises(StoreError, match=message) as err:
        JaegerStore(jaeger.url("jaeger")).get_trace(T)
    assert "\n" not in str(err.value)


def test_an_unreachable_store_and_bad_urls():
    with pytest.raises(StoreError, match="cannot reach"):
        JaegerStore("jaeger+http://127.0.0.1:9", timeout_s=2).get_trace(T)
    for url in ("jaeger+ftp://x", "tempo+http://", "zipkin+http://x:9411"):
        with pytest.raises(ValueError):
            open_store(url)


# -- the commands and the UI over a remote store ------------------------------------------

def test_commands_read_jaeger_and_tempo(jaeger, tempo, capsys):
    assert run("trace", "show", T, "--store", jaeger.url("jaeger")) == 0
    assert "conductor/build [conductor] server" in capsys.readouterr().out
    assert run("trace", "critical-path", T, "--store", tempo.url("tempo"), "--format",
               "json") == 0
    assert json.loads(capsys.readouterr().out) == analysis.critical_path(boot())
    assert run("trace", "find", "--request-id", REQ, "--store", tempo.url("tempo"),
               "--format", "json") == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)] == [T]
    assert run("deps", "--store", jaeger.url("jaeger"), "--since", "2000-01-01T00:00:00",
               "--service", "api", "--format", "json") == 0
    edges = json.loads(capsys.readouterr().out)["edges"]
    assert {(e["from"], e["to"], e["protocol"]) for e in edges} == {
        ("api", "conductor", "rpc_call"), ("api", "listener", "notification")}


def test_commands_say_what_went_wrong_in_one_line(jaeger, capsys, tmp_path):
    jaeger.serve(f"/api/v3/traces/{T}", b"<html>", 200)
    assert run("trace", "show", T, "--store", jaeger.url("jaeger")) == 1
    err = capsys.readouterr().err
    assert "not JSON" in err and "Traceback" not in err and err.count("\n") == 1
    otlp = tmp_path / "trace.json"
    otlp.write_text(json.dumps(json.loads((DATA / "jaeger" / "trace.json").read_text())[
        "result"]))
    assert run("trace", "import", str(otlp), "--store", jaeger.url("jaeger")) == 1
    assert "embedded store only" in capsys.readouterr().err


def test_the_web_ui_reads_a_remote_store(jaeger):
    ui = UIServer(jaeger.url("jaeger"), "127.0.0.1", 0).start()
    try:
        with urllib.request.urlopen(f"{ui.url}/api/traces/{T}", timeout=10) as reply:
            assert len(json.loads(reply.read())["spans"]) == len(boot().spans)
        with urllib.request.urlopen(f"{ui.url}/search?service=api", timeout=10) as reply:
            assert T in reply.read().decode()
    finally:
        ui.stop()
