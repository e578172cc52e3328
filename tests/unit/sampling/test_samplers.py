"""Sampler semantics: OpenTelemetry's, plus forced parents and the upstream limit.

Statistical tests use fixed seeds; tolerances are stated next to each assertion. Rate
limits run on a simulated clock, never the wall clock."""

from __future__ import annotations

import itertools
import random
import threading

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import sampling as otel

from tracing_middleware.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    JaegerRemoteSampler,
    ParentBased,
    RateLimitingSampler,
    TokenBucket,
    TraceIdRatioBased,
    build_sampler,
)
from tracing_middleware.spancontext import SpanContext

LOW64 = (1 << 64) - 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _otel_parent(parent: SpanContext | None):
    if parent is None:
        return None
    flags = otel_trace.TraceFlags(otel_trace.TraceFlags.SAMPLED if parent.sampled else 0)
    span = otel_trace.NonRecordingSpan(otel_trace.SpanContext(
        parent.trace_id, parent.span_id, is_remote=parent.remote, trace_flags=flags))
    return otel_trace.set_span_in_context(span)


# -- static and ratio ------------------------------------------------------------------


def test_static_samplers_and_descriptions():
    """always_on / always_off decide alike for every span, with OTel's descriptions."""
    assert ALWAYS_ON.should_sample(None, 1, "x").is_sampled
    assert not ALWAYS_OFF.should_sample(SpanContext(1, 2, True), 1, "x").is_sampled
    assert ALWAYS_ON.get_description() == otel.ALWAYS_ON.get_description()
    assert ALWAYS_OFF.get_description() == otel.ALWAYS_OFF.get_description()


RATES = [0.0, 1e-6, 0.001, 0.1, 0.3, 0.5, 0.999, 1.0]


def _consistent(rate):
    """The OpenTelemetry Python SDK's own consistent probability sampler: an independent
    implementation of the "TraceState: Probability Sampling" specification."""
    from opentelemetry.sdk.trace._sampling_experimental import (
        composable_traceid_ratio_based,
        composite_sampler,
    )

    return composite_sampler(composable_traceid_ratio_based(rate))


def _their_parent(trace_id, trace_state):
    state = otel_trace.TraceState(list(trace_state)) if trace_state else None
    span = otel_trace.NonRecordingSpan(otel_trace.SpanContext(
        trace_id, 0xDEF, is_remote=True, trace_flags=otel_trace.TraceFlags(0),
        trace_state=state))
    return otel_trace.set_span_in_context(span), state


@pytest.mark.parametrize("rate", RATES)
def test_ratio_is_consistent_with_the_opentelemetry_sdk(rate):
    """Same trace ids (random and at the threshold), same decisions and the same ``ot``
    tracestate entry as OpenTelemetry's consistent sampler, with and without an explicit
    randomness value from the caller."""
    rng = random.Random(42)
    ours, theirs = TraceIdRatioBased(rate), _consistent(rate)
    t = ours.threshold
    edges = [t - 1, t, t + 1, (7 << 64) | t, (1 << 56) - 1, 1 << 56]
    ids = [rng.getrandbits(128) or 1 for _ in range(5_000)] + [i for i in edges if i > 0]
    states = [(), (("ot", f"rv:{rng.getrandbits(56):014x}"),), (("vendor", "x"),),
              (("ot", "th:c;rv:zz;k:v"), ("vendor", "x"))]
    for trace_id, state in itertools.product(ids, states):
        parent = SpanContext(trace_id, 0xDEF, False, True, state) if state else None
        result = ours.should_sample(parent, trace_id, "x")
        context, their_state = _their_parent(trace_id, state)
        expected = theirs.should_sample(context, trace_id, "x", trace_state=their_state)
        assert result.is_sampled == expected.decision.is_sampled(), (hex(trace_id), state)
        their_ot = (expected.trace_state or {}).get("ot")
        our_ot = dict(result.trace_state if result.trace_state is not None else state
                      ).get("ot")
        assert our_ot == their_ot, (hex(trace_id), state)


