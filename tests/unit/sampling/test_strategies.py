"""Jaeger remote-sampling answers, the strategies file, and the policy a process applies.

Fixtures are answers in the encodings servers send: Jaeger's ``/sampling`` (string
``strategyType``), its legacy Thrift-JSON ``/`` (numeric), the OpenTelemetry Collector
(zero values omitted, so no ``strategyType``), a per-operation answer, and an old agent's
snake_case."""

from __future__ import annotations

import json
import logging
import os
import random

import pytest

from tracing_middleware.sampling.strategies import (
    PER_OPERATION,
    PROBABILISTIC,
    RATE_LIMITING,
    PolicyState,
    build_responses,
    parse_response,
    response_for_service,
)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
#: Randomness (56 bits) that every probability above 0 keeps, and that none below 1 keeps.
ALWAYS, NEVER = (1 << 56) - 1, 0


def _fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


# -- answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("fixture", "kind", "rate", "description"), [
    ("jaeger_sampling_string.json", PROBABILISTIC, 0.25, "probabilistic (0.25)"),
    ("jaeger_legacy_numeric.json", RATE_LIMITING, 5.0, "rate limiting (5.0 traces/s)"),
    ("otel_collector.json", PROBABILISTIC, 0.5, "probabilistic (0.5)"),
    ("jaeger_operations.json", PER_OPERATION, 0.01,
     "per-operation (default probability 0.01, lower bound 2.0/s, 2 operations)"),
    ("jaeger_agent_snake_case.json", PER_OPERATION, 0.1,
     "per-operation (default probability 0.1, lower bound 0.5/s, 1 operations)"),
])
def test_recorded_answers_parse(fixture, kind, rate, description):
    """Every encoding in the wild becomes the same policy shape."""
    policy = parse_response(_fixture(fixture))
    assert (policy.kind, policy.rate, policy.describe()) == (kind, rate, description)


def test_operation_answer_details():
    """Per-operation rates are kept by span name; upperBound 0 means unset (proto3)."""
    policy = parse_response(_fixture("jaeger_operations.json"))
    assert dict(policy.operations) == {"POST /v2.1/servers": 1.0,
                                       "GET /v2.1/servers/{id}": 0.0}
    assert policy.upper_bound is None
    assert policy.probability_for("POST /v2.1/servers") == 1.0
    assert policy.probability_for("DELETE /v2.1/servers/{id}") == 0.01
    assert policy.sampler_description().startswith(
        "PerOperationSampler{default=TraceIdRatioBased{0.01},lowerBound=2.0,perOperation={")
    snake = parse_response(_fixture("jaeger_agent_snake_case.json"))
    assert dict(snake.operations) == {"compute.build_and_run_instance": 0.75}


