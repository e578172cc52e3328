"""The embedded span store: one SQLite file, safe for several processes writing at once.

Why SQLite and these settings:

* WAL journaling lets readers (``os-tracing trace list``, ``serve``) work while services
  write, and writers only wait for each other, never for readers.
* ``busy_timeout`` (a constructor argument) bounds how long a write waits for another
  process's lock; after that :meth:`SpanStore.write` raises :class:`StoreError` and the
  exporter counts the batch as dropped: tracing never blocks a service indefinitely.
* ``synchronous=NORMAL``: in WAL mode a power cut can lose the last transactions but never
  corrupts the file; traces are diagnostics, not records of truth.
* Each batch is one ``BEGIN IMMEDIATE`` transaction of ``INSERT OR IGNORE`` on
  (trace id, span id), so a span exported twice (a retried batch) is stored once and a
  crash loses at most the batch in flight.
* ``PRAGMA user_version`` holds :data:`SCHEMA_VERSION` so a later release can migrate; a
  file written by a *newer* release is used as is (its changes must be additive).
* Searches read two tables that triggers on ``spans`` keep (schema version 2): ``traces``,
  one row of totals per trace, so a listing walks an index of traces newest first
  instead of grouping every span; and ``span_request_ids``, each OpenStack request id and
  global request id a span carries, with its trace, so ``trace find --request-id`` is an
  index lookup. Triggers, not this module's ``write``, fill them, so the spans an older
  release writes into an upgraded file are counted and found too. They need SQLite 3.24
  (UPSERT) and its JSON functions (built in since 3.38, and compiled into the SQLite of
  the distributions before that).

Connections: one per store object per process, opened lazily, shared by the threads of
that process (``check_same_thread=False``) and serialised by a lock, because the writer
is a single exporter thread and readers are rare, so a pool would buy nothing. SQLite
forbids using a connection across ``fork()`` (https://sqlite.org/howtocorrupt.html
section 2.6), so after a fork the child drops the parent's connection *without closing
it* (closing could release locks or delete the parent's WAL) and opens its own; detected
both by an ``os.register_at_fork`` hook and a pid check.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.export.store_url import path_from_url
from tracing_middleware.request_ids import REQUEST_ID_ATTRIBUTES

__all__ = ["SCHEMA_VERSION", "SpanStore", "StoreError", "Trace", "TraceSummary",
           "enable_wal", "path_from_url"]

LOG = logging.getLogger(__name__)

#: Version of the schema, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = 2
#: Longest string kept in an attribute or event value; longer ones are cut (like OTel's
#: attribute length limit) so one runaway value cannot bloat the store.
MAX_VALUE_CHARS = 32 * 1024
_TRUNCATED = " [truncated]"
_MAX_DEPTH = 8

_SCHEMA_V1 = (
    """CREATE TABLE IF NOT EXISTS spans (
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
    )""",
    # Lookup by trace id (and by prefix, as a range) uses the primary key's index.
    "CREATE INDEX IF NOT EXISTS spans_by_start ON spans (start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_by_service ON spans (service, start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_by_name ON spans (name, start_ns)",
)
# The attributes whose string values ``find_traces(request_id=...)`` looks up.
_REQUEST_ID_KEYS = ", ".join(f"'{key}'" for key in REQUEST_ID_ATTRIBUTES)
# Both keys end so in the stored JSON; a span without it skips the JSON parse.
_REQUEST_ID_MARK = 'request_id"'
_SCHEMA_V2 = (
    # One row per trace: what a listing shows and filters on, kept by a trigger.
    """CREATE TABLE IF NOT EXISTS traces (
        trace_id TEXT PRIMARY KEY,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        span_count INTEGER NOT NULL,
        error INTEGER NOT NULL
    ) WITHOUT ROWID""",
    # The listing's order: newest first, ties by trace id.
    "CREATE INDEX IF NOT EXISTS traces_by_start ON traces (start_ns DESC, trace_id)",
    # A span filter's traces from the index alone (no row read), from a start time on.
    "DROP INDEX IF EXISTS spans_by_service",
    "CREATE INDEX spans_by_service ON spans (service, start_ns, trace_id)",
    "DROP INDEX IF EXISTS spans_by_name",
    "CREATE INDEX spans_by_name ON spans (name, start_ns, trace_id)",
    """CREATE TABLE IF NOT EXISTS span_request_ids (
        request_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        PRIMARY KEY (request_id, trace_id)
    ) WITHOUT ROWID""",
    # A span stored twice is ignored by INSERT OR IGNORE and fires no trigger, so the
    # totals count each span once.
    """CREATE TRIGGER IF NOT EXISTS spans_count_in_traces AFTER INSERT ON spans BEGIN
        INSERT INTO traces (trace_id, start_ns, end_ns, span_count, error)
        VALUES (NEW.trace_id, NEW.start_ns, NEW.start_ns + NEW.duration_ns, 1,
                NEW.status = 'error')
        ON CONFLICT (trace_id) DO UPDATE SET
            start_ns = min(start_ns, excluded.start_ns),
            end_ns = max(end_ns, excluded.end_ns),
            span_count = span_count + 1,
            error = max(error, excluded.error);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS spans_index_request_ids AFTER INSERT ON spans
    WHEN instr(NEW.attributes, '{_REQUEST_ID_MARK}') > 0 AND json_valid(NEW.attributes)
    BEGIN
        INSERT OR IGNORE INTO span_request_ids (request_id, trace_id)
        SELECT value, NEW.trace_id FROM json_each(NEW.attributes)
        WHERE key IN ({_REQUEST_ID_KEYS}) AND type = 'text';
    END""",
    # The spans stored before the upgrade.
    """INSERT OR IGNORE INTO traces (trace_id, start_ns, end_ns, span_count, error)
    SELECT trace_id, MIN(start_ns), MAX(start_ns + duration_ns), COUNT(*),
           MAX(status = 'error')
    FROM spans GROUP BY trace_id""",
    f"""INSERT OR IGNORE INTO span_request_ids (request_id, trace_id)
    SELECT ids.value, spans.trace_id
    FROM spans, json_each(CASE WHEN json_valid(spans.attributes) THEN spans.attributes
                               ELSE '{{}}' END) AS ids
    WHERE instr(spans.attributes, '{_REQUEST_ID_MARK}') > 0
      AND ids.key IN ({_REQUEST_ID_KEYS}) AND ids.type = 'text'""",
)
# A span whose attribute (key, value) is the string value or whose JSON is the value.
# The first three arguments (see _attribute_marks) skip the JSON parse of the spans whose
# text cannot hold the match, one search through each span's text and two through the
# few that name the key; CASE (unlike AND) is sure to stop at the first that fails, and
# before json_each meets a column that is not JSON.
_ATTRIBUTE_MATCH = (
    "CASE WHEN instr(attributes, ?) = 0 THEN 0 "
    "WHEN instr(attributes, ?) = 0 AND instr(attributes, ?) = 0 THEN 0 "
    "WHEN NOT json_valid(attributes) THEN 0 "
    "ELSE EXISTS (SELECT 1 FROM json_each(attributes) WHERE key = ? AND "
    "CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' "
    "ELSE CAST(value AS TEXT) END = ?) END")
# One attribute of a sender (its JSON path thrice) as Python reads it from the span's
# JSON: a scalar as itself, an array or object as its JSON text in a BLOB (a type no
# scalar comes as) for the caller to parse, so an empty list is as false as in Python;
# NULL when absent or when the column is not JSON.
_PROTOCOL_VALUE = (
    "CASE WHEN NOT json_valid(s.attributes) THEN NULL "
    "WHEN json_type(s.attributes, ?) IN ('array', 'object') "
    "THEN CAST(json_extract(s.attributes, ?) AS BLOB) "
    "ELSE json_extract(s.attributes, ?) END")
_COLUMNS = ("trace_id", "span_id", "parent_span_id", "name", "service", "kind", "start_ns",
            "duration_ns", "status", "status_message", "attributes", "events", "resource")
_INSERT = (f"INSERT OR IGNORE INTO spans ({', '.join(_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(_COLUMNS))})")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM spans"
_HEX_PREFIX = re.compile(r"[0-9a-f]{8,32}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_IN_CHUNK = 500  # below SQLite's historical 999 bound parameters

# Connections inherited across fork(): referenced forever so they are never finalised
# (closed) in the child. See the module docstring.
_INHERITED: list[sqlite3.Connection] = []
_STORES: weakref.WeakSet[SpanStore] = weakref.WeakSet()


def enable_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """``journal_mode = WAL``, retried: SQLite answers "locked" at once, without its busy
    handler, while another process is switching a new database to WAL too (workers of
    one server opening the store together)."""
    deadline = time.monotonic() + busy_timeout_ms / 1000.0
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class StoreError(Exception):
    """The store could not be written or read (locked, full, corrupt, unreachable).

    The one exception type :class:`SpanStore` raises for I/O trouble, so the exporter
    catches exactly this and counts the batch as dropped; the ``sqlite3`` or ``OSError``
    cause is chained.
    """


@dataclasses.dataclass
class Trace:
    """Every stored span of one trace, ordered by start time."""

    trace_id: str
    spans: list[SpanRecord]


@dataclasses.dataclass(frozen=True)
class TraceSummary:
    """One line of ``trace list``: the root span's operation and service, and totals.

    ``duration_ns`` is the latest span end minus the earliest span start; ``error`` is
    true when any span has status ``error``.
    """

    trace_id: str
    root_name: str
    root_service: str
    services: frozenset[str]
    span_count: int
    start_ns: int
    duration_ns: int
    error: bool

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape of one trace (``trace list --json``, ``trace find``)."""
        return {"trace_id": self.trace_id, "root_name": self.root_name,
                "root_service": self.root_service, "services": sorted(self.services),
                "span_count": self.span_count, "start_time_unix_nano": self.start_ns,
                "duration_ns": self.duration_ns, "error": self.error}


