"""Finding traces in the store: by request id, by attribute, by time window; the tables and
indexes behind it, and the upgrade of a store written by schema version 1."""

from __future__ import annotations

import sqlite3

import pytest

from tracing_middleware.export import store as store_module
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SCHEMA_VERSION, SpanStore

from .conftest import BASE, MS, span

GLOBAL = "req-6e0bd5e4-7a3e-4b8a-9c57-2b0f4c1d9e21"


def ids(summaries) -> list[int]:
    return [int(s.trace_id, 16) for s in summaries]


@pytest.fixture
def cloud(store):
    """Trace 1: nova-api (req-a) casts to the conductor (context req-a) and calls glance
    (req-g, global req-a); trace 2, later: glance again under the same global id, failing;
    trace 3: an unrelated request whose ids are not strings."""
    store.write([
        span(1, 1, start_ms=0, duration_ms=50, name="POST /servers", service="nova-api",
             attributes={"openstack.request_id": "req-a", "http.response.status_code": 202}),
        span(1, 2, 1, start_ms=5, duration_ms=3, name="conductor/build",
             service="nova-conductor",
             attributes={"openstack.request_id": "req-a", "rpc.method": "build"}),
        span(1, 3, 1, start_ms=10, duration_ms=20, name="GET /images",
             service="glance-api",
             attributes={"openstack.request_id": "req-g", "openstack.global_request_id":
                         GLOBAL, "http.response.status_code": 200, "cached": True}),
        span(2, 4, start_ms=100, duration_ms=5, name="GET /images", service="glance-api",
             status="error",
             attributes={"openstack.global_request_id": GLOBAL,
                         "http.response.status_code": 500, "note": '"cached":true'}),
        span(3, 5, start_ms=200, duration_ms=1, name="GET /", service="keystone",
             attributes={"openstack.request_id": 42, "ratio": 0.5, "gone": None,
                         "nested": {"rpc.method": "build"}, "port": "8774",
                         "tags": ["a", "b"]}),
    ])
    return store


def test_request_id_finds_its_trace_through_any_span(cloud):
    """A service's own id finds the trace of any span that carries it, the global id
    every trace that shares it (newest first); blanks around the id are ignored."""
    assert ids(cloud.find_traces(request_id="req-a")) == [1]
    assert ids(cloud.find_traces(request_id="req-g")) == [1]
    assert ids(cloud.find_traces(request_id=f"  {GLOBAL}\n")) == [2, 1]
    assert ids(cloud.find_traces(request_id="req-nope")) == []
    assert ids(cloud.find_traces(request_id="42")) == []  # an int is not a request id


def test_request_id_with_the_other_filters(cloud):
    """Every filter narrows the request id's traces; totals are whole traces."""
    assert ids(cloud.find_traces(request_id=GLOBAL, errors=True)) == [2]
    assert ids(cloud.find_traces(request_id=GLOBAL, service="nova-conductor")) == [1]
    assert ids(cloud.find_traces(request_id=GLOBAL, min_duration_ns=10 * MS)) == [1]
    assert ids(cloud.find_traces(request_id=GLOBAL, since_ns=BASE + 1)) == [2]
    assert ids(cloud.find_traces(request_id=GLOBAL, limit=1)) == [2]
    (first,) = cloud.find_traces(request_id="req-g")
    assert (first.root_name, first.root_service, first.span_count, first.duration_ns,
            first.error) == ("POST /servers", "nova-api", 3, 50 * MS, False)
    assert first.services == frozenset({"nova-api", "nova-conductor", "glance-api"})


def test_since_is_inclusive_and_until_exclusive(cloud):
    """[since, until) on the trace's start: a window never counts a trace twice."""
    assert ids(cloud.find_traces(since_ns=BASE + 100 * MS)) == [3, 2]
    assert ids(cloud.find_traces(until_ns=BASE + 100 * MS)) == [1]
    assert ids(cloud.find_traces(since_ns=BASE + 100 * MS, until_ns=BASE + 200 * MS)) == [2]
    assert ids(cloud.find_traces(until_ns=BASE)) == []


def test_attribute_matches_the_value_as_typed(cloud):
    """A string equal to the value, or a number, boolean or null whose JSON it is; only
    top-level attributes, whatever else the JSON text contains."""
    assert ids(cloud.find_traces(attribute=("rpc.method", "build"))) == [1]
    assert ids(cloud.find_traces(attribute=("http.response.status_code", "500"))) == [2]
    assert ids(cloud.find_traces(attribute=("http.response.status_code", "50"))) == []
    assert ids(cloud.find_traces(attribute=("cached", "true"))) == [1]
    assert ids(cloud.find_traces(attribute=("ratio", "0.5"))) == [3]
    assert ids(cloud.find_traces(attribute=("gone", "null"))) == [3]
    assert ids(cloud.find_traces(attribute=("openstack.request_id", "42"))) == [3]
    assert ids(cloud.find_traces(attribute=("port", "8774"))) == [3]
    assert ids(cloud.find_traces(attribute=("tags", '["a","b"]'))) == [3]
    assert ids(cloud.find_traces(attribute=("nope", "x"))) == []


