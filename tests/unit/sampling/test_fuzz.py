"""Hypothesis: the policy parsers and the option loader take any input without surprises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tracing_middleware.config import ConfigError, load_settings
from tracing_middleware.opts import OPTS
from tracing_middleware.sampling.strategies import parse_response, response_for_service

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
              st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from([
                                   "strategyType", "probabilisticSampling", "samplingRate",
                                   "rateLimitingSampling", "maxTracesPerSecond",
                                   "operationSampling", "perOperationStrategies",
                                   "operation", "defaultSamplingProbability",
                                   "default_strategy", "service_strategies", "service",
                                   "type", "param", "operation_strategies", "x"]),
                                   children, max_size=5)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_sampling_response_parser_only_raises_value_error(body):
    """Any JSON value: a policy or ValueError, nothing else."""
    try:
        policy = parse_response(body)
    except ValueError:
        return
    assert 0.0 <= policy.rate or policy.kind == "ratelimiting"


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_strategies_file_parser_only_raises_value_error(doc):
    """Any strategies document: an answer, or ValueError (TypeError/KeyError never)."""
    try:
        body = response_for_service(doc, "svc")
    except ValueError:
        return
    assert "strategyType" in body


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([o.dest for o in OPTS]), st.text(max_size=40),
                       max_size=6))
def test_paste_values_only_raise_config_error(local_conf):
    """Any strings in a paste section: settings, or a ConfigError naming the option."""
    try:
        load_settings(None, local_conf, environ={})
    except ConfigError as exc:
        assert all(p.startswith("[tracing]") for p in exc.problems)
