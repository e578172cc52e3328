"""Latency histograms: OpenTelemetry's base-2 exponential histogram and explicit buckets.

The exponential histogram follows the OpenTelemetry metrics data model
("ExponentialHistogram"): bucket ``i`` at scale ``s`` holds the values in
``(base**i, base**(i+1)]`` with ``base = 2**(2**-s)``. Recording starts at scale
:data:`MAX_SCALE` and, when a value would need more than :data:`MAX_SIZE` buckets, halves
the resolution as often as needed, merging neighbouring buckets, exactly as the SDK's
``ExponentialBucketHistogramAggregation`` does, so a point we export has the scale, offset
and counts the SDK would give for the same values. Values are nanoseconds (integers),
so the only non-integer step is the logarithm at positive scales, the same one as the
SDK's.

These run on the exporter's thread (see :mod:`tracing_middleware.metrics.recorder`), never
on a request. :func:`merge` and :func:`quantile` work on the frozen
:class:`~tracing_middleware.metrics.points.Histogram`, so the store and the ``metrics``
command can add up intervals and read p50/p95/p99 without the recorder.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Sequence

from tracing_middleware.metrics.points import Exemplar, Histogram

__all__ = ["MAX_SCALE", "MAX_SIZE", "Aggregator", "ExplicitHistogram", "ExponentialHistogram",
           "index_of", "lower_boundary", "merge", "quantile"]

#: The SDK's defaults: the finest scale a histogram starts at, and its most buckets.
MAX_SCALE = 20
MAX_SIZE = 160


_LOG2E = 1 / math.log(2)
_FACTORS = {scale: math.ldexp(_LOG2E, scale) for scale in range(1, MAX_SCALE + 1)}
#: Exact powers of two, the values whose bucket the logarithm alone may miss: a batch
#: holding none is bucketed in one comprehension.
_POWERS = frozenset(1 << e for e in range(128))


def index_of(value: int, scale: int) -> int:
    """The bucket of ``value`` (> 0) at ``scale``, as the SDK's mappings compute it.

    An exact power of two ``2**e`` is the upper boundary of its bucket, so it maps to
    ``(e << scale) - 1`` at positive scales and ``(e - 1) >> -scale`` at the others.
    """
    exponent = value.bit_length() - 1
    if value & (value - 1) == 0:  # an exact power of two
        if scale > 0:
            return (exponent << scale) - 1
        return (exponent - 1) >> -scale
    if scale > 0:
        factor = _FACTORS.get(scale) or math.ldexp(_LOG2E, scale)
        return math.floor(math.log(value) * factor)
    return exponent >> -scale


def lower_boundary(index: int, scale: int) -> float:
    """The exclusive lower bound of bucket ``index`` at ``scale``: ``2**(index/2**scale)``."""
    if scale > 0:
        return math.exp(index * math.log(2) / (1 << scale))
    return math.ldexp(1.0, index << -scale)


def _scale_change(low: int, high: int, max_size: int) -> int:
    change = 0
    while high - low >= max_size:
        high >>= 1
        low >>= 1
        change += 1
    return change


class Aggregator:
    """What both kinds of histogram share: counts, and per bucket the most recent
    exemplar (a kept request that fell in it)."""

    __slots__ = ("exemplars",)

    def __init__(self) -> None:
        self.exemplars: dict[int, Exemplar] = {}

    def record(self, value: int, exemplar: Exemplar | None = None) -> None:
        raise NotImplementedError

    def record_many(self, values: Sequence[int]) -> None:
        """Record every value (integers), as :meth:`record` would one after another."""
        for value in values:
            self.record(value)

    def keep(self, value: int, exemplar: Exemplar) -> None:
        """Keep ``exemplar`` for the bucket of ``value``, a value already recorded."""
        raise NotImplementedError

    def point(self) -> Histogram:
        raise NotImplementedError

    def merge_from(self, other: Aggregator) -> None:
        raise NotImplementedError

    def _keep(self, index: int, exemplar: Exemplar) -> None:
        held = self.exemplars.get(index)
        if held is None or held.time_unix_nano <= exemplar.time_unix_nano:
            self.exemplars[index] = exemplar

    def exemplar_tuple(self) -> tuple[Exemplar, ...]:
        return tuple(self.exemplars[i] for i in sorted(self.exemplars))


class ExponentialHistogram(Aggregator):
    """OpenTelemetry's base-2 exponential histogram of positive integers (and zeros)."""

    __slots__ = ("counts", "high", "low", "max_size", "scale", "zero_count")

    def __init__(self, max_size: int = MAX_SIZE, scale: int = MAX_SCALE) -> None:
        super().__init__()
        if max_size < 2:
            raise ValueError("max_size must be at least 2")
        self.max_size = max_size
        self.scale = scale
        self.zero_count = 0
        self.counts: dict[int, int] = {}
        self.low = self.high = 0

    def record(self, value: int, exemplar: Exemplar | None = None) -> None:
        if value <= 0:
            self.zero_count += 1
            return
        index = index_of(value, self.scale)
        if not self.counts:
            self.low = self.high = index
        elif index < self.low or index > self.high:
            low, high = min(index, self.low), max(index, self.high)
            if high - low >= self.max_size:
                self.downscale(_scale_change(low, high, self.max_size))
                index = index_of(value, self.scale)
            self.low, self.high = min(index, self.low), max(index, self.high)
        counts = self.counts  # after a downscale, which replaces it
        counts[index] = counts.get(index, 0) + 1
        if exemplar is not None:
            self._keep(index, exemplar)

    def record_many(self, values: Sequence[int]) -> None:
        """Record a batch of integers in a few passes that run mostly in C: the indices in
        one comprehension, the range from ``min``/``max``, one downscale for the whole
        batch, then a count per bucket. The scale and counts are those of recording the
        values one by one (the final scale depends only on the range of the indices)."""
        if not values:
            return
        if min(values) <= 0:
            self.zero_count += sum(1 for v in values if v <= 0)
            values = [v for v in values if v > 0]
            if not values:
                return
        if not _POWERS.isdisjoint(values):  # rare: the exact rule, value by value
            for value in values:
                self.record(value)
            return
        scale = self.scale
        if scale > 0:
            factor = _FACTORS.get(scale) or math.ldexp(_LOG2E, scale)
            log, floor = math.log, math.floor
            indices = [floor(log(v) * factor) for v in values]
        else:
            shift = -scale
            indices = [(v.bit_length() - 1) >> shift for v in values]
        low, high = min(indices), max(indices)
        if self.counts:
            low, high = min(low, self.low), max(high, self.high)
        change = _scale_change(low, high, self.max_size)
        if change:
            self.downscale(change)
            indices = [i >> change for i in indices]
            low, high = low >> change, high >> change
        counts = self.counts
        for index, count in Counter(indices).items():
            counts[index] = counts.get(index, 0) + count
        self.low, self.high = low, high

    def keep(self, value: int, exemplar: Exemplar) -> None:
        if value > 0:  # as record(): a zero has no bucket to link from
            self._keep(index_of(value, self.scale), exemplar)

    def downscale(self, change: int) -> None:
        """Halve the resolution ``change`` times: bucket ``i`` becomes ``i >> change``."""
        if change <= 0:
            return
        counts: dict[int, int] = {}
        for index, count in self.counts.items():
            counts[index >> change] = counts.get(index >> change, 0) + count
        self.counts = counts
        self.low >>= change
        self.high >>= change
        self.scale -= change
        held, self.exemplars = self.exemplars, {}
        for index, exemplar in held.items():
            self._keep(index >> change, exemplar)

    def merge_from(self, other: Aggregator) -> None:
        if not isinstance(other, ExponentialHistogram):
            raise TypeError("an exponential histogram merges only with another")
        self.zero_count += other.zero_count
        if not other.counts:
            for index, exemplar in other.exemplars.items():
                self._keep(index, exemplar)
            return
        theirs = other.counts
        change_theirs = 0
        if other.scale < self.scale:
            self.downscale(self.scale - other.scale)
        elif other.scale > self.scale:
            change_theirs = other.scale - self.scale
        their_low, their_high = other.low >> change_theirs, other.high >> change_theirs
        if self.counts:
            low, high = min(self.low, their_low), max(self.high, their_high)
        else:
            low, high = their_low, their_high
        extra = _scale_change(low, high, self.max_size)
        self.downscale(extra)
        shift = change_theirs + extra
        for index, count in theirs.items():
            self.counts[index >> shift] = self.counts.get(index >> shift, 0) + count
        for index, exemplar in other.exemplars.items():
            self._keep(index >> shift, exemplar)
        self.low, self.high = min(self.counts), max(self.counts)

    def point(self) -> Histogram:
        if not self.counts:
            return Histogram(scale=self.scale, zero_count=self.zero_count)
        counts = self.counts
        return Histogram(scale=self.scale, zero_count=self.zero_count, offset=self.low,
                         bucket_counts=tuple(counts.get(i, 0)
                                             for i in range(self.low, self.high + 1)))

    @classmethod
    def from_point(cls, point: Histogram, max_size: int = MAX_SIZE) -> ExponentialHistogram:
        made = cls(max_size, point.scale)
        made.zero_count = point.zero_count
        made.counts = {point.offset + i: c for i, c in enumerate(point.bucket_counts) if c}
        if made.counts:
            made.low, made.high = min(made.counts), max(made.counts)
            if made.high - made.low >= max_size:
                made.downscale(_scale_change(made.low, made.high, max_size))
        return made