@pytest.mark.parametrize(("body", "kind", "rate"), [
    ({"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 0.2}},
     PROBABILISTIC, 0.2),
    ({"strategyType": 0, "probabilisticSampling": {"samplingRate": 0.3}}, PROBABILISTIC, 0.3),
    ({"probabilisticSampling": {}}, PROBABILISTIC, 0.0),  # Collector: rate 0 omitted too
    ({"strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 7}},
     RATE_LIMITING, 7.0),
    ({"strategy_type": 1, "rate_limiting_sampling": {"max_traces_per_second": 3}},
     RATE_LIMITING, 3.0),
    ({"strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 2},
      "operationSampling": {"defaultSamplingProbability": 0.5, "perOperationStrategies": []}},
     RATE_LIMITING, 2.0),  # an empty table says nothing per operation (OTel Java/JS)
    ({"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": 3},
      "operationSampling": {"defaultSamplingProbability": 0.2, "perOperationStrategies": [
          {"operation": "/health", "probabilisticSampling": {"samplingRate": 0.1}}]}},
     PER_OPERATION, 0.2),  # Jaeger's TestServiceNoPerOperationStrategies_ServiceB answer
])
def test_every_response_encoding(body, kind, rate):
    """String, numeric and omitted strategyType, snake_case, operations first."""
    policy = parse_response(body)
    assert (policy.kind, policy.rate) == (kind, rate)


@pytest.mark.parametrize("body", [
    [], "x", {"strategyType": "ADAPTIVE", "probabilisticSampling": {"samplingRate": 0.1}},
    {"strategyType": 2}, {"strategyType": True},
    {"probabilisticSampling": {"samplingRate": 2}},
    {"probabilisticSampling": {"samplingRate": -0.1}},
    {"probabilisticSampling": {"samplingRate": "0.5"}},
    {"strategyType": "PROBABILISTIC"}, {},
    {"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": -1}},
    {"strategyType": 1},
    {"operationSampling": "x"},
    {"operationSampling": {"defaultSamplingProbability": 1.5,
                           "perOperationStrategies": [{"operation": "a",
                                                       "probabilisticSampling": {}}]}},
    {"operationSampling": {"defaultLowerBoundTracesPerSecond": -1,
                           "perOperationStrategies": [{"operation": "a",
                                                       "probabilisticSampling": {}}]}},
    {"operationSampling": {"perOperationStrategies": [{"probabilisticSampling": {}}]}},
    {"operationSampling": {"perOperationStrategies": [{"operation": "a"}]}},
    {"operationSampling": {"perOperationStrategies": [
        {"operation": "a", "probabilisticSampling": {"samplingRate": 7}}]}},
    {"operationSampling": {"perOperationStrategies": {"a": 1}}},
])
def test_wrong_shapes_are_refused(body):
    """A wrong shape or an out-of-range value is an error, never a silent policy."""
    with pytest.raises(ValueError):
        parse_response(body)


def test_nan_and_infinity_are_refused():
    """json.loads accepts NaN/Infinity; a policy must not."""
    for text in ('{"probabilisticSampling": {"samplingRate": NaN}}',
                 '{"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": '
                 'Infinity}}'):
        with pytest.raises(ValueError, match="finite"):
            parse_response(json.loads(text))


# -- applying a policy -----------------------------------------------------------------


def test_probabilistic_policy_matches_traceidratio():
    """The remote probabilistic policy compares the same randomness with the same
    threshold as traceidratio (services agree whichever sampler they use)."""
    from tracing_middleware.sampling.ratio import TraceIdRatioBased, randomness_of

    state = PolicyState(parse_response(_fixture("jaeger_sampling_string.json")))
    ratio = TraceIdRatioBased(0.25)
    rng = random.Random(11)
    for _ in range(5000):
        trace_id = rng.getrandbits(128)
        assert state.sample(randomness_of(None, trace_id), "x") == ratio.should_sample(
            None, trace_id, "x").is_sampled


def test_per_operation_rates_within_tolerance():
    """Per-operation probabilities apply per span name, within ±1 point over 100k ids."""
    policy = parse_response({"operationSampling": {
        "defaultSamplingProbability": 0.05, "perOperationStrategies": [
            {"operation": "hot", "probabilisticSampling": {"samplingRate": 0.5}}]}})
    state = PolicyState(policy, Clock())
    rng = random.Random(3)
    hot = sum(state.sample(rng.getrandbits(56), "hot") for _ in range(100_000))
    other = sum(state.sample(rng.getrandbits(56), "other") for _ in range(100_000))
    assert 49_000 <= hot <= 51_000
    assert 4_000 <= other <= 6_000


def test_lower_bound_guarantees_each_operation_traffic():
    """Probability 0 with a lower bound of 2/s: exactly 2 per simulated second per
    operation, each operation with its own bucket."""
    clock = Clock()
    state = PolicyState(parse_response(_fixture("jaeger_operations.json")), clock)
    op = "GET /v2.1/servers/{id}"  # probability 0
    per_second = []
    for _ in range(5):
        per_second.append(sum(state.sample(NEVER, op) for _ in range(100)))
        clock.now += 1.0
    assert per_second == [2] * 5
    assert sum(state.sample(NEVER, "DELETE /v2.1/servers/{id}") for _ in range(100)) == 2


