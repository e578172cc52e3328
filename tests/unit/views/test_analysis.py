"""Critical path, breakdown, diff and dependencies on traces with exactly known timings.

Times are whole milliseconds from one base, so every expected number below can be
checked by hand against the drawings.
"""

from __future__ import annotations

from typing import Any

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import Trace
from tracing_middleware.views import analysis

BASE = 1_700_000_000_000_000_000
MS = 1_000_000
T = "4bf92f3577b34da6a3ce929d0e0e4736"

RPC = {"rpc.system": "oslo_messaging", "messaging.system": "rabbit"}
NOTIFY = {"messaging.system": "rabbit"}
DB = {"db.system.name": "mysql"}
HTTP = {"http.request.method": "GET"}


def span(sid: str, parent: str | None, name: str, service: str, kind: str, start: int,
         end: int, trace_id: str = T, status: str = "unset", **attributes: Any
         ) -> SpanRecord:
    """A span from ``start`` to ``end`` ms after BASE; ids are padded to 16 digits."""
    return SpanRecord(trace_id, sid.rjust(16, "0"),
                      parent.rjust(16, "0") if parent else None, name, service, kind,
                      BASE + start * MS, (end - start) * MS, status=status,
                      attributes=attributes)


def boot() -> Trace:
    """A server boot, in ms::

        R  api        server    POST /servers      0-100
        Q  api        client    SELECT (db)        5-15
        C  api        client    conductor/build   20-70   RPC call
        S  conductor  server    conductor/build   25-60     queue 5, reply wait 10
        G  conductor  client    GET /v2/images    30-40     HTTP, glance not traced
        K  conductor  producer  compute/build     45-47     RPC cast
        W  compute    consumer  compute/build     50-130      outlives R by 30
        E  compute    internal  spawn             60-120      ERROR
        H1 api        internal  quota             72-90   concurrent with H2
        H2 api        internal  policy            75-95
        N  api        producer  send notif.       96-98   notification
        X  listener   consumer  process notif.    99-102
        O  placement  server    GET /allocations  80-85   parent never stored
    """
    return Trace(T, [
        span("a", None, "POST /servers", "api", "server", 0, 100,
             **{"http.request.method": "POST"}),
        span("b", "a", "SELECT mysql", "api", "client", 5, 15, **DB),
        span("c", "a", "conductor/build", "api", "client", 20, 70, **RPC),
        span("d", "c", "conductor/build", "conductor", "server", 25, 60, **RPC),
        span("e", "d", "GET /v2/images", "conductor", "client", 30, 40, **HTTP),
        span("f", "d", "compute/build", "conductor", "producer", 45, 47, **RPC),
        span("10", "f", "compute/build", "compute", "consumer", 50, 130, **RPC),
        span("11", "10", "spawn", "compute", "internal", 60, 120, status="error"),
        span("12", "a", "quota", "api", "internal", 72, 90),
        span("13", "a", "policy", "api", "internal", 75, 95),
        span("14", "a", "send notifications.info", "api", "producer", 96, 98, **NOTIFY),
        span("15", "14", "process compute.instance.create", "listener", "consumer",
             99, 102, **NOTIFY),
        span("16", "ff", "GET /allocations", "placement", "server", 80, 85),
    ])


