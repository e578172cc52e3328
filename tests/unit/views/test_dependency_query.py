"""The dependency graph joined in SQL by the store equals the graph built from the spans
in Python, on the known-answer traces and on what a store holds that a trace never
should: invalid attribute JSON, a self-parent, a sender outside the window, a receiver
whose sender is not stored or is in another trace, attribute values that are empty
lists or mappings, a time that is not a number."""

from __future__ import annotations

import pytest

from tracing_middleware.cmd.deps import dependency_report
from tracing_middleware.export.store import SpanStore
from tracing_middleware.views import analysis

from .test_analysis import BASE, HTTP, MS, NOTIFY, RPC, boot, span


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


class _SpanPath:
    """The same store seen as a store that cannot join (as Jaeger or Tempo are): only
    ``list_traces`` and ``get_trace``, so ``dependency_report`` takes the span path."""

    def __init__(self, store: SpanStore) -> None:
        self.list_traces = store.list_traces
        self.get_trace = store.get_trace


def _edge_cases() -> list:
    """What a store holds beside well-formed traces, each with its expected effect."""
    early, other, odd = _EARLY, _OTHER, _ODD
    return [
        # A trace that started before the windows below, its sender and receiver
        # inside them: the window is by trace start, so no edge on either path.
        span("1", None, "GET /", "api", "server", 1_000, 5_000, trace_id=early),
        span("2", "1", "conductor/get", "api", "client", 4_000, 4_010, trace_id=early,
             **RPC),
        span("3", "2", "conductor/get", "conductor", "server", 4_001, 4_009,
             trace_id=early, **RPC),
        # A receiver whose parent id is a sender's in other traces only: no edge.
        span("1", None, "GET /", "api", "server", 4_000, 4_100, trace_id=other),
        span("3", "2", "compute/x", "compute", "consumer", 4_001, 4_002, trace_id=other,
             **RPC),
        # Attribute values Python finds false although present (an empty list, an empty
        # mapping, false) or true (a non-empty list): SQL must read them the same.
        span("1", None, "tick", "beat", "internal", 4_000, 4_100, trace_id=odd),
        span("2", "1", "a", "beat", "client", 4_001, 4_005, trace_id=odd,
             **{"rpc.system": [], "http.method": {}}),
        span("3", "2", "a", "sink", "server", 4_002, 4_004, trace_id=odd),
        span("4", "1", "b", "beat", "client", 4_010, 4_014, trace_id=odd,
             **{"rpc.system": False, "http.method": ["GET"]}),
        span("5", "4", "b", "sink", "server", 4_011, 4_013, trace_id=odd),
        # A CONSUMER under a CLIENT counts; a CLIENT under a CLIENT, a SERVER under a
        # SERVER and anything under an INTERNAL sender with RPC attributes do not.
        span("6", "1", "c", "beat", "client", 4_020, 4_030, trace_id=odd, status="error",
             **RPC),
        span("7", "6", "c", "sink", "consumer", 4_021, 4_022, trace_id=odd),
        span("8", "6", "c", "sink", "client", 4_021, 4_022, trace_id=odd, **RPC),
        span("9", "1", "d", "beat", "internal", 4_040, 4_050, trace_id=odd, **RPC),
        span("a", "9", "d", "sink", "server", 4_041, 4_049, trace_id=odd),
        span("b", "3", "e", "sink", "server", 4_003, 4_004, trace_id=odd),
    ]


@pytest.fixture
def full_store(store):
    store.write(_edge_cases())
    return store


#: Window starts (ms after BASE) and the traces that started in each.
_EARLY, _OTHER, _ODD = "c" * 32, "d" * 32, "b" * 32
_WINDOWS = {-1_000: None, 0: None, 1: {_EARLY, _OTHER, _ODD}, 2_000: {_OTHER, _ODD},
            1_000_000: set()}


@pytest.mark.parametrize("since_ms", sorted(_WINDOWS))
@pytest.mark.parametrize("service", [None, "api", "compute", "sink", "beat", "placement"])
def test_the_join_and_the_span_path_agree_through_the_store(full_store, since_ms, service):
    """Every window (by trace start) and service filter: the report joined in SQL is the
    one built from the whole traces the store hands over, and the one built from the
    spans of the traces that started in the window."""
    since_ns = BASE + since_ms * MS
    joined = dependency_report(full_store, since_ns, service)
    assert joined == dependency_report(_SpanPath(full_store), since_ns, service)
    kept = _WINDOWS[since_ms]
    spans = [s for s in _traces() + _edge_cases() if kept is None or s.trace_id in kept]
    assert joined == analysis.dependencies(spans, service=service)


def test_the_edge_cases_make_exactly_their_edges(full_store):
    edges = {(e["from"], e["to"], e["protocol"]): (e["calls"], e["errors"])
             for e in dependency_report(full_store, BASE + 2_000 * MS)["edges"]}
    assert edges == {("beat", "sink", "http"): (1, 0), ("beat", "sink", "rpc_call"): (1, 1)}
    pairs = full_store.sender_receiver_pairs(analysis.DEPENDENCY_ATTRIBUTES,
                                             BASE + 2_000 * MS, "beat")
    attributes = sorted((s.name, sorted(s.attributes.items())) for s, _ in pairs)
    assert attributes == [("a", [("http.method", {}), ("rpc.system", [])]),
                          ("b", [("http.method", ["GET"]), ("rpc.system", False)]),
                          ("c", [("messaging.system", "rabbit"),
                                 ("rpc.system", "oslo_messaging")])]


def test_a_sender_with_a_time_that_is_not_a_number_costs_a_log_line(tmp_path, caplog):
    store = SpanStore(str(tmp_path / "odd.db"))
    store.write([span("1", None, "GET /", "api", "server", 0, 10),
                 span("2", "1", "call", "api", "client", 1, 5, **RPC),
                 span("3", "2", "call", "conductor", "server", 2, 4, **RPC),
                 span("4", "1", "get", "api", "client", 6, 9, **HTTP),
                 span("5", "4", "get", "glance", "server", 7, 8)])
    store._rows("UPDATE spans SET duration_ns = 'soon' WHERE name = 'call' "
                "AND kind = 'client'")
    with caplog.at_level("WARNING", logger="tracing_middleware.export.store"):
        report = dependency_report(store, 0)
    assert [(e["from"], e["to"], e["p50_ns"]) for e in report["edges"]] == [
        ("api", "glance", 3 * MS)]
    assert "1 sending spans without integer times" in caplog.text
    store.close()