def test_lower_bound_is_a_floor_not_extra_traffic():
    """As jaeger-client: probabilistic hits spend lower-bound credit too."""
    clock = Clock()
    state = PolicyState(parse_response({"operationSampling": {
        "defaultSamplingProbability": 0.5, "defaultLowerBoundTracesPerSecond": 2,
        "perOperationStrategies": []}}), clock)
    assert state.sample(ALWAYS, "op") and state.sample(ALWAYS, "op")  # spends 2
    assert not state.sample(NEVER, "op")  # would be sampled by the floor if not spent
    clock.now += 0.5
    assert state.sample(NEVER, "op")


def test_lower_bound_matches_jaeger_client(monkeypatch):
    """Same script of (time, operation, trace id), same decisions as jaeger-client's
    AdaptiveSampler, for ids every rate between 0 and 1 keeps or drops alike in both
    conventions: jaeger-client keeps trace id 0 and drops 2**63-1; consistent sampling
    keeps the highest randomness and drops 0."""
    from jaeger_client import rate_limiter
    from jaeger_client.sampler import AdaptiveSampler

    clock = Clock()
    monkeypatch.setattr(rate_limiter.RateLimiter, "timestamp", staticmethod(clock))
    monkeypatch.setattr(rate_limiter.random, "random", lambda: 1.0)  # start full, as ours
    answer = {"defaultSamplingProbability": 0.3, "defaultLowerBoundTracesPerSecond": 1.5,
              "perOperationStrategies": [
                  {"operation": "a", "probabilisticSampling": {"samplingRate": 0.2}},
                  {"operation": "b", "probabilisticSampling": {"samplingRate": 0.0}}]}
    theirs = AdaptiveSampler(answer, 2000)
    ours = PolicyState(parse_response({"operationSampling": answer}), clock)
    rng = random.Random(5)
    for _ in range(3000):
        clock.now += rng.choice((0.0, 0.01, 0.1, 0.7))
        op, kept = rng.choice("abc"), rng.choice((True, False))
        trace_id, randomness = (0, ALWAYS) if kept else ((1 << 63) - 1, NEVER)
        assert ours.sample(randomness, op) == theirs.is_sampled(trace_id, op)[0], clock.now


def test_upper_bound_caps_probabilistic_traffic():
    """defaultUpperBoundTracesPerSecond (when set) caps each operation's sampled rate."""
    clock = Clock()
    state = PolicyState(parse_response({"operationSampling": {
        "defaultSamplingProbability": 1.0, "defaultUpperBoundTracesPerSecond": 3,
        "perOperationStrategies": [
            {"operation": "a", "probabilisticSampling": {"samplingRate": 1.0}}]}}), clock)
    assert sum(state.sample(0, "a") for _ in range(100)) == 3
    assert sum(state.sample(0, "b") for _ in range(100)) == 3


def test_rate_limiting_policy_is_a_token_bucket():
    """RATE_LIMITING: maxTracesPerSecond per process, on the injected clock."""
    clock = Clock()
    state = PolicyState(parse_response(_fixture("jaeger_legacy_numeric.json")), clock)
    assert sum(state.sample(0, "x") for _ in range(50)) == 5
    clock.now += 0.5  # 2.5 credits: two traces, half a credit kept
    assert sum(state.sample(0, "x") for _ in range(50)) == 2


def test_operation_table_is_bounded():
    """After 2000 distinct span names, new ones get the default probability, no buckets."""
    clock = Clock()
    state = PolicyState(parse_response({"operationSampling": {
        "defaultSamplingProbability": 0.0, "defaultLowerBoundTracesPerSecond": 1,
        "perOperationStrategies": []}}), clock)
    assert all(state.sample(NEVER, f"op-{i}") for i in range(2000))
    assert not any(state.sample(NEVER, f"new-{i}") for i in range(100))


# -- the strategies file ---------------------------------------------------------------


def _ops(body):
    return {o["operation"]: o["probabilisticSampling"]["samplingRate"]
            for o in body["operationSampling"]["perOperationStrategies"]}