def contributions(trace: Trace) -> list[tuple[str, int, int]]:
    """(span id without padding, depth, contribution in ms) along the path."""
    return [(step["span_id"].lstrip("0"), step["depth"], step["contribution_ns"] // MS)
            for step in analysis.critical_path(trace)["path"]]


# -- critical path ----------------------------------------------------------------------

def test_critical_path_walks_back_through_last_finishing_children():
    """Root first, depth first; the notification's consumer, the cast's consumer that
    outlives the root and the concurrent child that finished earlier are not on it."""
    assert contributions(boot()) == [
        ("a", 0, 18),  # 0-5, 15-20, 70-75, 95-96, 98-100
        ("b", 1, 10),
        ("c", 1, 15),  # 20-25 sending, 60-70 waiting for the reply
        ("d", 2, 23),  # 25-30, 40-45, 47-60
        ("e", 3, 10),
        ("f", 3, 2),
        ("13", 1, 20),  # policy ends last (95); quota (72-90) is hidden behind it
        ("14", 1, 2),
    ]


def test_critical_path_adds_up_to_the_root_and_reports_the_tail():
    """Contributions sum to the root's duration; the work after it is after_root_ns."""
    result = analysis.critical_path(boot())
    assert result["trace_id"] == T and result["root_span_id"] == "a".rjust(16, "0")
    assert result["duration_ns"] == 100 * MS
    assert sum(step["contribution_ns"] for step in result["path"]) == 100 * MS
    assert result["after_root_ns"] == 30 * MS  # the compute consumer ends at 130
    first = result["path"][0]
    assert first == {"span_id": "a".rjust(16, "0"), "parent_span_id": None,
                     "service": "api", "name": "POST /servers", "kind": "server",
                     "status": "unset", "depth": 0, "orphan": False,
                     "duration_ns": 100 * MS, "contribution_ns": 18 * MS}


def test_critical_path_through_an_orphan():
    """An orphan is adopted by the root: finishing last, it is on the path."""
    trace = Trace(T, [
        span("a", None, "GET /", "api", "server", 0, 50),
        span("b", "a", "work", "api", "internal", 5, 20),
        span("c", "9", "GET /allocations", "placement", "server", 25, 45),
    ])
    assert contributions(trace) == [("a", 0, 15), ("b", 1, 15), ("c", 1, 20)]
    orphan = analysis.critical_path(trace)["path"][2]
    assert orphan["orphan"] is True and orphan["parent_span_id"] == "9".rjust(16, "0")


def test_critical_path_prefers_a_parentless_root_to_an_earlier_orphan():
    """The root has no parent even when an orphan started first; the orphan is clipped
    to the root's interval."""
    trace = Trace(T, [
        span("b", "9", "early", "glance", "server", 0, 40),
        span("a", None, "GET /", "api", "server", 10, 50),
    ])
    result = analysis.critical_path(trace)
    assert result["root_span_id"] == "a".rjust(16, "0")
    assert contributions(trace) == [("a", 0, 10), ("b", 1, 30)]


def test_critical_path_clips_a_child_that_starts_before_its_parent():
    """Clock skew: a server starting 5 ms before its client counts from the client's
    start; a child wholly outside its parent is left out."""
    trace = Trace(T, [
        span("a", None, "GET /", "api", "server", 100, 200),
        span("b", "a", "compute/get", "api", "client", 110, 190, **RPC),
        span("c", "b", "compute/get", "compute", "server", 105, 185, **RPC),
        span("d", "a", "skewed away", "api", "internal", 300, 310),
    ])
    assert contributions(trace) == [("a", 0, 20), ("b", 1, 5), ("c", 2, 75)]


def test_critical_path_back_to_back_children_are_both_on_it():
    """A child ending exactly when the next starts is on the path (``<=``)."""
    trace = Trace(T, [
        span("a", None, "GET /", "api", "server", 0, 30),
        span("b", "a", "one", "api", "internal", 0, 10),
        span("c", "a", "two", "api", "internal", 10, 30),
    ])
    assert contributions(trace) == [("a", 0, 0), ("b", 1, 10), ("c", 1, 20)]


def test_critical_path_leaves_out_a_consumer_overlapping_its_producer():
    """A cast's consumer starting while the producer still sends is not waited for: the
    producer's whole time is its own on the path."""
    trace = Trace(T, [
        span("a", None, "GET /", "api", "server", 0, 20),
        span("b", "a", "compute/build", "api", "producer", 5, 15, **RPC),
        span("c", "b", "compute/build", "compute", "consumer", 8, 40, **RPC),
    ])
    assert contributions(trace) == [("a", 0, 10), ("b", 1, 10)]
    assert analysis.critical_path(trace)["after_root_ns"] == 20 * MS


def test_critical_path_marks_an_error_on_it():
    """A failed span on the path carries its status."""
    trace = Trace(T, [
        span("a", None, "GET /", "api", "server", 0, 10),
        span("b", "a", "compute/get", "api", "client", 1, 9, status="error", **RPC),
    ])
    assert [s["status"] for s in analysis.critical_path(trace)["path"]] == ["unset",
                                                                             "error"]


def test_critical_path_of_a_deep_chain_does_not_recurse():
    """A 5000-deep chain: each span adds 1 ms at the end of its parent."""
    spans = [span("1", None, "0", "svc", "server", 0, 5000)]
    spans += [span(f"{i + 1:x}", f"{i:x}", str(i), "svc", "internal", i, 5000)
              for i in range(1, 5000)]
    path = analysis.critical_path(Trace(T, spans))["path"]
    assert len(path) == 5000 and path[-1]["depth"] == 4999
    assert {s["contribution_ns"] for s in path} == {MS}


def test_critical_path_survives_a_parent_cycle_and_duplicates():
    """Spans only reachable through a cycle are not on the path; a duplicate counts once."""
    root = span("a", None, "GET /", "api", "server", 0, 10)
    trace = Trace(T, [root, root, span("b", "c", "x", "api", "internal", 2, 4),
                      span("c", "b", "y", "api", "internal", 3, 5)])
    assert contributions(trace) == [("a", 0, 10)]
    assert analysis.critical_path(Trace(T, []))["path"] == []


# -- breakdown --------------------------------------------------------------------------

def test_breakdown_by_service_is_self_time():
    """Self time per service, the children's union removed (ms):

    api 80 = POST 15 (100 - 85 covered) + SELECT 10 + call 15 + quota 18 + policy 20 +
    notification 2; conductor 35 = server 23 + GET 10 + cast 2; compute 80 = consumer
    20 + spawn 60; listener 3; placement 5 (the orphan, in full).
    """
    result = analysis.breakdown(boot())
    assert result["by_service"] == {"api": 80 * MS, "compute": 80 * MS,
                                    "conductor": 35 * MS, "placement": 5 * MS,
                                    "listener": 3 * MS}
    assert list(result["by_service"]) == ["api", "compute", "conductor", "placement",
                                          "listener"]  # largest first
    assert result["total_ns"] == 203 * MS == sum(result["by_service"].values())
    assert result["duration_ns"] == 100 * MS and result["span_count"] == 13


def test_breakdown_by_kind():
    """queue_wait 13 = conductor 25-20 + compute 50-45 + listener 99-96; reply_wait 10 =
    70-60; database and http_client their spans; processing 164 the rest; the 4 ms the
    cast and the notification sat in the queue after their producers ended are outside
    any self time."""
    result = analysis.breakdown(boot())
    assert result["by_kind"] == {"processing": 164 * MS, "queue_wait": 13 * MS,
                                 "reply_wait": 10 * MS, "database": 10 * MS,
                                 "http_client": 10 * MS}
    assert list(result["by_kind"]) == list(analysis.TIME_KINDS)
    assert result["wait_outside_self_ns"] == 4 * MS
    assert sum(result["by_kind"].values()) == result["total_ns"] + 4 * MS


def test_breakdown_of_a_synchronous_call_adds_up_exactly():
    """A call's own time is its queue and reply waits: by_kind sums to total_ns."""
    trace = Trace(T, [
        span("a", None, "GET /", "api", "server", 0, 100),
        span("b", "a", "compute/get", "api", "client", 10, 90, **RPC),
        span("c", "b", "compute/get", "compute", "server", 30, 80, **RPC),
        span("d", "c", "SELECT", "compute", "client", 40, 50, **{"db.system": "mysql"}),
    ])
    result = analysis.breakdown(trace)
    assert result["by_kind"] == {"processing": 60 * MS, "queue_wait": 20 * MS,
                                 "reply_wait": 10 * MS, "database": 10 * MS,
                                 "http_client": 0}
    assert result["wait_outside_self_ns"] == 0
    assert sum(result["by_kind"].values()) == result["total_ns"] == 100 * MS


def test_breakdown_clock_skew_and_traced_http():
    """A server starting before its client waits 0, not a negative time; a traced HTTP
    server leaves the client only what it does not cover; an untraced call is the
    caller's processing."""
    trace = Trace(T, [
        span("a", None, "GET /", "api", "server", 100, 200),
        span("b", "a", "compute/get", "api", "client", 110, 150, **RPC),
        span("c", "b", "compute/get", "compute", "server", 105, 140, **RPC),
        span("d", "a", "GET /allocations", "api", "client", 150, 180, **HTTP),
        span("e", "d", "GET /allocations", "placement", "server", 152, 178),
        span("f", "a", "scheduler/select", "api", "client", 180, 190, **RPC),
    ])
    result = analysis.breakdown(trace)
    assert result["by_kind"]["queue_wait"] == 0
    assert result["by_kind"]["reply_wait"] == 10 * MS
    assert result["by_kind"]["http_client"] == 4 * MS
    # api server 20 (100-110, 190-200) + the untraced call 10 + compute 35 + placement 26
    assert result["by_kind"]["processing"] == 91 * MS
    assert result["by_service"] == {"api": 44 * MS, "compute": 35 * MS,
                                    "placement": 26 * MS}


def test_breakdown_queue_wait_needs_another_service():
    """A call from compute to compute has a reply wait but no queue wait; its sending
    time stays the caller's processing."""
    trace = Trace(T, [
        span("a", None, "migrate", "compute", "server", 0, 50),
        span("b", "a", "compute/check", "compute", "client", 10, 40, **RPC),
        span("c", "b", "compute/check", "compute", "server", 15, 35, **RPC),
    ])
    result = analysis.breakdown(trace)
    assert result["by_kind"]["queue_wait"] == 0
    assert result["by_kind"]["reply_wait"] == 5 * MS
    assert result["by_kind"]["processing"] == 45 * MS  # 20 + 20 + the 5 ms sending
    assert result["wait_outside_self_ns"] == 0


def test_self_time_clips_children():
    """Overlapping children count once; parts outside the span count not at all."""
    parent = span("a", None, "p", "svc", "server", 10, 20)
    kids = [span("b", "a", "x", "svc", "internal", 5, 12),
            span("c", "a", "y", "svc", "internal", 11, 14),
            span("d", "a", "z", "svc", "internal", 18, 30)]
    assert analysis.self_time_ns(parent, kids) == 4 * MS  # 14-18


# -- diff -------------------------------------------------------------------------------

def _diff_pair() -> tuple[Trace, Trace]:
    """B's second SELECT is 20 ms slower, its call 10 ms; A has a third SELECT, B an
    image GET::

        A  POST 0-100: SELECT 10-20, SELECT 30-40, call 50-90 (server 55-85), SELECT 92-95
        B  POST 0-120: SELECT 10-20, SELECT 30-60, GET 62-64, call 65-115 (server 70-110)
    """
    ta, tb = "a" * 32, "b" * 32
    a = Trace(ta, [
        span("1", None, "POST /servers", "api", "server", 0, 100, trace_id=ta),
        span("2", "1", "SELECT", "api", "client", 10, 20, trace_id=ta, **DB),
        span("3", "1", "SELECT", "api", "client", 30, 40, trace_id=ta, **DB),
        span("4", "1", "compute/get", "api", "client", 50, 90, trace_id=ta, **RPC),
        span("5", "4", "compute/get", "compute", "server", 55, 85, trace_id=ta, **RPC),
        span("6", "1", "SELECT", "api", "client", 92, 95, trace_id=ta, **DB),
    ])
    b = Trace(tb, [
        span("1", None, "POST /servers", "api", "server", 0, 120, trace_id=tb),
        span("2", "1", "SELECT", "api", "client", 10, 20, trace_id=tb, **DB),
        span("3", "1", "SELECT", "api", "client", 30, 60, trace_id=tb, **DB),
        span("7", "1", "GET /v2/images", "api", "client", 62, 64, trace_id=tb, **HTTP),
        span("4", "1", "compute/get", "api", "client", 65, 115, trace_id=tb, **RPC),
        span("5", "4", "compute/get", "compute", "server", 70, 110, trace_id=tb, **RPC),
    ])
    return a, b


ROOT = ["api", "POST /servers", 0]


def test_diff_matches_by_path_and_position():
    """Changed spans largest change first; the nth SELECT matches the nth."""
    a, b = _diff_pair()
    result = analysis.diff(a, b)
    assert result["a"] == "a" * 32 and result["b"] == "b" * 32
    assert [(c["name"], c["path"], c["a_ns"] // MS, c["b_ns"] // MS, c["delta_ns"] // MS)
            for c in result["changed"]] == [
        ("POST /servers", [ROOT], 100, 120, 20),
        ("SELECT", [ROOT, ["api", "SELECT", 1]], 10, 30, 20),
        ("compute/get", [ROOT, ["api", "compute/get", 0]], 40, 50, 10),
        ("compute/get", [ROOT, ["api", "compute/get", 0], ["compute", "compute/get", 0]],
         30, 40, 10),
    ]
    assert result["only_in_a"] == [{"service": "api", "name": "SELECT",
                                    "path": [ROOT, ["api", "SELECT", 2]], "a_ns": 3 * MS}]
    assert result["only_in_b"] == [{"service": "api", "name": "GET /v2/images",
                                    "path": [ROOT, ["api", "GET /v2/images", 0]],
                                    "b_ns": 2 * MS}]


def test_diff_min_change_hides_small_changes():
    """Only changes larger than min_change_ns are listed."""
    a, b = _diff_pair()
    result = analysis.diff(a, b, min_change_ns=10 * MS)
    assert [c["delta_ns"] for c in result["changed"]] == [20 * MS, 20 * MS]


def test_diff_critical_path_explains_the_latency_change():
    """Path contributions (ms), A then B: POST 37/28, SELECT#1 10/30, server 30/40,
    SELECT#2 3/-, GET -/2; unchanged ones omitted. The deltas add up to +20."""
    a, b = _diff_pair()
    path = analysis.diff(a, b)["critical_path"]
    assert (path["a_ns"], path["b_ns"], path["delta_ns"]) == (100 * MS, 120 * MS, 20 * MS)
    assert [(c["name"], c["a_ns"] // MS, c["b_ns"] // MS) for c in path["changed"]] == [
        ("SELECT", 10, 30), ("compute/get", 30, 40), ("POST /servers", 37, 28),
        ("SELECT", 3, 0), ("GET /v2/images", 0, 2)]
    assert sum(c["delta_ns"] for c in path["changed"]) == path["delta_ns"]


def test_diff_of_a_trace_with_itself_is_empty():
    """Same trace: nothing changed, nothing unmatched."""
    a, _ = _diff_pair()
    result = analysis.diff(a, a)
    assert result["changed"] == result["only_in_a"] == result["only_in_b"] == []
    assert result["critical_path"]["changed"] == []


# -- dependencies -----------------------------------------------------------------------

def test_dependencies_of_one_trace():
    """A call, a cast and a notification make edges; an untraced HTTP call, a database
    client and an orphan do not."""
    edges = analysis.dependencies(boot().spans)["edges"]
    assert [(e["from"], e["to"], e["protocol"], e["calls"], e["errors"],
             e["p50_ns"] // MS, e["p95_ns"] // MS) for e in edges] == [
        ("api", "conductor", "rpc_call", 1, 0, 50, 50),
        ("api", "listener", "notification", 1, 0, 2, 2),
        ("conductor", "compute", "rpc_cast", 1, 0, 2, 2),
    ]


def test_dependencies_counts_calls_errors_and_percentiles():
    """Twenty HTTP calls of 1..20 ms, two failing on the client: p50 10 ms and p95 19 ms
    (nearest rank); a failure only inside the server is not the edge's error."""
    spans = []
    for i in range(1, 21):
        trace_id = f"{i:032x}"
        spans.append(span("1", None, "GET /", "api", "server", 0, 30, trace_id=trace_id))
        spans.append(span("2", "1", "GET /allocations", "api", "client", 1, 1 + i,
                          trace_id=trace_id, status="error" if i in (3, 7) else "unset",
                          **{"http.method": "GET"}))
        spans.append(span("3", "2", "GET /allocations", "placement", "server", 1, 1 + i,
                          trace_id=trace_id, status="error" if i == 9 else "unset"))
    (edge,) = analysis.dependencies(spans)["edges"]
    assert edge == {"from": "api", "to": "placement", "protocol": "http", "calls": 20,
                    "errors": 2, "p50_ns": 10 * MS, "p95_ns": 19 * MS}
    (edge,) = analysis.dependencies(spans[:9])["edges"]  # 1, 2, 3 ms: ranks round up
    assert (edge["p50_ns"], edge["p95_ns"]) == (2 * MS, 3 * MS)


def test_dependencies_fanout_counts_the_sender_once_and_filters_by_service():
    """A fanout cast handled by two computes is one call; --service keeps edges from or
    to that service."""
    spans = [
        span("1", None, "periodic", "scheduler", "internal", 0, 10),
        span("2", "1", "compute/sync", "scheduler", "producer", 1, 2, **RPC),
        span("3", "2", "compute/sync", "compute", "consumer", 3, 5, **RPC),
        span("4", "2", "compute/sync", "compute", "consumer", 3, 6, **RPC),
        span("5", "1", "send", "scheduler", "producer", 7, 8, **NOTIFY),
        span("6", "5", "process", "listener", "consumer", 9, 12, **NOTIFY),
    ]
    result = analysis.dependencies(spans)
    assert [(e["to"], e["protocol"], e["calls"]) for e in result["edges"]] == [
        ("compute", "rpc_cast", 1), ("listener", "notification", 1)]
    only = analysis.dependencies(spans, service="listener")["edges"]
    assert [(e["from"], e["to"]) for e in only] == [("scheduler", "listener")]
    assert analysis.dependencies(spans, service="nova-api") == {"edges": []}
