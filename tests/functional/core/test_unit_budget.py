"""What one request records, over real HTTP and a real SQLite database through SQLAlchemy:
no transaction-control spans, repeated statements folded, and a cap per unit of work."""

from __future__ import annotations

import contextlib
import sqlite3
import urllib.request

import pytest
import requests
import sqlalchemy

from tracing_middleware import tracer, unit
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import capture_spans, serve_wsgi


def _oslo_db_style_engine(path):
    """SQLite as oslo.db runs it: the driver's own transactions off, ``BEGIN`` issued as
    a statement (so it passes through the cursor events like any other)."""
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")

    @sqlalchemy.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("INSERT INTO item (name) VALUES ('a'), ('b'), ('c')")
    return engine


STATEMENTS = {
    # an N+1 loop: one statement text, four executions, then another statement
    "/loop": ["SELECT name FROM item WHERE id = :id"] * 4 + ["SELECT count(*) FROM item"],
    # repeats that are not consecutive stay apart
    "/interleaved": ["SELECT name FROM item WHERE id = :id"] * 2
    + ["SELECT count(*) FROM item"] + ["SELECT name FROM item WHERE id = :id"],
    # twenty different statements
    "/many": [f"SELECT {i} FROM item WHERE id = :id" for i in range(20)],
    # the fourth execution of a repeated statement fails (ids 11, 12, 13, 11: a duplicate)
    "/repeat-fails": ["INSERT INTO item (id, name) VALUES (:id + 10, 'x')"] * 4,
}


