"""The dependency graph joined in SQL by the store equals the graph built from the spans
in Python, on the known-answer traces and on what a store holds that a trace never
should: invalid attribute JSON, a self-parent, a sender outside the window."""

from __future__ import annotations

import pytest

from tracing_middleware.cmd.deps import dependency_report
from tracing_middleware.export.store import SpanStore
from tracing_middleware.views import analysis

from .test_analysis import BASE, MS, NOTIFY, RPC, boot, span


def _traces() -> list:
    spans = list(boot().spans)
    for i in range(1, 21):  # HTTP calls of 1..20 ms, two failing on the client
        trace_id = f"{i:032x}"
        spans += [
            span("1", None, "GET /", "api", "server", 0, 30, trace_id=trace_id),
            span("2", "1", "GET /allocations", "api", "client", 1, 1 + i, trace_id=trace_id,
                 status="error" if i in (3, 7) else "unset", **{"http.method": "GET"}),
            span("3", "2", "GET /allocations", "placement", "server", 1, 1 + i,
                 trace_id=trace_id)]
    fan = "f" * 32  # a fanout cast, a notification, a self-edge, a self-parent
    spans += [
        span("1", None, "periodic", "scheduler", "internal", 0, 10, trace_id=fan),
        span("2", "1", "compute/sync", "scheduler", "producer", 1, 2, trace_id=fan, **RPC),
        span("3", "2", "compute/sync", "compute", "consumer", 3, 5, trace_id=fan, **RPC),
        span("4", "2", "compute/sync", "compute", "consumer", 3, 6, trace_id=fan, **RPC),
        span("5", "1", "send", "scheduler", "producer", 7, 8, trace_id=fan, **NOTIFY),
        span("6", "5", "process", "listener", "consumer", 9, 12, trace_id=fan, **NOTIFY),
        span("7", "3", "compute/ping", "compute", "client", 3, 4, trace_id=fan, **RPC),
        span("8", "7", "compute/ping", "compute", "server", 3, 4, trace_id=fan, **RPC),
        span("9", "9", "loop", "compute", "server", 4, 5, trace_id=fan),
    ]
    return spans


@pytest.fixture
def store(tmp_path):
    s = SpanStore(str(tmp_path / "deps.db"))
    s.write(_traces())
    yield s
    s.close()


@pytest.mark.parametrize("service", [None, "api", "compute", "listener", "nobody"])
def test_sql_and_python_paths_agree(store, service):
    spans = _traces()
    expected = analysis.dependencies(spans, service=service)
    assert dependency_report(store, BASE - 10**9, service) == expected
    if service is None:
        assert {(e["from"], e["to"], e["protocol"]) for e in expected["edges"]} == {
            ("api", "conductor", "rpc_call"), ("api", "listener", "notification"),
            ("conductor", "compute", "rpc_cast"), ("api", "placement", "http"),
            ("scheduler", "compute", "rpc_cast"), ("scheduler", "listener", "notification"),
            ("compute", "compute", "rpc_call")}


def test_the_window_keeps_traces_started_in_it(store, tmp_path):
    late = "e" * 32
    store.write([span("1", None, "GET /", "api", "server", 10_000, 10_030, trace_id=late),
                 span("2", "1", "GET /x", "api", "client", 10_001, 10_005, trace_id=late,
                      **{"http.request.method": "GET"}),
                 span("3", "2", "GET /x", "glance", "server", 10_002, 10_004,
                      trace_id=late)])
    (edge,) = dependency_report(store, BASE + 9_000 * MS)["edges"]
    assert (edge["from"], edge["to"], edge["calls"], edge["p50_ns"]) == (
        "api", "glance", 1, 4 * MS)


def test_a_sender_with_unreadable_attributes_makes_no_edge(tmp_path):
    """Attributes written by something else that are not JSON: no edge, no error."""
    store = SpanStore(str(tmp_path / "bad.db"))
    store.write([span("1", None, "GET /", "api", "server", 0, 10),
                 span("2", "1", "call", "api", "client", 1, 5, **RPC),
                 span("3", "2", "call", "conductor", "server", 2, 4, **RPC)])
    store._rows("UPDATE spans SET attributes = '{not json' WHERE name = 'call' "
                "AND kind = 'client'")
    assert dependency_report(store, 0) == {"edges": []}
    store.close()


def test_pairs_carry_only_the_named_attributes(store):
    pairs = store.sender_receiver_pairs(("rpc.system",), None, "listener")
    assert sorted(receiver for _, receiver in pairs) == ["listener", "listener"]
    assert all(dict(sender.attributes) == {} for sender, _ in pairs)  # notifications
    pairs = store.sender_receiver_pairs(("rpc.system", "http.method"), None, "conductor")
    assert sorted((s.service, s.kind, r, dict(s.attributes)) for s, r in pairs) == [
        ("api", "client", "conductor", {"rpc.system": "oslo_messaging"}),
        ("conductor", "producer", "compute", {"rpc.system": "oslo_messaging"})]
