"""What an operator reads off the stored metrics: per operation, its rate, error share and
latency percentiles over a window, with a kept trace to open; and the same per interval,
for a latency-over-time chart.

Pure functions over delta points (as the embedded store keeps them), so the
``os-tracing metrics`` command and the web UI report the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tracing_middleware.metrics.histogram import merge, quantile
from tracing_middleware.metrics.points import Exemplar, SeriesPoint

__all__ = ["operations", "timeline"]

_Group = tuple[str, str, str]


def _percentiles(histogram: Any, low: int, high: int) -> dict[str, int | None]:
    found = {}
    for name, q in (("p50_ns", 0.5), ("p95_ns", 0.95), ("p99_ns", 0.99)):
        value = quantile(histogram, q, low, high)
        found[name] = None if value is None else round(value)
    return found


def _slowest(exemplars: Iterable[Exemplar]) -> Exemplar | None:
    """The kept request to open first: the slowest, the most recent of equals."""
    return max(exemplars, key=lambda e: (e.value_ns, e.time_unix_nano), default=None)


def operations(points: Sequence[SeriesPoint], window_ns: int | None = None
               ) -> list[dict[str, Any]]:
    """One row per (service, kind, operation), outcomes merged, busiest first.

    ``window_ns`` is the window's length for the rate; without it, from the earliest
    point's start to the latest point's end.
    """
    groups: dict[_Group, list[SeriesPoint]] = {}
    for point in points:
        key = point.key
        groups.setdefault((key.service, key.kind, key.operation), []).append(point)
    if window_ns is None and points:
        window_ns = (max(p.time_unix_nano for p in points)
                     - min(p.start_time_unix_nano for p in points))
    rows = []
    for (service, kind, operation), members in groups.items():
        count = sum(p.count for p in members)
        errors = sum(p.errors for p in members)
        histogram = members[0].histogram
        for other in members[1:]:
            try:
                histogram = merge(histogram, other.histogram)
            except ValueError:  # bucket bounds changed between intervals: keep the newest
                histogram = other.histogram
        counted = [p for p in members if p.count]
        low = min((p.min_ns for p in counted), default=0)
        high = max((p.max_ns for p in counted), default=0)
        outcomes: dict[str, int] = {}
        for point in members:
            outcomes[point.key.outcome] = outcomes.get(point.key.outcome, 0) + point.count
        exemplar = _slowest(e for p in members for e in p.exemplars)
        rows.append({
            "service": service, "kind": kind, "operation": operation,
            "count": count, "errors": errors,
            **_percentiles(histogram, low, high),
            "exemplar_trace_id": exemplar.trace_id if exemplar else None,
            "exemplar_span_id": exemplar.span_id if exemplar else None,
            "exemplar_ns": exemplar.value_ns if exemplar else None,
            "rate_per_s": round(count / (window_ns / 1e9), 3) if window_ns else None,
            "error_percent": round(100 * errors / count, 2) if count else 0.0,
            "outcomes": dict(sorted(outcomes.items())),
            "max_ns": high})
    rows.sort(key=lambda r: (-r["count"], r["service"], r["kind"], r["operation"]))
    return rows


def timeline(points: Sequence[SeriesPoint], service: str, kind: str, operation: str
             ) -> list[dict[str, Any]]:
    """One operation interval by interval (the store's rows, all processes of an interval
    end merged), oldest first: count, errors, p50/p95/p99 and the interval's slowest
    exemplar: the points of a latency chart that link to traces."""
    by_end: dict[int, list[SeriesPoint]] = {}
    for point in points:
        key = point.key
        if (key.service, key.kind, key.operation) == (service, kind, operation):
            by_end.setdefault(point.time_unix_nano, []).append(point)
    return [{"time_unix_nano": end, **{k: v for k, v in operations(members)[0].items()
                                        if k not in ("service", "kind", "operation",
                                                     "rate_per_s")}}
            for end, members in sorted(by_end.items())]
