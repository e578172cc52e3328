"""The exponential histogram against OpenTelemetry's data model and SDK, explicit buckets,
merging and quantiles."""

from __future__ import annotations

import random

import pytest
from opentelemetry.sdk.metrics._internal.aggregation import (
    AggregationTemporality,
    _ExponentialBucketHistogramAggregation,
)
from opentelemetry.sdk.metrics._internal.exemplar import SimpleFixedSizeExemplarReservoir
from opentelemetry.sdk.metrics._internal.measurement import Measurement

from tracing_middleware.metrics.histogram import (
    MAX_SCALE,
    ExplicitHistogram,
    ExponentialHistogram,
    index_of,
    lower_boundary,
    merge,
    quantile,
)
from tracing_middleware.metrics.points import Exemplar, Histogram


@pytest.mark.parametrize(("scale", "value", "index"), [
    # Data model, ExponentialHistogram: an exact power of two 2**e is the upper (inclusive)
    # boundary of bucket (e << scale) - 1 at scale > 0, (e - 1) >> -scale at scale <= 0.
    (0, 1, -1), (0, 2, 0), (0, 4, 1), (0, 1024, 9),
    (1, 2, 1), (1, 4, 3), (3, 8, 23), (20, 2, (1 << 20) - 1), (20, 1024, (10 << 20) - 1),
    (-1, 4, 0), (-1, 8, 1), (-1, 16, 1), (-2, 1024, 2), (-4, 1 << 40, 2),
    # Values between powers of two.
    (0, 3, 1), (0, 5, 2), (1, 3, 3), (1, 5, 4), (-1, 5, 1), (-1, 3, 0),
])
def test_index_of_known_answers(scale, value, index):
    """Data model: bucket i holds (base**i, base**(i+1)], base = 2**(2**-scale)."""
    assert index_of(value, scale) == index


@pytest.mark.parametrize("scale", [-3, -1, 0, 1, 3, 8, 20])
def test_lower_boundary_brackets_each_value(scale):
    for value in (3, 1000, 123_456, 10**9 + 7):
        index = index_of(value, scale)
        assert lower_boundary(index, scale) < value <= lower_boundary(index + 1, scale) * (
            1 + 1e-12)


def test_starts_at_scale_20_and_downscales_past_160_buckets():
    """The SDK's rule: start at MAX_SCALE, halve the resolution until the range fits."""
    h = ExponentialHistogram()
    h.record(1_000_000)
    assert h.scale == MAX_SCALE
    h.record(1_000_001)
    assert h.scale == MAX_SCALE  # one bucket apart at scale 20 fits
    h.record(2_000_000)  # a factor of 2 is 2**20 buckets at scale 20: must downscale
    point = h.point()
    assert len(point.bucket_counts) <= 160
    assert sum(point.bucket_counts) == 3
    assert point.scale == 7  # 2**7 buckets per doubling: 129 buckets span 1e6..2e6
    assert index_of(2_000_000, point.scale) - index_of(1_000_000, point.scale) < 160
    assert index_of(2_000_000, 8) - index_of(1_000_000, 8) >= 160


def test_zero_counts_apart():
    h = ExponentialHistogram()
    h.record(0)
    h.record(5)
    point = h.point()
    assert point.zero_count == 1
    assert sum(point.bucket_counts) == 1


def _sdk_point(values):
    agg = _ExponentialBucketHistogramAggregation(
        {}, lambda **kw: SimpleFixedSizeExemplarReservoir(**kw),
        AggregationTemporality.DELTA, 0)
    for v in values:
        agg.aggregate(Measurement(v, 0, None, None), should_sample_exemplar=False)
    return agg.collect(AggregationTemporality.DELTA, 1)


@pytest.mark.parametrize("seed", range(6))
def test_matches_the_sdk_scale_offset_and_counts(seed):
    """Same values, same point as opentelemetry-sdk's ExponentialBucketHistogramAggregation."""
    rng = random.Random(seed)
    spread = [1e3, 1e5, 1e8, 1e12][seed % 4]
    values = [max(1, int(rng.lognormvariate(0, 1) * spread)) for _ in range(500)]
    values += [1 << rng.randrange(10, 40) for _ in range(20)]  # exact powers of two
    ours = ExponentialHistogram()
    for v in values:
        ours.record(v)
    sdk = _sdk_point(values)
    point = ours.point()
    assert point.scale == sdk.scale
    assert point.offset == sdk.positive.offset
    theirs = list(sdk.positive.bucket_counts)
    while theirs and not theirs[-1]:  # the SDK hands over its spare capacity as zeros
        theirs.pop()
    assert list(point.bucket_counts) == theirs
    assert sum(theirs) == len(values)