@pytest.fixture
def service(tmp_path):
    engine = _oslo_db_style_engine(tmp_path / "app.db")
    seen_downstream: list[str] = []

    def downstream(environ, start_response):
        seen_downstream.append(environ.get("HTTP_TRACEPARENT", ""))
        start_response("200 OK", [])
        return [b""]

    def app(environ, start_response):
        with contextlib.suppress(sqlalchemy.exc.IntegrityError), engine.begin() as conn:
            for i, statement in enumerate(STATEMENTS[environ["PATH_INFO"]]):
                conn.execute(sqlalchemy.text(statement), {"id": i % 3 + 1})
        if environ.get("QUERY_STRING") == "call":
            requests.get(environ["test.downstream"], timeout=10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    store_url = f"sqlite:///{tmp_path}/spans.db"
    with serve_wsgi(downstream) as down:
        def run(path, **local_conf):
            conf = {"exporters": store_url, "sampler": "always_on",
                    "integrations": "sqlalchemy,requests", **local_conf}
            filtered = TracingFilter.factory({}, **conf)(app)

            def with_downstream(environ, start_response):
                environ["test.downstream"] = down.url + "/next"
                return filtered(environ, start_response)

            with serve_wsgi(with_downstream) as server:
                urllib.request.urlopen(server.url + path, timeout=10).read()
            assert tracer.force_flush_all(10)
            tracer.reset()
            store = SpanStore.from_url(store_url)
            try:
                return store.all_spans()
            finally:
                store.close()

        run.downstream = seen_downstream
        yield run
    engine.dispose()


def _db_spans(spans):
    return [s for s in spans if "db.system.name" in s.attributes]


def test_transaction_control_is_not_recorded_by_default(service):
    """BEGIN and COMMIT (statements under oslo.db's SQLite setup) make no spans."""
    spans = service("/many", max_spans_per_unit="0")
    names = [s.attributes["db.operation.name"] for s in _db_spans(spans)]
    assert names == ["SELECT"] * 20


def test_transaction_control_is_recorded_when_asked(service):
    """sql_transaction_spans = true records BEGIN as its own span."""
    spans = service("/loop", sql_transaction_spans="true", sql_fold_repeats="false")
    names = [s.attributes["db.operation.name"] for s in _db_spans(spans)]
    assert names[0] == "BEGIN"
    assert names.count("SELECT") == 5


def test_consecutive_repeats_fold_into_one_span_with_their_count(service):
    """Four executions of one statement are one span from the first start to the last end."""
    spans = service("/loop")
    db = sorted(_db_spans(spans), key=lambda s: s.start_time_unix_nano)
    assert [s.attributes["db.query.text"] for s in db] == [
        "SELECT name FROM item WHERE id = ?", "SELECT count(*) FROM item"]
    assert db[0].attributes[unit.REPEAT_ATTRIBUTE] == 4
    assert unit.REPEAT_ATTRIBUTE not in db[1].attributes
    assert db[0].end_time_unix_nano <= db[1].start_time_unix_nano
    server = next(s for s in spans if s.kind == "server")
    assert {s.parent_span_id for s in db} == {server.span_id}


def test_repeats_apart_are_not_folded(service):
    """A different statement in between ends the fold: a(2), b, a(1)."""
    spans = service("/interleaved")
    db = sorted(_db_spans(spans), key=lambda s: s.start_time_unix_nano)
    assert [s.attributes.get(unit.REPEAT_ATTRIBUTE, 1) for s in db] == [2, 1, 1]


def test_a_failed_repeat_marks_the_folded_span(service):
    """Four executions of one statement, the fourth failing: one span, count 4, error."""
    spans = service("/repeat-fails")
    (db,) = _db_spans(spans)
    assert db.attributes[unit.REPEAT_ATTRIBUTE] == 4
    assert db.status == "error"
    assert db.attributes["error.type"] == "IntegrityError"


def test_folding_can_be_turned_off(service):
    """sql_fold_repeats = false: one span per execution."""
    spans = service("/loop", sql_fold_repeats="false")
    assert len(_db_spans(spans)) == 5


def test_cap_counts_children_on_the_unit_span_and_keeps_the_trace_going(service):
    """Past max_spans_per_unit statements are counted on the unit span, not recorded; the
    outgoing call is still recorded (it is the edge the next service hangs from) and
    carries the trace on."""
    spans = service("/many?call", max_spans_per_unit="5")
    server = next(s for s in spans if s.kind == "server")
    assert len(_db_spans(spans)) == 5
    assert server.attributes[unit.DROPPED_ATTRIBUTE] == 15
    (call,) = [s for s in spans if s.kind == "client" and s not in _db_spans(spans)]
    assert call.parent_span_id == server.span_id
    (traceparent,) = service.downstream
    assert traceparent == f"00-{server.trace_id}-{call.span_id}-03"  # sampled, random id


def test_a_left_out_span_hands_the_trace_on_under_its_parent():
    """What is injected from inside a left-out span names the nearest recorded one."""
    with capture_spans(max_spans_per_unit="1") as read:
        tracing = read.tracing
        root = tracing.start_span("GET /x", parent=None, kind="server")
        scope = tracing.activate(root)
        try:
            first = tracing.start_span("SELECT", kind="client", tags={"db.system.name": "x"})
            left_out = tracing.start_span("SELECT", kind="client",
                                          tags={"db.system.name": "x"})
            carrier: dict[str, str] = {}
            tracing.inject(carrier, span=left_out)
            assert not tracing.is_recording(left_out)
            left_out.finish()
            first.finish()
        finally:
            scope.close()
            root.finish()
        root_ctx = tracing.span_context_of(root)
        assert carrier["traceparent"] == \
            f"00-{root_ctx.trace_id:032x}-{root_ctx.span_id:016x}-03"


def test_unit_under_the_cap_has_no_dropped_attribute(service):
    """A request that stays under the cap says nothing about dropped spans."""
    spans = service("/many")
    server = next(s for s in spans if s.kind == "server")
    assert unit.DROPPED_ATTRIBUTE not in server.attributes
    assert len(_db_spans(spans)) == 20


def test_store_file_holds_no_statement_parameters(service, tmp_path):
    """Folding keeps the statement text only, never a parameter value."""
    service("/loop")
    rows = sqlite3.connect(tmp_path / "spans.db").execute("SELECT * FROM spans").fetchall()
    assert rows and not any("'a'" in str(row) for row in rows)