def test_ratio_reads_56_bits_and_an_explicit_randomness():
    """Only the low 56 bits of the trace id count, unless the caller's ``ot`` entry
    carries ``rv``, which then decides alone."""
    sampler = TraceIdRatioBased(0.5)  # threshold 2**55
    assert all(sampler.should_sample(None, (high << 56) | (1 << 55), "x").is_sampled
               for high in (0, 1, (1 << 72) - 1))
    assert not sampler.should_sample(None, (1 << 56) | ((1 << 55) - 1), "x").is_sampled
    high_rv = SpanContext(5, 6, False, True, (("ot", "rv:ffffffffffffff"),))
    low_rv = SpanContext(LOW64, 6, False, True, (("ot", "rv:00000000000000"),))
    assert sampler.should_sample(high_rv, 5, "x").is_sampled
    assert not sampler.should_sample(low_rv, LOW64, "x").is_sampled


def test_ratio_records_its_threshold_on_sampled_spans_only():
    """A sampled span says ``th`` (the ``ot`` entry first, other members kept); an
    unsampled one carries no threshold."""
    sampler = TraceIdRatioBased(0.25)  # threshold 0xc0000000000000: "th:c"
    parent = SpanContext(1, 2, None, True, (("a", "1"), ("ot", "th:8;rv:ffffffffffffff")))
    assert sampler.should_sample(parent, 1, "x").trace_state == (
        ("ot", "th:c;rv:ffffffffffffff"), ("a", "1"))
    parent = SpanContext(1, 2, None, True, (("a", "1"), ("ot", "th:8;rv:00000000000000")))
    assert sampler.should_sample(parent, 1, "x").trace_state == (
        ("ot", "rv:00000000000000"), ("a", "1"))
    assert sampler.should_sample(None, LOW64, "x").trace_state == (("ot", "th:c"),)
    assert TraceIdRatioBased(1.0).should_sample(None, 1, "x").trace_state == (
        ("ot", "th:0"),)


def test_ratio_rate_within_one_percent():
    """100k random ids at 0.1: within ±1 percentage point (about 10 sigma)."""
    rng = random.Random(7)
    sampler = TraceIdRatioBased(0.1)
    kept = sum(sampler.should_sample(None, rng.getrandbits(128), "x").is_sampled
               for _ in range(100_000))
    assert 9_000 <= kept <= 11_000


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), "0.5", True])
def test_ratio_refuses_bad_rates(rate):
    """A ratio outside [0, 1] (or not a number) is a configuration error."""
    with pytest.raises(ValueError, match="between 0 and 1"):
        TraceIdRatioBased(rate)


# -- rate limiting ---------------------------------------------------------------------


def test_rate_limiting_over_a_simulated_clock():
    """5 traces/s: a burst of 5 at start, then 5 per simulated second, none in between."""
    clock = Clock()
    sampler = RateLimitingSampler(5, clock)
    assert sum(sampler.should_sample(None, 1, "x").is_sampled for _ in range(20)) == 5
    clock.now += 1.0
    assert sum(sampler.should_sample(None, 1, "x").is_sampled for _ in range(20)) == 5
    clock.now += 0.1
    assert sum(sampler.should_sample(None, 1, "x").is_sampled for _ in range(20)) == 0
    clock.now += 0.1  # 0.2 s at 5/s: one credit
    assert sum(sampler.should_sample(None, 1, "x").is_sampled for _ in range(20)) == 1
    assert sampler.get_description() == "RateLimitingSampler{5.0}"


def test_rate_limiting_long_run_rate():
    """Over 100 simulated seconds at 100 calls/s, 2.5/s keeps 250 (+ the initial credit)."""
    clock = Clock()
    sampler = RateLimitingSampler(2.5, clock)
    kept = 0
    for _ in range(100 * 100):
        clock.now += 0.01
        kept += sampler.should_sample(None, 1, "x").is_sampled
    assert 250 <= kept <= 253


def test_token_bucket_never_exceeds_capacity():
    """Credit accumulates only up to max(1, rate): an idle hour is not an hour of burst."""
    clock = Clock()
    bucket = TokenBucket(2, clock)
    clock.now += 3600
    assert sum(bucket.take() for _ in range(10)) == 2
    slow = TokenBucket(0.1, clock)
    assert slow.capacity == 1.0
    clock.now += 3600
    assert sum(slow.take() for _ in range(10)) == 1