def test_attribute_with_other_filters_and_the_same_span(cloud):
    """With service or operation, the same span must carry the attribute; with trace
    filters, the trace must pass them too."""
    status_200 = ("http.response.status_code", "200")
    assert ids(cloud.find_traces(attribute=status_200, service="glance-api")) == [1]
    assert ids(cloud.find_traces(attribute=status_200, service="nova-api")) == []
    assert ids(cloud.find_traces(attribute=status_200, operation="GET /images")) == [1]
    assert ids(cloud.find_traces(attribute=("rpc.method", "build"), errors=True)) == []
    assert ids(cloud.find_traces(attribute=("http.response.status_code", "500"),
                                 request_id=GLOBAL)) == [2]
    assert ids(cloud.find_traces(attribute=("http.response.status_code", "202"),
                                 since_ns=BASE, min_duration_ns=MS)) == [1]


def test_totals_count_a_span_written_twice_once(store):
    """A retried batch adds nothing to the trace's count, start, end or error."""
    batch = [span(1, 1, start_ms=0, duration_ms=10), span(1, 2, 1, start_ms=2,
                                                          duration_ms=20, status="error")]
    store.write(batch)
    store.write(batch)
    store.write([span(1, 3, 1, start_ms=1, duration_ms=1)])
    (summary,) = store.list_traces()
    assert (summary.span_count, summary.start_ns, summary.duration_ns, summary.error) == (
        3, BASE, 22 * MS, True)


def _plan(store: SpanStore, **filters) -> str:
    sql, args = store_module._search_sql(**{
        "request_id": None, "service": None, "operation": None, "since_ns": None,
        "until_ns": None, "errors": False, "min_duration_ns": None, "attribute": None,
        "limit": 20, **filters})
    store.list_traces()  # open and migrate
    return "\n".join(row[-1] for row in store._conn.execute(f"EXPLAIN QUERY PLAN {sql}",
                                                            args))


def test_searches_use_the_indexes(store):
    """The request id is a primary-key search, a listing walks the traces newest first
    without sorting, a service or name filter reads its index alone."""
    plan = _plan(store, request_id="req-a")
    assert "SEARCH span_request_ids USING PRIMARY KEY (request_id=?)" in plan
    listing = _plan(store, since_ns=BASE)
    assert "traces USING" in listing and "traces_by_start" in listing
    assert "TEMP B-TREE" not in listing
    assert "USING COVERING INDEX spans_by_service (service=? AND start_ns>?)" in _plan(
        store, service="svc", since_ns=BASE)
    assert "USING COVERING INDEX spans_by_name (name=?)" in _plan(store, operation="op")


def _v1_store(path: str, rows: list[SpanRecord], raw: list[tuple] = ()) -> None:
    """A file as os-tracing with schema version 1 left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in store_module._SCHEMA_V1:
            conn.execute(statement)
        conn.executemany(store_module._INSERT, [store_module._row(r) for r in rows])
        conn.executemany(store_module._INSERT, raw)
        conn.execute("PRAGMA user_version = 1")
    finally:
        conn.close()


def test_version_1_store_is_upgraded_with_its_spans(tmp_path):
    """Opening a version 1 file adds the tables and fills them from the stored spans; a
    span whose attributes are not JSON is listed, not indexed, and breaks nothing."""
    path = str(tmp_path / "old.db")
    not_json = (f"{9:032x}", f"{9:016x}", None, "odd", "svc", "server", BASE + 9 * MS, MS,
                "unset", "", "{not json request_id\"", "[]", "{}")
    _v1_store(path, [span(1, 1, duration_ms=5, attributes={"openstack.request_id": "req-a"}),
                     span(1, 2, 1, start_ms=1, duration_ms=9, status="error",
                          attributes={"openstack.global_request_id": GLOBAL}),
                     span(2, 3, start_ms=5)], [not_json])
    with SpanStore(path) as store:
        assert ids(store.find_traces(request_id="req-a")) == [1]
        assert ids(store.find_traces(request_id=GLOBAL)) == [1]
        assert ids(store.list_traces()) == [9, 2, 1]
        assert ids(store.find_traces(attribute=("x", "y"))) == []
        trace = store.find_traces(request_id=GLOBAL)[0]
        assert (trace.span_count, trace.duration_ns, trace.error) == (2, 10 * MS, True)
        store.write([span(1, 4, 1, start_ms=20, attributes={"openstack.request_id": "b"})])
        assert ids(store.find_traces(request_id="b")) == [1]
        assert store.find_traces(request_id="b")[0].span_count == 3
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        columns = [r[2] for r in conn.execute("PRAGMA index_info(spans_by_service)")]
        assert columns == ["service", "start_ns", "trace_id"]
    finally:
        conn.close()


def test_spans_inserted_by_an_older_release_are_counted_and_found(store):
    """The triggers, not write(), keep the search tables: a writer that knows only the
    spans table (a process still running the previous release) is seen as well."""
    store.write([span(1, 1)])
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        conn.execute(store_module._INSERT, store_module._row(
            span(1, 2, 1, start_ms=3, attributes={"openstack.request_id": "req-old"})))
    finally:
        conn.close()
    (summary,) = store.find_traces(request_id="req-old")
    assert (summary.span_count, summary.duration_ns) == (2, 4 * MS)
