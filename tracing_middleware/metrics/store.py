"""RED metrics in the embedded store: one row per series per export interval, in the same
SQLite file as the spans, so ``os-tracing metrics`` and the web UI find the exemplars'
traces beside them.

Rows hold deltas (what happened in their interval), so any window is a sum of rows and a
process that restarts or forks starts no new baseline. The histogram and the exemplars
are JSON. Each write is one short transaction on its own connection, once per interval
on the metrics exporter's thread: nothing is shared across ``fork()`` and a reader never
blocks a writer (WAL, as the span store sets it).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Sequence

from tracing_middleware.export.store import StoreError, enable_wal
from tracing_middleware.export.store_url import path_from_url
from tracing_middleware.metrics.points import Exemplar, Histogram, SeriesKey, SeriesPoint

__all__ = ["MetricStore"]

LOG = logging.getLogger(__name__)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS metric_points (
        service TEXT NOT NULL,
        kind TEXT NOT NULL,
        operation TEXT NOT NULL,
        outcome TEXT NOT NULL,
        instance TEXT NOT NULL,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        count INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        sum_ns INTEGER NOT NULL,
        min_ns INTEGER NOT NULL,
        max_ns INTEGER NOT NULL,
        histogram TEXT NOT NULL,
        exemplars TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS metric_points_by_end ON metric_points (end_ns)",
    "CREATE INDEX IF NOT EXISTS metric_points_by_service ON metric_points (service, end_ns)",
)
_COLUMNS = ("service", "kind", "operation", "outcome", "instance", "start_ns", "end_ns",
            "count", "errors", "sum_ns", "min_ns", "max_ns", "histogram", "exemplars")


def _histogram_json(histogram: Histogram) -> str:
    return json.dumps({"scale": histogram.scale, "zero_count": histogram.zero_count,
                       "offset": histogram.offset,
                       "bucket_counts": list(histogram.bucket_counts),
                       "bounds": list(histogram.bounds)}, separators=(",", ":"))


def _whole(value: object) -> int:
    """A stored integer column, or ``ValueError`` (a float, text or blob is damage)."""
    if type(value) is not int:
        raise ValueError(f"not an integer: {value!r}")
    return value


def _histogram(text: str) -> Histogram:
    doc = json.loads(text)
    return Histogram(int(doc["scale"]), int(doc["zero_count"]), int(doc["offset"]),
                     tuple(int(c) for c in doc["bucket_counts"]),
                     tuple(int(b) for b in doc.get("bounds", ())))


class MetricStore:
    """The ``metric_points`` table of a store file (``sqlite:///...``)."""

    def __init__(self, path: str, busy_timeout_ms: int = 5000) -> None:
        self.path = os.fspath(path)
        self._busy_timeout_ms = int(busy_timeout_ms)

    @classmethod
    def from_url(cls, url: str) -> MetricStore:
        return cls(path_from_url(url))

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def _connect(self) -> sqlite3.Connection:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000,
                               isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            enable_wal(conn, self._busy_timeout_ms)
            # One transaction, taken with the busy handler: workers of one server
            # flush together at a stop and must not see each other's half-made schema.
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def write(self, points: Sequence[SeriesPoint], instance: str) -> int:
        """Store delta points of one process (``instance``) in one transaction; points
        that counted nothing are skipped. Returns how many rows were written."""
        rows = [(p.key.service, p.key.kind, p.key.operation, p.key.outcome, instance,
                 p.start_time_unix_nano, p.time_unix_nano, p.count, p.errors, p.sum_ns,
                 p.min_ns, p.max_ns, _histogram_json(p.histogram),
                 json.dumps([[e.value_ns, e.time_unix_nano, e.trace_id, e.span_id]
                             for e in p.exemplars], separators=(",", ":")))
                for p in points if p.count]
        if not rows:
            return 0
        try:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    f"INSERT INTO metric_points ({', '.join(_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(_COLUMNS))})", rows)
                conn.execute("COMMIT")
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        return len(rows)

    def read(self, since_ns: int | None = None, until_ns: int | None = None,
             service: str | None = None) -> list[SeriesPoint]:
        """The stored delta points whose interval ended in ``[since_ns, until_ns)``,
        oldest first; an absent file holds none (reading never creates it)."""
        if not self.exists():
            return []
        sql = f"SELECT {', '.join(_COLUMNS)} FROM metric_points WHERE 1"
        args: list[object] = []
        if since_ns is not None:
            sql += " AND end_ns >= ?"
            args.append(int(since_ns))
        if until_ns is not None:
            sql += " AND end_ns < ?"
            args.append(int(until_ns))
        if service is not None:
            sql += " AND service = ?"
            args.append(service)
        sql += " ORDER BY end_ns"
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                   timeout=self._busy_timeout_ms / 1000)
            try:
                rows = conn.execute(sql, args).fetchall()
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # spans are stored, metrics not (yet)
            raise StoreError(f"{self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        points = []
        damaged = 0
        for row in rows:
            try:
                exemplars = tuple(Exemplar(int(v), int(t), str(trace), str(span))
                                  for v, t, trace, span in json.loads(row[13]))
                # SQLite keeps whatever type was written: every number is checked here,
                # so a damaged row is skipped rather than failing a sum later.
                points.append(SeriesPoint(
                    SeriesKey(str(row[0]), str(row[1]), str(row[2]), str(row[3])),
                    *(_whole(value) for value in row[5:12]), _histogram(row[12]),
                    exemplars))
            except (ValueError, TypeError, KeyError):
                damaged += 1  # a damaged row costs itself, not the report
        if damaged:
            LOG.warning("os-tracing: %s: %d damaged metrics row(s) skipped", self.path,
                        damaged)
        return points
