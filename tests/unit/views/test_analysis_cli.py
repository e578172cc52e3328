"""``os-tracing trace critical-path|breakdown|diff`` and ``os-tracing deps`` run in-process
against a temporary store, read back through their JSON."""

from __future__ import annotations

import json
import re

import pytest

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore
from tracing_middleware.views import analysis, analysis_text, dot

from .conftest import run

BASE = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
MS = 1_000_000
HOUR = 3600 * 10**9
TA = "a1a1a1a1" + "0" * 23 + "1"
TB = "a1a1a1a1" + "0" * 23 + "2"  # shares TA's 8-digit prefix
OLD = "c3c3c3c3" + "0" * 24
RPC = {"rpc.system": "oslo_messaging", "messaging.system": "rabbit"}


def _span(trace_id: str, sid: int, parent: int | None, name: str, service: str, kind: str,
          start: int, end: int, base: int = BASE, **kw) -> SpanRecord:
    return SpanRecord(trace_id, f"{sid:016x}", f"{parent:016x}" if parent else None, name,
                      service, kind, base + start * MS, (end - start) * MS, **kw)


def _get(trace_id: str, end: int) -> list[SpanRecord]:
    """GET /servers 0-end, its call 1-(end-1), compute's server 2-(end-2) failing, and a
    SELECT 3-5 under it (ms)."""
    return [
        _span(trace_id, 1, None, "GET /servers", "api", "server", 0, end),
        _span(trace_id, 2, 1, "compute/get", "api", "client", 1, end - 1, attributes=RPC),
        _span(trace_id, 3, 2, "compute/get", "compute", "server", 2, end - 2,
              status="error", attributes=RPC),
        _span(trace_id, 4, 3, "SELECT", "compute", "client", 3, 5,
              attributes={"db.system.name": "mysql"}),
    ]


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path}/analysis.db"
    store = SpanStore.from_url(url)
    store.write([*_get(TA, 10), *_get(TB, 20),
                 _span(OLD, 1, None, "GET /", "api", "server", 0, 6, base=BASE - 2 * HOUR),
                 _span(OLD, 2, 1, "GET /allocations", "api", "client", 1, 5,
                       base=BASE - 2 * HOUR, attributes={"http.request.method": "GET"}),
                 _span(OLD, 3, 2, "GET /allocations", "placement", "server", 2, 4,
                       base=BASE - 2 * HOUR)])
    store.close()
    return url


def _stored(url: str, trace_id: str):
    store = SpanStore.from_url(url)
    try:
        return store.get_trace(trace_id)
    finally:
        store.close()


