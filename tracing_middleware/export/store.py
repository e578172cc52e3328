"""The embedded span store: one SQLite file, safe for several processes writing at once.

WAL journaling lets readers (``os-tracing trace list``) work while services write; each
batch is one transaction with ``INSERT OR IGNORE`` on (trace id, span id), so a span
exported twice is stored once and a crash loses at most the batch in flight. A
connection is never shared across ``fork()``: a pid change reopens it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from tracing_middleware.export.records import SpanEvent, SpanRecord

__all__ = ["SpanStore", "StoreError", "Trace", "TraceSummary", "path_from_url"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL DEFAULT '',
    attributes TEXT NOT NULL DEFAULT '{}',
    events TEXT NOT NULL DEFAULT '[]',
    resource TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_by_start ON spans (start_ns);
CREATE INDEX IF NOT EXISTS spans_by_service ON spans (service, start_ns);
"""


class StoreError(Exception):
    """The store could not be written or read (locked, full, corrupt, unreachable)."""


@dataclasses.dataclass
class Trace:
    trace_id: str
    spans: list[SpanRecord]


@dataclasses.dataclass
class TraceSummary:
    trace_id: str
    root_name: str
    root_service: str
    services: frozenset[str]
    span_count: int
    start_ns: int
    duration_ns: int
    error: bool


def path_from_url(url: str) -> str:
    """``sqlite:///relative.db`` or ``sqlite:////absolute.db`` (SQLAlchemy's convention)."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite URL: {url!r}")
    return url[len("sqlite:///"):]


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


class SpanStore:
    def __init__(self, path: str, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    @classmethod
    def from_url(cls, url: str, busy_timeout_ms: int = 5000) -> SpanStore:
        return cls(path_from_url(url), busy_timeout_ms)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        # NOTE(os-tracing): after fork the parent's connection must not be touched; drop
        # our reference to it and open our own.
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000.0,
                               isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._conn, self._pid = conn, os.getpid()
        return conn

    def write(self, records: Sequence[SpanRecord]) -> int:
        rows = [(r.trace_id, r.span_id, r.parent_span_id, r.name, r.service, r.kind,
                 r.start_time_unix_nano, r.duration_ns, r.status, r.status_message,
                 _json(dict(r.attributes)), _json([e.to_json() for e in r.events]),
                 _json(dict(r.resource))) for r in records]
        if not rows:
            return 0
        with self._lock:
            try:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    before = conn.total_changes
                    conn.executemany(
                        "INSERT OR IGNORE INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                    written = conn.total_changes - before
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc
        return written

    def _rows(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connection().execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc

    @staticmethod
    def _record(row: tuple[Any, ...]) -> SpanRecord:
        events = tuple(SpanEvent(e.get("name", ""), int(e.get("time_unix_nano", 0)),
                                 e.get("attributes") or {}) for e in json.loads(row[11]))
        return SpanRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                          row[8], row[9], json.loads(row[10]), events, json.loads(row[12]))

    def get_trace(self, trace_id: str) -> Trace | None:
        trace_id = trace_id.strip().lower()
        if len(trace_id) < 32:
            if len(trace_id) < 8:
                return None
            matches = self._rows("SELECT DISTINCT trace_id FROM spans WHERE trace_id "
                                 "LIKE ? LIMIT 2", (trace_id + "%",))
            if len(matches) != 1:
                return None
            trace_id = matches[0][0]
        rows = self._rows("SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns",
                          (trace_id,))
        if not rows:
            return None
        return Trace(trace_id, [self._record(r) for r in rows])

    def all_spans(self) -> list[SpanRecord]:
        return [self._record(r) for r in self._rows(
            "SELECT * FROM spans ORDER BY start_ns", ())]

    def list_traces(self, service: str | None = None, operation: str | None = None,
                    since_ns: int | None = None, min_duration_ns: int | None = None,
                    errors_only: bool = False, limit: int = 20) -> list[TraceSummary]:
        where, args = [], []
        if since_ns is not None:
            where.append("start_ns >= ?")
            args.append(since_ns)
        if service:
            where.append("trace_id IN (SELECT trace_id FROM spans WHERE service = ?)")
            args.append(service)
        if operation:
            where.append("trace_id IN (SELECT trace_id FROM spans WHERE name = ?)")
            args.append(operation)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._rows(
            f"SELECT trace_id, MIN(start_ns), MAX(start_ns + duration_ns), COUNT(*), "
            f"SUM(status = 'error'), GROUP_CONCAT(DISTINCT service) FROM spans {clause} "
            f"GROUP BY trace_id ORDER BY MIN(start_ns) DESC", args)
        summaries = []
        for trace_id, start, end, count, errors, services in rows:
            duration = end - start
            if min_duration_ns is not None and duration < min_duration_ns:
                continue
            if errors_only and not errors:
                continue
            root = self._rows("SELECT name, service FROM spans WHERE trace_id = ? "
                              "ORDER BY (parent_span_id IS NOT NULL), start_ns LIMIT 1",
                              (trace_id,))[0]
            summaries.append(TraceSummary(trace_id, root[0], root[1],
                                          frozenset((services or "").split(",")), count,
                                          start, duration, bool(errors)))
            if len(summaries) >= limit:
                break
        return summaries

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