class ExplicitHistogram(Aggregator):
    """Buckets at fixed bounds (ns): ``counts[i]`` holds ``(bounds[i-1], bounds[i]]``,
    and one more bucket holds what is above the last bound."""

    __slots__ = ("bounds", "counts")

    def __init__(self, bounds: Sequence[int]) -> None:
        super().__init__()
        bounds = tuple(int(b) for b in bounds)
        if not bounds or any(a >= b for a, b in itertools.pairwise(bounds)):
            raise ValueError("bounds must be a non-empty, strictly increasing sequence")
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)

    def record(self, value: int, exemplar: Exemplar | None = None) -> None:
        index = bisect.bisect_left(self.bounds, value)
        self.counts[index] += 1
        if exemplar is not None:
            self._keep(index, exemplar)

    def record_many(self, values: Sequence[int]) -> None:
        bounds, find, counts = self.bounds, bisect.bisect_left, self.counts
        for index, count in Counter([find(bounds, v) for v in values]).items():
            counts[index] += count

    def keep(self, value: int, exemplar: Exemplar) -> None:
        self._keep(bisect.bisect_left(self.bounds, value), exemplar)

    def merge_from(self, other: Aggregator) -> None:
        if not isinstance(other, ExplicitHistogram) or other.bounds != self.bounds:
            raise TypeError("explicit histograms merge only with the same bounds")
        for index, count in enumerate(other.counts):
            self.counts[index] += count
        for index, exemplar in other.exemplars.items():
            self._keep(index, exemplar)

    def point(self) -> Histogram:
        return Histogram(bucket_counts=tuple(self.counts), bounds=self.bounds)