@pytest.mark.parametrize("seed", range(6))
def test_batches_match_one_by_one_and_the_sdk(seed):
    """record_many (what the recorder's collection uses) in batches of any size, with
    zeros and exact powers of two among them: the SDK's point, and record()'s."""
    rng = random.Random(seed)
    spread = [1e3, 1e5, 1e8, 1e12][seed % 4]
    values = [max(1, int(rng.lognormvariate(0, 1) * spread)) for _ in range(2_000)]
    values[rng.randrange(len(values))] = 1 << 20
    values[rng.randrange(len(values))] = 0
    batched, single = ExponentialHistogram(), ExponentialHistogram()
    at = 0
    while at < len(values):
        size = rng.choice([1, 7, 256, 900])
        batched.record_many(values[at:at + size])
        at += size
    for v in values:
        single.record(v)
    assert batched.point() == single.point()
    sdk = _sdk_point([v for v in values if v])
    point = batched.point()
    assert (point.scale, point.offset, point.zero_count) == (sdk.scale, sdk.positive.offset, 1)
    theirs = list(sdk.positive.bucket_counts)
    while theirs and not theirs[-1]:
        theirs.pop()
    assert list(point.bucket_counts) == theirs


def test_a_batch_past_160_buckets_downscales_once_for_all_of_it():
    h = ExponentialHistogram()
    h.record_many([3, 5, 7])
    # 3..7 spans 1.22 doublings: 156 buckets at scale 7 (128 a doubling), 312 at 8
    assert h.scale == 7
    h.record_many([10**12, 3 * 10**12, 1])
    assert h.high - h.low < 160 and sum(h.point().bucket_counts) == 6
    assert h.point() == _one_by_one([3, 5, 7, 10**12, 3 * 10**12, 1]).point()


def _one_by_one(values):
    h = ExponentialHistogram()
    for v in values:
        h.record(v)
    return h


def test_kept_exemplar_names_the_bucket_of_its_value():
    h = ExponentialHistogram()
    h.record_many([1_000, 2_000_000])
    ex = Exemplar(value_ns=1_000, time_unix_nano=1, trace_id="a" * 32, span_id="b" * 16)
    h.keep(1_000, ex)
    h.keep(0, ex)  # a zero has no bucket: nothing kept
    assert h.exemplars == {index_of(1_000, h.scale): ex}


def test_explicit_batches_match_one_by_one():
    bounds = [10, 100, 1000]
    batched, single = ExplicitHistogram(bounds), ExplicitHistogram(bounds)
    values = [0, 10, 11, 100, 999, 1000, 1001, 10**9]
    batched.record_many(values)
    for v in values:
        single.record(v)
    assert batched.point() == single.point()
    assert batched.point().bucket_counts == (2, 2, 2, 2)


def test_merge_of_different_scales_downscales_to_the_coarser():
    fine, coarse = ExponentialHistogram(), ExponentialHistogram()
    for v in (1000, 1001, 1002):
        fine.record(v)
    for v in (10, 10**9):
        coarse.record(v)
    assert fine.scale > coarse.scale
    merged = merge(fine.point(), coarse.point())
    assert merged.scale == coarse.scale
    assert sum(merged.bucket_counts) == 5
    # the same as recording all five into one histogram
    direct = ExponentialHistogram()
    for v in (1000, 1001, 1002, 10, 10**9):
        direct.record(v)
    assert merged == direct.point()


def test_merge_whose_union_needs_more_than_160_buckets_downscales_further():
    a, b = ExponentialHistogram(), ExponentialHistogram()
    for v in (100, 150):
        a.record(v)
    for v in (10**12, 1.5e12):
        b.record(int(v))
    merged = merge(a.point(), b.point())
    assert merged.scale < min(a.scale, b.scale)
    assert len(merged.bucket_counts) <= 160
    assert sum(merged.bucket_counts) == 4


def test_exemplars_follow_their_bucket_through_a_downscale():
    h = ExponentialHistogram()
    ex = Exemplar(value_ns=1_000_000, time_unix_nano=1, trace_id="a" * 32, span_id="b" * 16)
    h.record(1_000_000, ex)
    h.record(50_000_000)
    (index,) = h.exemplars
    assert index == index_of(1_000_000, h.scale)
    assert h.exemplar_tuple() == (ex,)


def test_explicit_buckets_include_their_upper_bound():
    h = ExplicitHistogram([10, 100, 1000])
    for v in (1, 10, 11, 100, 1000, 1001, 10**9):
        h.record(v)
    assert h.point() == Histogram(bucket_counts=(2, 2, 1, 2), bounds=(10, 100, 1000))


def test_explicit_bounds_must_increase():
    with pytest.raises(ValueError):
        ExplicitHistogram([10, 10, 20])


def test_quantiles_within_a_bucket_width():
    h = ExponentialHistogram()
    values = list(range(1_000, 1_001_000, 1_000))  # 1 us .. 1 ms, uniform
    for v in values:
        h.record(v)
    point = h.point()
    base = 2 ** (2 ** -point.scale)
    for q, true in ((0.5, 500_500), (0.95, 950_050), (0.99, 990_010)):
        estimate = quantile(point, q, min_ns=1_000, max_ns=1_000_000)
        assert true / base <= estimate <= true * base


def test_quantile_of_explicit_and_empty():
    h = ExplicitHistogram([10, 20])
    for v in (5, 15, 15, 15):
        h.record(v)
    assert 10 <= quantile(h.point(), 0.5) <= 20
    assert quantile(Histogram(), 0.5) is None
    with pytest.raises(ValueError):
        quantile(h.point(), 1.5)
