"""What the RED metrics hand from the recorder to the exporters and the store.

A series is one (service, kind, operation, outcome) key. A :class:`SeriesPoint` is what
the recorder knows of one series at a collection: counts, the latency histogram and the
exemplars that link its buckets to kept traces. Plain frozen values, so the recorder, the
OTLP exporter, the embedded store and the ``os-tracing metrics`` command agree on one
shape without importing each other.
"""

from __future__ import annotations

import dataclasses

__all__ = ["KINDS", "OTHER", "Exemplar", "Histogram", "SeriesKey", "SeriesPoint"]

#: Span kinds that are counted, OpenTelemetry's names in lower case.
KINDS = ("server", "client", "producer", "consumer")
#: The operation a series is folded into once a process holds its cap of series.
OTHER = "other"


@dataclasses.dataclass(frozen=True, slots=True)
class SeriesKey:
    """What a series is counted by. ``operation`` is the span's name (a route template
    or an RPC method, never an id); ``outcome`` is an HTTP status class (``2xx``...``5xx``)
    or, for RPC, ``ok``, ``error`` or ``timeout``."""

    service: str
    kind: str
    operation: str
    outcome: str


@dataclasses.dataclass(frozen=True, slots=True)
class Exemplar:
    """One kept (sampled) request that fell in a bucket: a link from the metric to its
    trace."""

    value_ns: int
    time_unix_nano: int
    trace_id: str
    span_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class Histogram:
    """Durations in nanoseconds.

    Either OpenTelemetry's base-2 exponential histogram (``bounds`` empty): bucket
    ``offset + i`` counts values in ``(base**(offset+i), base**(offset+i+1)]`` with
    ``base = 2**(2**-scale)``, and ``zero_count`` the values of 0; or explicit buckets
    (``bounds`` set, in ns): ``bucket_counts[i]`` counts values in
    ``(bounds[i-1], bounds[i]]``, with one more bucket above the last bound.
    """

    scale: int = 0
    zero_count: int = 0
    offset: int = 0
    bucket_counts: tuple[int, ...] = ()
    bounds: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One series over ``[start_time_unix_nano, time_unix_nano)``: a delta (what happened
    in the interval) or cumulative (since ``start_time_unix_nano``, the recorder's start),
    as the collection asked."""

    key: SeriesKey
    start_time_unix_nano: int
    time_unix_nano: int
    count: int
    errors: int
    sum_ns: int
    min_ns: int
    max_ns: int
    histogram: Histogram
    exemplars: tuple[Exemplar, ...] = ()
