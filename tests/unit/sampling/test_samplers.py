"""Sampler semantics: OpenTelemetry's, plus forced parents and the upstream limit.

Statistical tests use fixed seeds; tolerances are stated next to each assertion."""

from __future__ import annotations

import random

import pytest
from opentelemetry.sdk.trace import sampling as otel

from tracing_middleware.sampling import build_sampler
from tracing_middleware.sampling.parent import ParentBased
from tracing_middleware.sampling.rate_limiting import RateLimitingSampler, TokenBucket
from tracing_middleware.sampling.ratio import TraceIdRatioBased
from tracing_middleware.sampling.static import ALWAYS_OFF, ALWAYS_ON
from tracing_middleware.sampling.strategies import PolicyState, parse_response
from tracing_middleware.spancontext import SpanContext


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ratio_matches_the_opentelemetry_sdk_exactly():
    """Same trace ids, same decisions as the OTel SDK's TraceIdRatioBased."""
    rng = random.Random(42)
    ours, theirs = TraceIdRatioBased(0.3), otel.TraceIdRatioBased(0.3)
    for _ in range(20000):
        trace_id = rng.getrandbits(128)
        assert ours.should_sample(None, trace_id, "x").is_sampled == \
            theirs.should_sample(None, trace_id, "x").decision.is_sampled()


def test_ratio_rate_within_one_percent():
    """100k random ids at 0.1: within ±1 percentage point (about 10 sigma)."""
    rng = random.Random(7)
    sampler = TraceIdRatioBased(0.1)
    kept = sum(sampler.should_sample(None, rng.getrandbits(128), "x").is_sampled
               for _ in range(100_000))
    assert 9_000 <= kept <= 11_000


def test_rate_limiting_over_a_simulated_clock():
    """5 traces/s: a burst of 5 at start, then 5 per simulated second."""
    clock = Clock()
    sampler = RateLimitingSampler(5, clock)
    assert sum(sampler.should_sample(None, 1, "x").is_sampled for _ in range(20)) == 5
    clock.now = 1.0
    assert sum(sampler.should_sample(None, 1, "x").is_sampled for _ in range(20)) == 5
    clock.now = 1.1
    assert sum(sampler.should_sample(None, 1, "x").is_sampled for _ in range(20)) == 0


def test_forced_parent_beats_every_policy():
    """A verified osprofiler signature is sampled under always_off and ratio 0."""
    forced = SpanContext(1, 2, True, True, (), True)
    for sampler in (ALWAYS_OFF, TraceIdRatioBased(0.0), ParentBased(ALWAYS_OFF),
                    build_sampler("parentbased_traceidratio", "0", "svc")):
        assert sampler.should_sample(forced, 1, "x").is_sampled


def test_parent_based_follows_the_parent():
    """OTel semantics: sampled parent -> sampled; unsampled parent -> dropped."""
    sampler = ParentBased(ALWAYS_OFF, upstream_rate_limit=0)
    assert sampler.should_sample(SpanContext(1, 2, True), 1, "x").is_sampled
    assert not sampler.should_sample(SpanContext(1, 2, False), 1, "x").is_sampled
    assert sampler.should_sample(SpanContext(1, 2, True, remote=False), 1, "x").is_sampled
    assert not sampler.should_sample(None, 1, "x").is_sampled


def test_deferred_parent_is_decided_by_the_root_sampler():
    """B3/Jaeger without a sampled flag: the local policy decides."""
    deferred = SpanContext(1, 2, None)
    assert ParentBased(ALWAYS_ON).should_sample(deferred, 1, "x").is_sampled
    assert not ParentBased(ALWAYS_OFF).should_sample(deferred, 1, "x").is_sampled


def test_upstream_sampled_flag_is_rate_limited():
    """Beyond upstream_sampling_rate_limit, sampled flags from outside fall to the root."""
    sampler = ParentBased(ALWAYS_OFF, upstream_rate_limit=3)
    remote = SpanContext(1, 2, True)
    decisions = [sampler.should_sample(remote, 1, "x").is_sampled for _ in range(10)]
    assert decisions == [True] * 3 + [False] * 7
    local = SpanContext(1, 2, True, remote=False)
    assert all(sampler.should_sample(local, 1, "x").is_sampled for _ in range(10))


@pytest.mark.parametrize(("name", "arg", "message"), [
    ("sometimes", None, "unknown sampler 'sometimes'"),
    ("traceidratio", "1.5", "'1.5' is not a number between 0 and 1"),
    ("traceidratio", "abc", "'abc' is not a number"),
    ("jaeger_remote", "endpoint=ftp://x", "must be an http"),
    ("jaeger_remote", "pollingInterval=5", "key 'pollingInterval' is unknown"),
])
def test_bad_sampler_configuration_names_the_value(name, arg, message):
    """Configuration errors are raised at build time with the value and what is accepted."""
    with pytest.raises(ValueError, match=message):
        build_sampler(name, arg, "svc")


@pytest.mark.parametrize(("body", "kind", "rate"), [
    ({"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 0.2}},
     "probabilistic", 0.2),
    ({"strategyType": 0, "probabilisticSampling": {"samplingRate": 0.3}},
     "probabilistic", 0.3),
    ({"probabilisticSampling": {"samplingRate": 0.4}}, "probabilistic", 0.4),
    ({"strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 7}},
     "ratelimiting", 7.0),
    ({"strategy_type": 1, "rate_limiting_sampling": {"max_traces_per_second": 3}},
     "ratelimiting", 3.0),
])
def test_every_response_encoding(body, kind, rate):
    """String, numeric, omitted strategyType and snake_case fields all parse."""
    policy = parse_response(body)
    assert (policy.kind, policy.rate) == (kind, rate)


@pytest.mark.parametrize("body", [
    [], {"strategyType": "ADAPTIVE"}, {"probabilisticSampling": {"samplingRate": 2}},
    {"strategyType": "PROBABILISTIC"}, {"operationSampling": "x"},
])
def test_wrong_shapes_are_refused(body):
    """A wrong shape or an out-of-range value is an error, never a silent policy."""
    with pytest.raises(ValueError):
        parse_response(body)


def test_per_operation_rates_and_lower_bound():
    """Per-operation probabilities apply; the lower bound guarantees traffic per operation."""
    policy = parse_response({"operationSampling": {
        "defaultSamplingProbability": 0.0, "defaultLowerBoundTracesPerSecond": 2,
        "perOperationStrategies": [
            {"operation": "hot", "probabilisticSampling": {"samplingRate": 0.5}}]}})
    state = PolicyState(policy)
    rng = random.Random(3)
    hot = sum(state.sample(rng.getrandbits(128), "hot") for _ in range(10000))
    assert 4_800 <= hot <= 5_300  # 0.5 +- ~5 sigma, plus at most 2 from the lower bound
    cold = sum(state.sample(rng.getrandbits(128), "cold") for _ in range(1000))
    assert cold == 2  # probability 0: only the lower bound's initial burst


def test_token_bucket_never_exceeds_capacity():
    """Credit accumulates only up to max(1, rate)."""
    clock = Clock()
    bucket = TokenBucket(2, clock)
    clock.now = 100.0
    assert sum(bucket.take() for _ in range(10)) == 2