def test_token_bucket_zero_rate_and_clock_steps_back():
    """Rate 0 never grants; a clock stepping back grants nothing (and never goes negative)."""
    clock = Clock()
    assert not TokenBucket(0, clock).take()
    bucket = TokenBucket(1, clock)
    assert bucket.take()
    clock.now -= 100
    assert not bucket.take()
    clock.now += 1
    assert bucket.take()


def test_token_bucket_is_thread_safe():
    """8 threads racing for 50 credits on a frozen clock get exactly 50 between them."""
    bucket = TokenBucket(50, Clock())
    granted: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait(5)
        granted.append(sum(bucket.take() for _ in range(1000)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sum(granted) == 50


@pytest.mark.parametrize("rate", [-1, float("inf"), float("nan")])
def test_token_bucket_refuses_bad_rates(rate):
    """Negative or non-finite rates are configuration errors."""
    with pytest.raises(ValueError):
        TokenBucket(rate)


# -- parent based ----------------------------------------------------------------------

PARENTS = [None] + [SpanContext(0xABC, 0xDEF, sampled, remote)
                    for sampled, remote in itertools.product((True, False), repeat=2)]


@pytest.mark.parametrize("root_name", ["on", "off", "ratio"])
def test_parent_based_matches_the_opentelemetry_sdk(root_name):
    """Without the upstream limit, every parent kind decides as OTel's ParentBased."""
    roots = {"on": (ALWAYS_ON, otel.ALWAYS_ON), "off": (ALWAYS_OFF, otel.ALWAYS_OFF),
             "ratio": (TraceIdRatioBased(0.5), _consistent(0.5))}
    root, otel_root = roots[root_name]
    ours, theirs = ParentBased(root, upstream_rate_limit=0), otel.ParentBased(otel_root)
    if root_name != "ratio":  # the consistent sampler describes itself in its own words
        assert ours.get_description() == theirs.get_description()
    for parent, trace_id in itertools.product(PARENTS, (1, 1 << 55, LOW64)):
        expected = theirs.should_sample(_otel_parent(parent), trace_id, "x").decision
        assert ours.should_sample(parent, trace_id, "x").is_sampled == \
            expected.is_sampled(), (parent, hex(trace_id))


def test_parent_based_custom_delegates_are_used():
    """The four delegates are OTel's constructor arguments, in OTel's order."""
    sampler = ParentBased(ALWAYS_OFF, remote_parent_sampled=ALWAYS_OFF,
                          remote_parent_not_sampled=ALWAYS_ON,
                          local_parent_sampled=ALWAYS_OFF,
                          local_parent_not_sampled=ALWAYS_ON, upstream_rate_limit=0)
    assert not sampler.should_sample(SpanContext(1, 2, True), 1, "x").is_sampled
    assert sampler.should_sample(SpanContext(1, 2, False), 1, "x").is_sampled
    assert not sampler.should_sample(SpanContext(1, 2, True, False), 1, "x").is_sampled
    assert sampler.should_sample(SpanContext(1, 2, False, False), 1, "x").is_sampled


def test_forced_parent_beats_every_policy():
    """A verified osprofiler signature is sampled under always_off, ratio 0, rate 0 and
    a not-sampled flag, whichever sampler is used, alone or composed."""
    clock = Clock()
    forced = SpanContext(1, 2, False, True, (), True)
    remote = JaegerRemoteSampler("http://127.0.0.1:9/sampling", "svc", initial_rate=0.0,
                                 start=False)
    samplers = [ALWAYS_OFF, TraceIdRatioBased(0.0), RateLimitingSampler(0, clock), remote,
                ParentBased(ALWAYS_OFF), ParentBased(ALWAYS_OFF, upstream_rate_limit=0),
                build_sampler("parentbased_traceidratio", "0", "svc"),
                build_sampler("always_off", None, "svc")]
    for sampler in samplers:
        for parent in (forced, SpanContext(1, 2, None, False, (), True)):
            assert sampler.should_sample(parent, LOW64, "x").is_sampled, \
                sampler.get_description()


def test_deferred_and_invalid_parents_are_decided_by_the_root_sampler():
    """B3/Jaeger without a sampled flag, or an invalid parent: the local policy decides."""
    for parent in (SpanContext(1, 2, None), SpanContext(1, 2, None, remote=False),
                   SpanContext(0, 2, True), SpanContext(1, 0, True)):
        assert ParentBased(ALWAYS_ON).should_sample(parent, 1, "x").is_sampled
        assert not ParentBased(ALWAYS_OFF).should_sample(parent, 1, "x").is_sampled


def test_upstream_sampled_flag_is_rate_limited():
    """Beyond upstream_sampling_rate_limit, sampled flags from outside fall to the root;
    local parents and not-sampled flags are not limited; credit comes back with time."""
    clock = Clock()
    sampler = ParentBased(ALWAYS_OFF, upstream_rate_limit=3, clock=clock)
    remote = SpanContext(1, 2, True)
    assert [sampler.should_sample(remote, 1, "x").is_sampled for _ in range(10)] == \
        [True] * 3 + [False] * 7
    local = SpanContext(1, 2, True, remote=False)
    assert all(sampler.should_sample(local, 1, "x").is_sampled for _ in range(10))
    clock.now += 1.0
    assert sum(sampler.should_sample(remote, 1, "x").is_sampled for _ in range(10)) == 3


def test_upstream_overflow_uses_the_root_sampler():
    """When the bucket is empty the root decides: a ratio root keeps its share."""
    clock = Clock()
    sampler = ParentBased(TraceIdRatioBased(0.5), upstream_rate_limit=1, clock=clock)
    remote = SpanContext(1, 2, True)
    assert sampler.should_sample(remote, 1, "x").is_sampled  # the one credit
    assert not sampler.should_sample(remote, 1, "x").is_sampled  # root: below threshold
    assert sampler.should_sample(remote, LOW64, "x").is_sampled  # root: above threshold


def test_upstream_zero_means_unlimited():
    """upstream_rate_limit=0 honours every sampled flag, as plain OTel does."""
    sampler = ParentBased(ALWAYS_OFF, upstream_rate_limit=0, clock=Clock())
    assert all(sampler.should_sample(SpanContext(1, 2, True), 1, "x").is_sampled
               for _ in range(10_000))


def test_parent_based_forwards_shutdown_and_fork_once():
    """shutdown/after_fork reach each distinct delegate once."""
    calls: list[str] = []

    class Recorder(TraceIdRatioBased):
        def shutdown(self) -> None:
            calls.append("shutdown")

        def after_fork(self) -> None:
            calls.append("fork")

    recorder = Recorder(1.0)
    sampler = ParentBased(recorder, local_parent_sampled=recorder)
    sampler.shutdown()
    sampler.after_fork()
    assert calls == ["shutdown", "fork"]
    assert sampler.should_sample(SpanContext(1, 2, True), 1, "x").is_sampled


def test_samplers_that_say_they_follow_an_unsampled_caller_do():
    """``follows_unsampled_remote_parent`` lets an edge skip the sampler (and the span
    name) for an unsampled caller: a sampler claiming it must drop every such span,
    whatever its name, kind or trace id; one that may sample it must not claim it."""
    clock = Clock()
    remote = JaegerRemoteSampler("http://127.0.0.1:9/sampling", "svc", initial_rate=1.0,
                                 start=False)
    claims = {
        "always_off": (ALWAYS_OFF, True), "always_on": (ALWAYS_ON, False),
        "ratio": (TraceIdRatioBased(1.0), False),
        "rate": (RateLimitingSampler(1000, clock), False), "remote": (remote, False),
        "parentbased": (ParentBased(ALWAYS_ON), True),
        "parentbased, remote unsampled on": (
            ParentBased(ALWAYS_OFF, remote_parent_not_sampled=ALWAYS_ON), False),
        "parentbased_jaeger_remote": (
            build_sampler("parentbased_jaeger_remote",
                          "endpoint=http://127.0.0.1:9/sampling,initialSamplingRate=1",
                          "svc"), True),
    }
    unsampled = SpanContext(0xABC, 0xDEF, False)
    rng = random.Random(7)
    for label, (sampler, follows) in claims.items():
        assert sampler.follows_unsampled_remote_parent is follows, label
        decisions = {sampler.should_sample(unsampled, rng.getrandbits(128) or 1, name, kind)
                     .is_sampled
                     for name in ("a", "b/c", "") for kind in (None, "server", "consumer")
                     for _ in range(20)}
        assert decisions == ({False} if follows else {True}), label
        sampler.shutdown()
