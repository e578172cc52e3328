"""The SQLite span store in one process: fields, idempotence, lookup, listing, robustness."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from tracing_middleware.export import store as store_module
from tracing_middleware.export.records import SpanEvent
from tracing_middleware.export.store import SCHEMA_VERSION, SpanStore, StoreError

from .conftest import BASE, MS, span


def test_round_trip_of_every_field(store):
    """Every SpanRecord field comes back equal, including nested attributes and events."""
    record = span(9, 1, 2, status="error", status_message="boom",
                  attributes={"a": 1, "b": [1, 2], "c": "x", "d": 1.5, "e": True,
                              "f": None, "ü": "ünïcode"},
                  events=(SpanEvent("exception", BASE + 5, {"exception.type": "E"}),
                          SpanEvent("retry", BASE + 6)),
                  resource={"service.name": "svc", "host.name": "h1"})
    assert store.write([record]) == 1
    assert store.get_trace(record.trace_id).spans == [record]
    assert store.all_spans() == [record]


def test_span_written_twice_is_stored_once(store):
    """INSERT OR IGNORE: a retried batch adds nothing; the count says what was new."""
    batch = [span(5, 1), span(5, 2, 1)]
    assert store.write(batch) == 2
    assert store.write(batch) == 0
    assert store.write([span(5, 2, 1), span(5, 3, 1)]) == 1
    assert [s.span_id for s in store.get_trace(f"{5:032x}").spans] == [
        f"{i:016x}" for i in (1, 2, 3)]


def test_empty_batch_writes_nothing(store):
    """An empty batch does not even open the file."""
    assert store.write([]) == 0
    assert store._conn is None


def test_schema_version_wal_and_indexes(store, tmp_path):
    """user_version, WAL and the lookup indexes are set up on first use."""
    store.write([span(1, 1)])
    conn = sqlite3.connect(str(tmp_path / "t.db"))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"spans_by_start", "spans_by_service"} <= indexes
    finally:
        conn.close()
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_from_url_creates_directories(tmp_path):
    """sqlite:////abs/new/dir/t.db works even if the directory does not exist yet."""
    s = SpanStore.from_url(f"sqlite:///{tmp_path}/new/dir/t.db")
    try:
        assert s.write([span(1, 1)]) == 1
    finally:
        s.close()
    assert (tmp_path / "new" / "dir" / "t.db").exists()


def test_prefix_uuid_and_bad_ids(store):
    """A unique prefix of 8+ hex digits or the UUID form finds the trace; else None."""
    store.write([span(0xABCDEF01 << 96, 1), span((0xABCDEF01 << 96) + 1, 2),
                 span(0x12345678 << 96, 3)])
    full = f"{0x12345678 << 96:032x}"
    assert store.get_trace("12345678").trace_id == full
    assert store.get_trace("12345678".upper()).trace_id == full
    uuid_form = f"{full[:8]}-{full[8:12]}-{full[12:16]}-{full[16:20]}-{full[20:]}"
    assert store.get_trace(uuid_form).trace_id == full
    assert store.get_trace("abcdef01") is None  # ambiguous
    assert len(store.find_trace_ids("abcdef01")) == 2
    assert store.get_trace("1234567") is None  # too short
    assert store.get_trace("not-hex-at-all") is None
    assert store.get_trace("f" * 32) is None


def test_list_newest_first_with_root_services_and_totals(store):
    """Summaries: newest trace first, root name/service, services, count, span, error."""
    store.write([span(1, 1, start_ms=0, duration_ms=10, name="GET /", service="api"),
                 span(1, 2, 1, start_ms=2, duration_ms=20, service="db", status="error"),
                 span(2, 3, start_ms=100, duration_ms=1, name="POST /", service="api")])
    newest, oldest = store.list_traces()
    assert newest.trace_id == f"{2:032x}" and newest.root_name == "POST /"
    assert (oldest.root_name, oldest.root_service, oldest.services, oldest.span_count,
            oldest.duration_ns, oldest.error, oldest.start_ns) == (
        "GET /", "api", frozenset({"api", "db"}), 2, 22 * MS, True, BASE)
    assert not newest.error


def test_root_is_earliest_orphan_when_the_root_was_not_stored(store):
    """Without a parentless span, the root is the earliest span whose parent is missing."""
    store.write([span(1, 2, 99, start_ms=1, name="first-orphan"),
                 span(1, 3, 2, start_ms=0.5, name="child")])
    (summary,) = store.list_traces()
    assert summary.root_name == "first-orphan"