def merge(a: Histogram, b: Histogram, max_size: int = MAX_SIZE) -> Histogram:
    """The histogram of both intervals' values. Exponential ones of different scales meet
    at the coarser scale (and coarser still if their range needs more than ``max_size``
    buckets); explicit ones must share their bounds."""
    if a.bounds or b.bounds:
        if a.bounds != b.bounds:
            raise ValueError("explicit histograms merge only with the same bounds")
        size = max(len(a.bucket_counts), len(b.bucket_counts))
        counts = [0] * size
        for part in (a.bucket_counts, b.bucket_counts):
            for index, count in enumerate(part):
                counts[index] += count
        return Histogram(bucket_counts=tuple(counts), bounds=a.bounds)
    merged = ExponentialHistogram.from_point(a, max_size)
    merged.merge_from(ExponentialHistogram.from_point(b, max_size))
    return merged.point()


def quantile(h: Histogram, q: float, min_ns: int | None = None,
             max_ns: int | None = None) -> float | None:
    """An estimate of the ``q``-quantile (0..1) from the buckets alone, ``None`` when the
    histogram is empty.

    The rank is found by walking the buckets; inside its bucket the value is interpolated
    linearly (explicit) or geometrically (exponential: the buckets are even in
    log-space), so the error is at most the bucket's width, a relative error of
    ``base - 1`` for exponential buckets. ``min_ns``/``max_ns``, when known, clamp the
    ends (the first and last buckets are open towards them).
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be within [0, 1]")
    total = h.zero_count + sum(h.bucket_counts)
    if total == 0:
        return None
    rank = q * (total - 1) + 1  # 1-based, between the first and the last value
    if rank <= h.zero_count:
        return 0.0
    seen = h.zero_count
    estimate = 0.0
    for i, count in enumerate(h.bucket_counts):
        if not count:
            continue
        if seen + count >= rank:
            fraction = (rank - seen - 0.5) / count if count > 1 else 0.5
            fraction = min(max(fraction, 0.0), 1.0)
            if h.bounds:
                low = float(h.bounds[i - 1]) if i > 0 else float(min_ns or 0)
                high = float(h.bounds[i]) if i < len(h.bounds) else \
                    float(max_ns if max_ns is not None else h.bounds[-1])
                estimate = low + (high - low) * fraction
            else:
                low = lower_boundary(h.offset + i, h.scale)
                high = lower_boundary(h.offset + i + 1, h.scale)
                estimate = low * (high / low) ** fraction
            break
        seen += count
    if min_ns is not None:
        estimate = max(estimate, float(min_ns))
    if max_ns is not None:
        estimate = min(estimate, float(max_ns))
    return estimate