def test_critical_path_json_root_first(url, capsys):
    """The path root first with exact contributions (ms): GET 2, call 2, server 4,
    SELECT 2; found by full id, as the analysis computes it."""
    assert run("trace", "critical-path", TA, "--store", url, "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["trace_id"] == TA and doc["duration_ns"] == 10 * MS
    assert [(s["span_id"], s["service"], s["name"], s["contribution_ns"])
            for s in doc["path"]] == [
        (f"{1:016x}", "api", "GET /servers", 2 * MS),
        (f"{2:016x}", "api", "compute/get", 2 * MS),
        (f"{3:016x}", "compute", "compute/get", 4 * MS),
        (f"{4:016x}", "compute", "SELECT", 2 * MS)]
    assert doc == analysis.critical_path(_stored(url, TA))


def test_critical_path_tree_is_indented_with_shares(url, capsys):
    """The human form: one line per span indented by depth, share of the latency, ERROR
    last on the failed span, the total at the end."""
    assert run("trace", "critical-path", "c3c3c3c3", "--store", url) == 0
    out = capsys.readouterr().out
    assert out == analysis_text.critical_path(
        analysis.critical_path(_stored(url, OLD))) + "\n"
    assert run("trace", "critical-path", TA, "--store", url) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SPAN", "DURATION", "ON", "PATH", "SHARE"]
    assert lines[1].startswith("GET /servers [api] server")
    assert lines[3].startswith("    compute/get [compute] server")
    assert lines[3].endswith("40.0%  ERROR") and lines[4].rstrip().endswith("20.0%")
    assert lines[-1] == f"critical path of {TA}: 10.000 ms, the root's duration"


def test_breakdown_json_and_table(url, capsys):
    """Self time by service and kind: api 4 (GET 2 + the call's 1 ms queue and 1 ms reply
    wait), compute 6 (server 4 + SELECT 2)."""
    assert run("trace", "breakdown", TA, "--store", url, "-f", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["trace_id"] == TA and doc["total_ns"] == 10 * MS
    assert doc["by_service"] == {"compute": 6 * MS, "api": 4 * MS}
    assert doc["by_kind"] == {"processing": 6 * MS, "queue_wait": MS, "reply_wait": MS,
                              "database": 2 * MS, "http_client": 0}
    assert run("trace", "breakdown", TA, "--store", url) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SERVICE", "SELF", "TIME", "SHARE"]
    assert lines[1].split() == ["compute", "6.000", "ms", "60.0%"]
    assert ["database", "2.000", "ms", "20.0%"] in [line.split() for line in lines]


def test_diff_json_table_and_min_change(url, capsys):
    """B is 10 ms slower in the GET, the call and the server; the server alone accounts
    for it on the critical path; --min-change hides smaller changes."""
    assert run("trace", "diff", TA, TB, "--store", url, "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["a"], doc["b"]) == (TA, TB)
    assert [(c["service"], c["name"], c["a_ns"], c["b_ns"]) for c in doc["changed"]] == [
        ("api", "GET /servers", 10 * MS, 20 * MS), ("api", "compute/get", 8 * MS, 18 * MS),
        ("compute", "compute/get", 6 * MS, 16 * MS)]
    assert doc["only_in_a"] == doc["only_in_b"] == []
    assert [(c["name"], c["service"], c["a_ns"], c["b_ns"])
            for c in doc["critical_path"]["changed"]] == [
        ("compute/get", "compute", 4 * MS, 14 * MS)]
    assert run("trace", "diff", TA, TB, "--store", url, "-f", "json",
               "--min-change", "15ms") == 0
    assert json.loads(capsys.readouterr().out)["changed"] == []
    assert run("trace", "diff", TA, TB, "--store", url) == 0
    out = capsys.readouterr().out
    assert out == analysis_text.diff(analysis.diff(_stored(url, TA), _stored(url, TB))) + "\n"
    assert "ON THE CRITICAL PATH" in out and "ONLY IN A: nothing" in out


def test_unknown_ambiguous_and_missing(url, tmp_path, capsys):
    """As trace show: an unknown id or an ambiguous prefix exits 1 naming the problem,
    for either trace of a diff; a store that does not exist is not created."""
    assert run("trace", "critical-path", "f" * 32, "--store", url) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "not found" in captured.err
    assert run("trace", "breakdown", "a1a1a1a1", "--store", url) == 1
    err = capsys.readouterr().err
    assert "ambiguous" in err and TA in err and TB in err
    assert run("trace", "diff", TA, "e" * 32, "--store", url) == 1
    assert f"trace {'e' * 32} not found" in capsys.readouterr().err
    absent = f"sqlite:///{tmp_path}/absent.db"
    assert run("trace", "diff", TA, TB, "--store", absent) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "absent.db").exists()


def test_analysis_format_is_checked(url, capsys):
    """An unknown --format is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as exc:
        run("trace", "breakdown", TA, "--store", url, "--format", "dot")
    assert exc.value.code == 2


def test_deps_json_over_a_window(url, capsys):
    """--since keeps the traces that started in the window: the two GETs' calls (8 and
    18 ms, p50 and p95 by nearest rank), not the older HTTP call; a failure inside the
    server is not the caller's error."""
    assert run("deps", "--store", url, "--since", "2023-11-14T22:13:20Z",
               "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == {"edges": [
        {"from": "api", "to": "compute", "protocol": "rpc_call", "calls": 2, "errors": 0,
         "p50_ns": 8 * MS, "p95_ns": 18 * MS}]}
    assert run("deps", "--store", url, "--since", "2023-11-14T20:00:00Z", "-f", "json") == 0
    assert [(e["from"], e["to"], e["protocol"])
            for e in json.loads(capsys.readouterr().out)["edges"]] == [
        ("api", "compute", "rpc_call"), ("api", "placement", "http")]


def test_deps_service_table_and_dot(url, capsys):
    """--service keeps edges touching it; the table and DOT show the same edges."""
    since = "2023-11-14T20:00:00Z"
    assert run("deps", "--store", url, "--since", since, "--service", "placement",
               "-f", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert [(e["from"], e["to"], e["calls"]) for e in report["edges"]] == [
        ("api", "placement", 1)]
    assert run("deps", "--store", url, "--since", since) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["FROM", "TO", "PROTOCOL", "CALLS", "ERRORS", "P50", "P95"]
    assert lines[1].split() == ["api", "compute", "rpc_call", "2", "0", "8.000", "ms",
                                "18.000", "ms"]
    assert run("deps", "--store", url, "--since", since, "-f", "dot") == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "os-tracing dependencies" {') and out.endswith("}\n")
    assert re.findall(r'^  "([^"]+)" -> "([^"]+)" \[label="(\w+)', out, re.M) == [
        ("api", "compute", "rpc_call"), ("api", "placement", "http")]


def test_deps_default_window_and_missing_store(url, tmp_path, capsys):
    """The default window is the last hour (these traces are older); a store that does
    not exist has no edges and is not created."""
    assert run("deps", "--store", url, "-f", "json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"edges": []} and "no dependencies" in captured.err
    absent = f"sqlite:///{tmp_path}/absent.db"
    assert run("deps", "--store", absent, "-f", "json") == 0
    assert json.loads(capsys.readouterr().out) == {"edges": []}
    assert not (tmp_path / "absent.db").exists()


def test_dependencies_dot_escapes_and_styles():
    """Service names are quoted and escaped; errors red, casts and notifications dashed."""
    report = {"edges": [
        {"from": 'a"b', "to": "c\\d", "protocol": "rpc_cast", "calls": 3, "errors": 1,
         "p50_ns": MS, "p95_ns": 2 * MS},
        {"from": "x", "to": "y", "protocol": "http", "calls": 1, "errors": 0,
         "p50_ns": MS, "p95_ns": MS}]}
    text = dot.render_dependencies(report)
    assert '  "a\\"b" -> "c\\\\d" [label="rpc_cast\\n3 calls, 1 errors\\np95 2.000 ms", ' \
           'color=red, style=dashed];' in text.splitlines()
    assert '  "x" -> "y" [label="http\\n1 calls, 0 errors\\np95 1.000 ms"];' in \
        text.splitlines()