def test_list_filters(store):
    """service, operation (same span for both), since, min duration, errors, limit."""
    store.write([
        span(1, 1, start_ms=0, duration_ms=1, name="a", service="api"),
        span(1, 2, 1, start_ms=0, duration_ms=1, name="b", service="db"),
        span(2, 3, start_ms=50, duration_ms=30, name="b", service="api", status="error"),
        span(3, 4, start_ms=100, duration_ms=5, name="c", service="worker"),
    ])

    def ids(**kw):
        return [int(s.trace_id, 16) for s in store.list_traces(**kw)]

    assert ids() == [3, 2, 1]
    assert ids(service="api") == [2, 1]
    assert ids(operation="b") == [2, 1]
    assert ids(service="api", operation="b") == [2]  # the same span must match both
    assert ids(since_ns=BASE + 50 * MS) == [3, 2]
    assert ids(min_duration_ns=5 * MS) == [3, 2]
    assert ids(errors_only=True) == [2]
    assert ids(limit=2) == [3, 2]
    assert ids(limit=0) == []
    assert ids(limit=None) == [3, 2, 1]
    assert ids(service="nope") == []


def test_since_counts_whole_traces_not_spans(store):
    """A trace that started before `since` is excluded, not cut in half."""
    store.write([span(1, 1, start_ms=0, duration_ms=100), span(1, 2, 1, start_ms=60)])
    assert store.list_traces(since_ns=BASE + 50 * MS) == []


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_hostile_attribute_values_do_not_break_the_write(store):
    """Unknown types are str()-ed, long strings cut, bad keys and surrogates survive."""
    huge = "x" * (store_module.MAX_VALUE_CHARS * 4)
    record = span(1, 1, name="bad\ud800name",
                  attributes={"obj": object(), "set": {1}, "huge": huge,
                              "nan": float("nan"), "bytes": b"\xff", "broken": _Unprintable(),
                              "nested": {(1, 2): "tuple key"}, "surrogate": "\udcff"},
                  events=(SpanEvent("e", BASE, {"o": object()}),))
    assert store.write([record]) == 1
    (back,) = store.get_trace(record.trace_id).spans
    assert back.attributes["obj"].startswith("<object object")
    assert back.attributes["huge"].endswith("[truncated]")
    assert len(back.attributes["huge"]) < store_module.MAX_VALUE_CHARS + 20
    assert back.attributes["nan"] == "nan"
    assert back.attributes["broken"] == "<unprintable _Unprintable>"
    assert back.attributes["nested"] == {"(1, 2)": "tuple key"}
    assert back.attributes["surrogate"] == "\udcff"
    assert back.name == "bad?name"


def test_unconvertible_record_is_skipped_not_the_batch(store):
    """A record with a non-integer start costs that span only."""
    bad = span(1, 1)
    object.__setattr__(bad, "start_time_unix_nano", "soon")
    assert store.write([bad, span(1, 2)]) == 1
    assert [s.span_id for s in store.all_spans()] == [f"{2:016x}"]


def test_out_of_range_integers_skip_the_span(store):
    """A start time beyond SQLite's 64-bit integers costs that span, not the batch."""
    huge = span(1, 1)
    object.__setattr__(huge, "start_time_unix_nano", 1 << 70)
    assert store.write([huge, span(1, 2)]) == 1


def test_unwritable_path_raises_store_error(tmp_path):
    """A path that cannot be a database (a directory) raises StoreError, not sqlite3."""
    s = SpanStore(str(tmp_path))
    with pytest.raises(StoreError):
        s.write([span(1, 1)])
    with pytest.raises(StoreError):
        s.list_traces()


def test_close_is_idempotent_and_reopens_on_use(store):
    """close() twice is fine; a later call opens a fresh connection."""
    store.write([span(1, 1)])
    store.close()
    store.close()
    assert store.get_trace(f"{1:032x}") is not None


def test_pid_change_reopens_without_closing_the_parent_connection(store, monkeypatch):
    """A pid change (fork) makes the store open a new connection and keep the old one
    referenced, never closed, in this process."""
    store.write([span(1, 1)])
    inherited = store._conn
    monkeypatch.setattr(store, "_pid", -1)
    monkeypatch.setattr(store_module, "_INHERITED", [])
    assert store.write([span(1, 2)]) == 1
    assert store._conn is not inherited
    assert store_module._INHERITED == [inherited]
    inherited.execute("SELECT 1")  # still open: it was never closed
    inherited.close()


def test_threads_share_one_store(store):
    """Several threads writing through one store: all spans stored, no errors."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                store.write([span(n, n * 1000 + i * 5 + j + 1) for j in range(5)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(store.all_spans()) == 4 * 20 * 5
