"""Counts every request and message the edges see, sampled or not, for almost nothing.

Head sampling keeps one trace in a hundred or a thousand, so rates, errors and latency
read from spans miss rare errors and slow tails. The edges (the paste filter, the
``traced+`` driver, the HTTP client integrations) see every request before the sampling
decision and hand each one here.

The request thread does as little as it can: :meth:`Recorder.record` appends one tuple
to a list (``list.append`` is atomic under the GIL, so no lock is taken) and returns.
Everything else — turning a raw path into its route template, folding operations past
the series cap into :data:`~tracing_middleware.metrics.points.OTHER`, the series lookup,
bucketing, exemplars — happens in :meth:`Recorder.collect`, on the exporter's thread,
a series' batch at a time. The list is bounded: the append that takes it past
``buffer_limit`` entries drains it inline, so memory stays bounded when nothing collects.
The edges' unsampled paths do what ``record`` does inline (append to
:attr:`Recorder.buffer`, then :meth:`Recorder.overflow` past
:attr:`Recorder.buffer_limit`): a Python call is a sizeable part of the budget there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tracing_middleware.httputil import route_template
from tracing_middleware.metrics.histogram import (
    Aggregator,
    ExplicitHistogram,
    ExponentialHistogram,
)
from tracing_middleware.metrics.points import OTHER, Exemplar, SeriesKey, SeriesPoint

__all__ = ["ERROR_OUTCOMES", "Recorder", "http_outcome"]

LOG = logging.getLogger(__name__)

#: Outcomes counted as errors: a server error, an RPC error reply or exception, a timeout.
ERROR_OUTCOMES = frozenset({"5xx", "error", "timeout"})

#: Outcomes the edges hand over as they are; anything else is an HTTP status.
_FINAL = frozenset({"ok", "error", "timeout", "1xx", "2xx", "3xx", "4xx", "5xx"})

#: The most raw (method, path) -> route entries :meth:`Recorder.collect` remembers:
#: paths hold ids, so they are many; the cache is emptied when full.
_ROUTE_CACHE = 4096

_warned_cap = False
_warn_lock = threading.Lock()


def http_outcome(status: Any) -> str:
    """``"404 Not Found"`` or ``404`` -> ``"4xx"``; anything else (no status: the
    application failed before answering) -> ``"5xx"``."""
    head = str(status)[:3] if status is not None else ""
    if len(head) == 3 and head.isdigit() and "1" <= head[0] <= "5":
        return head[0] + "xx"
    return "5xx"


class _Series:
    """One series' interval: counts, extremes, histogram and exemplars."""

    __slots__ = ("count", "errors", "histogram", "max_ns", "min_ns", "sum_ns")

    def __init__(self, histogram: Aggregator) -> None:
        self.count = self.errors = self.sum_ns = self.max_ns = 0
        self.min_ns = -1
        self.histogram = histogram

    def add(self, other: _Series) -> None:
        if not other.count:
            return
        self.count += other.count
        self.errors += other.errors
        self.sum_ns += other.sum_ns
        self.max_ns = max(self.max_ns, other.max_ns)
        self.min_ns = other.min_ns if self.min_ns < 0 else min(self.min_ns, other.min_ns)
        self.histogram.merge_from(other.histogram)