def _text(value: Any) -> str:
    """A column-safe string: sqlite3 refuses lone surrogates, so replace them."""
    text = value if isinstance(value, str) else str(value)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _clip(text: str) -> str:
    if len(text) > MAX_VALUE_CHARS:
        return text[:MAX_VALUE_CHARS] + _TRUNCATED
    return text


def _sanitize(value: Any, depth: int = 0) -> Any:
    """JSON-safe copy: unknown types are ``str()``-ed, long strings cut, depth bounded.

    Attribute values come from instrumented code and may be anything; a bad value must
    cost that value's fidelity, never the batch.
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # keep the file strict JSON
    if isinstance(value, str):
        return _clip(value)
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return {_clip(_text(k)): _sanitize(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_sanitize(v, depth + 1) for v in value]
    try:
        return _clip(str(value))
    except Exception:  # a broken __str__ is the host's bug; keep the span
        return f"<unprintable {type(value).__name__}>"


def _json(value: Any) -> str:
    # ensure_ascii escapes lone surrogates, so whatever the string, the column is valid.
    return json.dumps(_sanitize(value), separators=(",", ":"))


def _loads(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:  # written by something else: show the span without it
        return default


def _int64(value: Any) -> int:
    number = int(value)
    if not _INT64_MIN <= number <= _INT64_MAX:  # sqlite3 would raise OverflowError
        raise ValueError("out of the 64-bit range")
    return number


def _row(r: SpanRecord) -> tuple[Any, ...]:
    return (_text(r.trace_id).lower(), _text(r.span_id).lower(),
            _text(r.parent_span_id).lower() if r.parent_span_id else None,
            _text(r.name), _text(r.service), _text(r.kind), _int64(r.start_time_unix_nano),
            _int64(r.duration_ns), _text(r.status), _text(r.status_message or ""),
            _json(dict(r.attributes or {})), _json([e.to_json() for e in r.events or ()]),
            _json(dict(r.resource or {})))


def _record(row: Sequence[Any]) -> SpanRecord:
    events = tuple(
        SpanEvent(str(e.get("name", "")), int(e.get("time_unix_nano", 0)),
                  e.get("attributes") or {})
        for e in _loads(row[11], []) if isinstance(e, dict))
    return SpanRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                      row[8], row[9], _loads(row[10], {}), events, _loads(row[12], {}))


def _attribute_marks(key: str, value: str) -> tuple[str, str, str]:
    """The key as stored, then two strings one of which the stored JSON of a span the
    attribute matches contains.

    :func:`_json` writes ``"key":"value"`` for a string and ``"key":500`` for an integer,
    ``true``, ``false`` or ``null``, exactly so. A float, list or object may be written
    otherwise than typed, so for those the key alone must do.
    """
    name = json.dumps(_text(key)) + ":"
    as_string = name + json.dumps(value)
    try:
        literal = json.loads(value)
    except ValueError:
        return name, as_string, as_string
    if isinstance(literal, str):
        return name, as_string, as_string
    if (literal is None or isinstance(literal, (bool, int))) and json.dumps(literal) == value:
        return name, as_string, name + value
    return name, name, name


def _search_sql(request_id: str | None, service: str | None, operation: str | None,
                since_ns: int | None, until_ns: int | None, errors: bool,
                min_duration_ns: int | None, attribute: tuple[str, str] | None,
                limit: int | None) -> tuple[str, list[Any]]:
    """The query of :meth:`SpanStore.find_traces` and its arguments."""
    where: list[str] = []
    args: list[Any] = []
    if request_id is not None:
        where.append("trace_id IN (SELECT trace_id FROM span_request_ids "
                     "WHERE request_id = ?)")
        args.append(request_id.strip())
    if since_ns is not None:
        where.append("start_ns >= ?")
        args.append(int(since_ns))
    if until_ns is not None:
        where.append("start_ns < ?")
        args.append(int(until_ns))
    if min_duration_ns is not None:
        where.append("end_ns - start_ns >= ?")
        args.append(int(min_duration_ns))
    if errors:
        where.append("error = 1")
    span_where: list[str] = []
    span_args: list[Any] = []
    if since_ns is not None:  # no span starts before its trace: narrows the index range
        span_where.append("start_ns >= ?")
        span_args.append(int(since_ns))
    if service:
        span_where.append("service = ?")
        span_args.append(service)
    if operation:
        span_where.append("name = ?")
        span_args.append(operation)
    if attribute is not None:
        key, value = attribute
        span_where.append(_ATTRIBUTE_MATCH)
        span_args += [*_attribute_marks(key, value), _text(key), _text(value)]
        if where and not (service or operation):
            # No index to start from: read the spans of the traces the others leave.
            span_where.append(f"trace_id IN (SELECT trace_id FROM traces WHERE "
                              f"{' AND '.join(where)})")
            span_args += args
    if service or operation or attribute is not None:
        where.append(f"trace_id IN (SELECT trace_id FROM spans WHERE "
                     f"{' AND '.join(span_where)})")
        args += span_args
    args.append(-1 if limit is None else int(limit))
    return ("SELECT trace_id, start_ns, end_ns, span_count, error FROM traces "
            f"{('WHERE ' + ' AND '.join(where)) if where else ''} "
            "ORDER BY start_ns DESC, trace_id LIMIT ?", args)


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._forget_parent_connection()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class SpanStore:
    """Spans in one SQLite file; see the module docstring for the concurrency contract.

    ``busy_timeout_ms`` bounds every wait for another connection's lock. The file and its
    directory are created on first use. ``close()`` is idempotent; using the store after
    it reopens the connection.
    """

    def __init__(self, path: str, busy_timeout_ms: int = 5000) -> None:
        if busy_timeout_ms < 0:
            raise ValueError("busy_timeout_ms must be >= 0")
        self.path = os.fspath(path)
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        _STORES.add(self)

    @classmethod
    def from_url(cls, url: str, busy_timeout_ms: int = 5000) -> SpanStore:
        """A store for ``sqlite:///relative`` or ``sqlite:////absolute`` (SQLAlchemy style)."""
        return cls(path_from_url(url), busy_timeout_ms)

    def exists(self) -> bool:
        """Whether the file is there: a reader must not create an empty store."""
        return os.path.exists(self.path)

    def __enter__(self) -> SpanStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SpanStore({self.path!r})"

    # -- connection management -------------------------------------------------------

    def _forget_parent_connection(self) -> None:
        """In a fork child: never touch, close or finalise the parent's connection."""
        if self._conn is not None:
            _INHERITED.append(self._conn)
            self._conn = None
        self._lock = threading.Lock()  # the parent's may have been held at fork time
        self._pid = os.getpid()

    def _connection(self) -> sqlite3.Connection:
        """This process's connection, opened (and the schema created) on first use."""
        if self._conn is not None:
            return self._conn
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000.0,
                               isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            enable_wal(conn, self._busy_timeout_ms)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Create or upgrade the schema in one transaction, so racing processes agree."""
        if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < 1:
                for statement in _SCHEMA_V1:
                    conn.execute(statement)
            if version < 2:
                for statement in _SCHEMA_V2:
                    conn.execute(statement)
            # Future versions: `if version < 3: ...` here.
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    def _check_pid(self) -> None:
        # NOTE(os-tracing): register_at_fork covers os.fork(); the pid check also covers
        # children created by other means (e.g. a C extension calling fork()).
        if self._pid != os.getpid():
            self._forget_parent_connection()

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        self._check_pid()
        with self._lock:
            try:
                return self._connection().execute(sql, args).fetchall()
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    # -- writing ----------------------------------------------------------------------

    def write(self, records: Sequence[SpanRecord]) -> int:
        """Store a batch in one transaction; returns how many spans were new.

        Spans already stored (same trace and span id) are ignored. A record that cannot
        be converted at all (e.g. a non-integer start time) is skipped and logged, so it
        does not cost the rest of the batch. Raises :class:`StoreError` when the file
        cannot be written (locked beyond ``busy_timeout_ms``, disk full, corrupt); nothing
        of the batch is stored then.
        """
        rows = []
        for record in records:
            try:
                rows.append(_row(record))
            except (TypeError, ValueError, AttributeError) as exc:
                LOG.warning("os-tracing: a span could not be stored and was skipped (%s)",
                            type(exc).__name__)
        if not rows:
            return 0
        self._check_pid()
        with self._lock:
            try:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # rowcount, not total_changes: the latter counts the triggers' rows.
                    written = conn.executemany(_INSERT, rows).rowcount
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
            except (sqlite3.Error, OSError, OverflowError) as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
        return written

    # -- reading ----------------------------------------------------------------------

    def find_trace_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Stored trace ids starting with ``prefix`` (lowercase hex), at most ``limit``."""
        prefix = prefix.strip().lower()
        # A range on the primary key instead of LIKE: LIKE is case-insensitive by
        # default and so cannot use the index; 'g' sorts after every hex digit.
        rows = self._rows("SELECT DISTINCT trace_id FROM spans WHERE trace_id >= ? AND "
                          "trace_id < ? ORDER BY trace_id LIMIT ?",
                          (prefix, prefix + "g", int(limit)))
        return [row[0] for row in rows]

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with this id, a unique prefix of it (8+ hex digits) or its UUID form.

        ``None`` if nothing matches, the prefix is ambiguous or the id is not hex; the UUID
        form (dashes) is what osprofiler users know as the base id.
        """
        wanted = trace_id.strip().lower()
        if _UUID.fullmatch(wanted):
            wanted = wanted.replace("-", "")
        if not _HEX_PREFIX.fullmatch(wanted):
            return None
        if len(wanted) < 32:
            matches = self.find_trace_ids(wanted, limit=2)
            if len(matches) != 1:
                return None
            wanted = matches[0]
        rows = self._rows(f"{_SELECT} WHERE trace_id = ? ORDER BY start_ns, span_id",
                          (wanted,))
        if not rows:
            return None
        return Trace(wanted, [_record(r) for r in rows])

    def all_spans(self) -> list[SpanRecord]:
        """Every stored span ordered by start time (tests and small stores)."""
        return [_record(r) for r in self._rows(f"{_SELECT} ORDER BY start_ns, span_id")]

    def list_traces(self, service: str | None = None, operation: str | None = None,
                    since_ns: int | None = None, min_duration_ns: int | None = None,
                    errors_only: bool = False, limit: int | None = 20
                    ) -> list[TraceSummary]:
        """Summaries of matching traces, newest (latest start) first.

        :meth:`find_traces` without a request id; see there for the filters.
        """
        return self.find_traces(service=service, operation=operation, since_ns=since_ns,
                                min_duration_ns=min_duration_ns, errors=errors_only,
                                limit=limit)

    def find_traces(self, request_id: str | None = None, service: str | None = None,
                    operation: str | None = None, since_ns: int | None = None,
                    until_ns: int | None = None, errors: bool = False,
                    min_duration_ns: int | None = None,
                    attribute: tuple[str, str] | None = None, limit: int | None = 20
                    ) -> list[TraceSummary]:
        """Summaries of the traces matching every filter given, newest first.

        ``request_id``: a span of the trace carries it as ``openstack.request_id`` or
        ``openstack.global_request_id`` (exactly; surrounding blanks ignored), so both the
        id a service logged and the global id its callers share find the trace.
        ``service``, ``operation``, ``attribute``: the trace has a span of that service,
        with that name, with that attribute; given together, the *same* span must match
        them all (as Jaeger's search does). An ``attribute`` ``(key, value)`` matches a
        top-level attribute that is the string ``value``, or whose JSON is ``value``
        (``500``, ``true``, ``null``), since a command line has only strings.
        ``since_ns``/``until_ns``: the trace started at or after / before it.
        ``min_duration_ns``: the trace (latest end minus earliest start) lasted at least
        that. ``errors``: a span has status ``error``. ``limit=None`` lists all.

        The trace filters read the ``traces`` table, newest first on its index; the
        request id is an index lookup; service and name use their indexes. An attribute
        has no index: it is looked for in the spans of the service or name given, else
        of the traces the other filters leave, else in every span (only spans whose JSON
        names the key are parsed).
        """
        if limit is not None and limit <= 0:
            return []
        rows = self._rows(*_search_sql(request_id, service, operation, since_ns, until_ns,
                                       errors, min_duration_ns, attribute, limit))
        details = self._root_and_services([row[0] for row in rows])
        summaries = []
        for trace_id, start, end, count, error in rows:
            root_name, root_service, services = details.get(trace_id, ("", "", frozenset()))
            summaries.append(TraceSummary(trace_id, root_name, root_service, services,
                                          count, start, end - start, bool(error)))
        return summaries

    def sender_receiver_pairs(self, attributes: Sequence[str], since_ns: int | None = None,
                              service: str | None = None
                              ) -> list[tuple[SpanRecord, str]]:
        """Every CLIENT or PRODUCER span with a SERVER or CONSUMER child, and that child's
        service: what a service dependency graph is made of, joined here in SQL so a graph
        over a million spans never builds a record per span.

        ``since_ns``: only traces that started at or after it; ``service``: only pairs
        from or to it. A sender comes with its ids, service, kind, duration and status,
        and of its attributes only ``attributes`` (those present); one sender with
        several such children comes once per child. Senders whose start or duration is
        not an integer (rows another program wrote) are left out with one log line.
        """
        extract = ", ".join(_PROTOCOL_VALUE for _ in attributes)
        sql = (f"SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.service, s.kind, "
               f"s.start_ns, s.duration_ns, s.status, r.service"
               f"{', ' + extract if attributes else ''} "
               "FROM spans AS r JOIN spans AS s "
               "ON s.trace_id = r.trace_id AND s.span_id = r.parent_span_id "
               "WHERE r.kind IN ('server', 'consumer') AND s.kind IN ('client', 'producer') "
               "AND s.span_id != r.span_id")
        params: list[Any] = [path for key in attributes
                             for path in ('$."' + key.replace('"', '') + '"',) * 3]
        if since_ns is not None:
            sql += " AND r.trace_id IN (SELECT trace_id FROM traces WHERE start_ns >= ?)"
            params.append(int(since_ns))
        if service is not None:
            sql += " AND (s.service = ? OR r.service = ?)"
            params += [service, service]
        pairs = []
        skipped = 0
        for row in self._rows(sql, params):
            if type(row[6]) is not int or type(row[7]) is not int:
                skipped += 1  # written by something else; the rest of the graph stands
                continue
            found = {key: (_loads(value.decode(errors="replace"), None)
                           if isinstance(value, bytes) else value)
                     for key, value in zip(attributes, row[10:], strict=True)
                     if value is not None}
            sender = SpanRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                                row[7], row[8], attributes=found)
            pairs.append((sender, row[9]))
        if skipped:
            LOG.warning("%s: %d sending spans without integer times left out of the "
                        "dependency graph", self.path, skipped)
        return pairs

    def _root_and_services(self, trace_ids: Iterable[str]
                           ) -> dict[str, tuple[str, str, frozenset[str]]]:
        """Per trace: the root span's name and service, and every service involved.

        The root is the earliest span without a parent; failing that (the root was never
        exported) the earliest span whose parent is not stored.
        """
        ids = list(trace_ids)
        spans: dict[str, list[tuple[Any, ...]]] = {}
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i:i + _IN_CHUNK]
            for row in self._rows(
                    "SELECT trace_id, span_id, parent_span_id, name, service FROM spans "
                    f"WHERE trace_id IN ({', '.join('?' * len(chunk))}) "
                    "ORDER BY start_ns, span_id", chunk):
                spans.setdefault(row[0], []).append(row)
        result = {}
        for trace_id, rows in spans.items():
            known = {row[1] for row in rows}
            root = (next((r for r in rows if r[2] is None), None)
                    or next((r for r in rows if r[2] not in known), None) or rows[0])
            result[trace_id] = (root[3], root[4], frozenset(r[4] for r in rows))
        return result

    def close(self) -> None:
        """Close this process's connection (idempotent); a later call reopens it."""
        self._check_pid()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; a failed rollback must not mask the cause."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            LOG.debug("os-tracing: rollback failed", exc_info=True)