def test_service_and_default_strategies():
    """A listed service gets its own strategy, others the default (0.001 if absent)."""
    strategies = {"default_strategy": {"type": "probabilistic", "param": 0.1},
                  "service_strategies": [{"service": "nova-api", "type": "ratelimiting",
                                          "param": 7.9}]}
    assert response_for_service(strategies, "nova-api") == {
        "strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 7}}
    assert response_for_service(strategies, "glance-api") == {
        "strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 0.1}}
    assert response_for_service({}, "x")["probabilisticSampling"] == {"samplingRate": 0.001}


def test_default_operation_strategies_merge_into_services():
    """As Jaeger's static provider: a service's own operations win, the default's are
    added, and its own probability becomes the default probability."""
    strategies = {"default_strategy": {"type": "probabilistic", "param": 0.5,
                                       "operation_strategies": [
                                           {"operation": "GET /", "type": "probabilistic",
                                            "param": 0.0},
                                           {"operation": "POST /", "type": "probabilistic",
                                            "param": 0.3}]},
                  "service_strategies": [
                      {"service": "own", "type": "probabilistic", "param": 0.8,
                       "operation_strategies": [{"operation": "POST /",
                                                 "type": "probabilistic", "param": 1.0}]},
                      {"service": "none", "type": "probabilistic", "param": 0.6},
                      {"service": "limited", "type": "ratelimiting", "param": 3}]}
    default, services = build_responses(strategies)
    assert _ops(services["own"]) == {"POST /": 1.0, "GET /": 0.0}
    assert services["own"]["operationSampling"]["defaultSamplingProbability"] == 0.8
    assert _ops(services["none"]) == {"GET /": 0.0, "POST /": 0.3}
    assert services["none"]["operationSampling"]["defaultSamplingProbability"] == 0.6
    # Jaeger's TestServiceNoPerOperationStrategies: a rate-limited service keeps the
    # default's table and default probability.
    assert _ops(services["limited"]) == {"GET /": 0.0, "POST /": 0.3}
    assert services["limited"]["operationSampling"]["defaultSamplingProbability"] == 0.5
    assert services["limited"]["rateLimitingSampling"] == {"maxTracesPerSecond": 3}
    assert _ops(default) == {"GET /": 0.0, "POST /": 0.3}
    assert parse_response(services["none"]).probability_for("POST /") == 0.3


def test_rate_limited_service_with_operations_gets_jaeger_default_probability(caplog):
    """Jaeger: per-operation tables under a rate-limited service use 0.001 by default;
    per-operation ratelimiting entries are skipped with a warning."""
    caplog.set_level(logging.WARNING)
    body = response_for_service({"service_strategies": [
        {"service": "s", "type": "ratelimiting", "param": 2, "operation_strategies": [
            {"operation": "a", "type": "probabilistic", "param": 0.4},
            {"operation": "b", "type": "ratelimiting", "param": 9}]}]}, "s")
    assert body["operationSampling"]["defaultSamplingProbability"] == 0.001
    assert _ops(body) == {"a": 0.4}
    assert any("'b'" in r.getMessage() for r in caplog.records)


def test_top_level_operation_strategies_are_the_default_ones():
    """os-tracing extension: top-level operation_strategies act as the default's."""
    body = response_for_service({"default_strategy": {"type": "probabilistic", "param": 0.2},
                                 "operation_strategies": [
                                     {"operation": "x", "type": "probabilistic",
                                      "param": 1}]}, "any")
    assert _ops(body) == {"x": 1.0}


@pytest.mark.parametrize(("strategies", "message"), [
    ([], "strategies file is missing or not an object"),
    ({"default_strategy": {"type": "adaptive", "param": 1}}, "type 'adaptive'"),
    ({"default_strategy": {"type": "probabilistic", "param": 1.5}}, "not in [0, 1]"),
    ({"service_strategies": [{"type": "probabilistic", "param": 0.1}]}, "no service name"),
    ({"service_strategies": [{"service": "a", "type": "ratelimiting", "param": -1}]},
     "negative"),
    ({"service_strategies": {"a": 1}}, "not a list"),
])
def test_bad_strategies_files_are_refused(strategies, message):
    """A bad entry is an error naming it, not a guessed policy."""
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_responses(strategies)