class Recorder:
    """RED metrics of one process: request count, error count and a latency histogram per
    (service, kind, operation, outcome).

    ``max_series`` caps the series (``[tracing] metrics_max_series``); a new series past
    it is counted under the operation :data:`~tracing_middleware.metrics.points.OTHER`,
    and one log line per process says so. ``bounds`` (ns, increasing) selects explicit
    buckets instead of the exponential histogram. ``clock`` gives the wall time in ns of
    collections and exemplars, never read on a request.
    """

    def __init__(self, max_series: int = 1000, bounds: Sequence[int] | None = None,
                 clock: Callable[[], int] = time.time_ns, buffer_limit: int = 8192) -> None:
        if max_series < 1:
            raise ValueError("max_series must be at least 1")
        if buffer_limit < 1:
            raise ValueError("buffer_limit must be at least 1")
        self.max_series = max_series
        self.bounds = tuple(int(b) for b in bounds) if bounds else None
        if self.bounds is not None:
            ExplicitHistogram(self.bounds)  # checks the bounds now, not at the first collect
        self._clock = clock
        #: Entries :meth:`record` appends before draining them itself.
        self.buffer_limit = buffer_limit
        #: ``(service, kind, operation, outcome, duration_ns, exemplar)`` tuples, as
        #: :meth:`record` takes them, waiting for :meth:`collect`.
        self.buffer: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self.start_time_unix_nano = clock()
        self._last_collect = self.start_time_unix_nano
        self._interval: dict[SeriesKey, _Series] = {}
        self._total: dict[SeriesKey, _Series] = {}
        self._known: set[SeriesKey] = set()
        self._folded: dict[tuple[Any, ...], SeriesKey] = {}
        self._routes: dict[tuple[str, str], str] = {}

    # -- the request thread ----------------------------------------------------------------

    def record(self, service: str, kind: str, operation: Any, outcome: Any,
               duration_ns: int, exemplar: Any = None) -> None:
        """Count one request or message. Never raises, takes no lock (unless the buffer
        overflows).

        ``operation`` is the span name, or ``(method, path)`` for an HTTP server request,
        templated at collection. ``outcome`` is ``ok``/``error``/``timeout``, an HTTP
        status line or code, or ``None`` (an HTTP server request that answered nothing).
        ``exemplar`` is the span context (with integer ``trace_id``/``span_id``) of a
        *sampled* span, else ``None``.
        """
        buffer = self.buffer
        buffer.append((service, kind, operation, outcome, duration_ns, exemplar))
        if len(buffer) > self.buffer_limit:
            self.overflow()

    def overflow(self) -> None:
        """Count the buffer now, on the thread whose append took it past the limit."""
        try:
            with self._lock:
                self._drain(self._clock())
        except Exception:
            LOG.debug("os-tracing: counting the metrics buffer failed", exc_info=True)

    # -- the exporter thread ---------------------------------------------------------------

    def collect(self, delta: bool) -> list[SeriesPoint]:
        """Every series as a delta since the previous collection (series that saw
        nothing are left out) or cumulative since the recorder started. Thread-safe."""
        with self._lock:
            interval, start, now = self._take()
            return self._points(interval if delta else self._total,
                                start if delta else self.start_time_unix_nano, now)

    def collect_both(self) -> tuple[list[SeriesPoint], list[SeriesPoint]]:
        """The deltas since the previous collection and the totals since the recorder
        started, from one drain: an exporter with both kinds of sink hands every count
        to each, and keeps no totals of its own. Thread-safe."""
        with self._lock:
            interval, start, now = self._take()
            return (self._points(interval, start, now),
                    self._points(self._total, self.start_time_unix_nano, now))

    def _take(self) -> tuple[dict[SeriesKey, _Series], int, int]:
        """Drain the buffer, add the interval to the totals and start the next one:
        the interval, its start and its end. Called with the lock held."""
        now = self._clock()
        self._drain(now)
        interval, self._interval = self._interval, {}
        for key, series in interval.items():
            total = self._total.get(key)
            if total is None:
                total = self._total[key] = _Series(self._new_histogram())
            total.add(series)
        start, self._last_collect = self._last_collect, now
        return interval, start, now

    def _points(self, series: dict[SeriesKey, _Series], start: int, now: int
                ) -> list[SeriesPoint]:
        return [self._point(key, one, start, now) for key, one in series.items()
                if one.count]

    def _point(self, key: SeriesKey, series: _Series, start: int, now: int) -> SeriesPoint:
        return SeriesPoint(key=key, start_time_unix_nano=start, time_unix_nano=now,
                           count=series.count, errors=series.errors, sum_ns=series.sum_ns,
                           min_ns=max(series.min_ns, 0), max_ns=series.max_ns,
                           histogram=series.histogram.point(),
                           exemplars=series.histogram.exemplar_tuple())

    def _new_histogram(self) -> Aggregator:
        if self.bounds is not None:
            return ExplicitHistogram(self.bounds)
        return ExponentialHistogram()

    def _drain(self, now: int) -> None:
        """Count what the request threads appended. Called with the lock held; an entry
        appended while this runs stays for the next drain.

        One pass sorts the durations by series (one dictionary lookup per entry: the raw
        entry's list of durations); each series then takes its batch through ``sum``,
        ``min``, ``max`` and :meth:`~.histogram.Aggregator.record_many`, which run mostly
        in C, instead of a dozen Python steps per entry.
        """
        buffer = self.buffer
        n = len(buffer)
        if not n:
            return
        chunk = buffer[:n]
        del buffer[:n]
        lists: dict[tuple[Any, ...], list[Any]] = {}  # raw entry -> its series' durations
        batches: dict[SeriesKey, list[Any]] = {}
        sampled: list[tuple[SeriesKey, Any, Any]] = []
        folded = self._folded
        for entry in chunk:
            try:
                service, kind, operation, outcome, duration, exemplar = entry
                raw = (service, kind, operation, outcome)
                durations = lists.get(raw)
                if durations is None:
                    key = folded.get(raw)
                    if key is None:
                        key = self._fold(raw)
                    durations = batches.get(key)
                    if durations is None:
                        durations = batches[key] = []
                    lists[raw] = durations
                durations.append(duration)
                if exemplar is not None:
                    sampled.append((raw, duration, exemplar))
            except Exception:  # a bad entry costs itself, never the collection
                LOG.debug("os-tracing: a metrics entry could not be counted", exc_info=True)
        interval = self._interval
        for key, durations in batches.items():
            try:
                self._count(interval, key, durations)
            except Exception:
                LOG.debug("os-tracing: a metrics series could not be counted", exc_info=True)
        for raw, duration, context in sampled:
            try:
                value = _as_ns(duration)
                exemplar = None if value is None else self._exemplar(context, value, now)
                if exemplar is not None:
                    key = folded.get(raw) or self._fold(raw)  # the cache may have been emptied
                    interval[key].histogram.keep(value, exemplar)
            except Exception:
                LOG.debug("os-tracing: an exemplar could not be kept", exc_info=True)

    def _count(self, interval: dict[SeriesKey, _Series], key: SeriesKey,
               durations: list[Any]) -> None:
        """Add one series' batch of durations (ns) to the interval."""
        try:
            total = sum(durations)
            if type(total) is not int or min(durations) < 0:
                raise TypeError("not all non-negative integers")
        except TypeError:
            durations = [d for d in map(_as_ns, durations) if d is not None]
            total = sum(durations)
        if not durations:
            return
        series = interval.get(key)
        if series is None:
            series = interval[key] = _Series(self._new_histogram())
        series.count += len(durations)
        if key.outcome in ERROR_OUTCOMES:
            series.errors += len(durations)
        series.sum_ns += total
        low, high = min(durations), max(durations)
        if high > series.max_ns:
            series.max_ns = high
        if series.min_ns < 0 or low < series.min_ns:
            series.min_ns = low
        series.histogram.record_many(durations)

    @staticmethod
    def _exemplar(context: Any, duration: int, now: int) -> Exemplar | None:
        if context is None:
            return None
        trace_id, span_id = context.trace_id, context.span_id
        if not (isinstance(trace_id, int) and isinstance(span_id, int)):
            return None
        return Exemplar(value_ns=duration, time_unix_nano=now, trace_id=f"{trace_id:032x}",
                        span_id=f"{span_id:016x}")

    def _fold(self, raw: tuple[Any, ...]) -> SeriesKey:
        """The series of a raw entry: the HTTP route and outcome class worked out, and
        past the cap, the operation folded into ``other``."""
        service, kind, operation, outcome = raw
        if isinstance(operation, tuple):
            method, path = operation
            route = self._routes.get(operation)
            if route is None:
                if len(self._routes) >= _ROUTE_CACHE:
                    self._routes.clear()
                route = self._routes[operation] = f"{method} {route_template(path or '/')}"
            operation = route
        if outcome not in _FINAL:
            outcome = http_outcome(outcome)
        key = SeriesKey(str(service), str(kind), str(operation), str(outcome))
        if key not in self._known:
            if len(self._known) >= self.max_series:
                _warn_cap(self.max_series)
                key = SeriesKey(key.service, key.kind, OTHER, key.outcome)
            self._known.add(key)
        if len(self._folded) >= _ROUTE_CACHE:
            self._folded.clear()
        self._folded[raw] = key
        return key


def _as_ns(duration: Any) -> int | None:
    """A duration as the edges should hand it (integer ns, a negative one as zero), or
    ``None`` for one that is not a number."""
    try:
        return int(duration) if duration > 0 else 0
    except (TypeError, ValueError, OverflowError):
        return None


def _warn_cap(cap: int) -> None:
    global _warned_cap
    with _warn_lock:
        if _warned_cap:
            return
        _warned_cap = True
    LOG.warning("os-tracing: %d metric series reached; new operations are counted as "
                "%r (raise [tracing] metrics_max_series to keep them apart)", cap, OTHER)
