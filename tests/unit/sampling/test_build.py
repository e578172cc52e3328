"""``build_sampler``: the names operators type, and loud errors at load time."""

from __future__ import annotations

import importlib
import re

import pytest

import tracing_middleware.sampling as sampling
from tracing_middleware.sampling import (
    SAMPLERS,
    JaegerRemoteSampler,
    ParentBased,
    TraceIdRatioBased,
    build_sampler,
    parse_sampler_arg,
)


@pytest.mark.parametrize(("name", "arg", "description"), [
    ("always_on", None, "AlwaysOnSampler"),
    ("always_off", "", "AlwaysOffSampler"),
    ("traceidratio", "0.01", "TraceIdRatioBased{0.01}"),
    ("traceidratio", None, "TraceIdRatioBased{1.0}"),
    ("parentbased_always_on", None, "ParentBased{root:AlwaysOnSampler,"),
    ("parentbased_always_off", None, "ParentBased{root:AlwaysOffSampler,"),
    ("parentbased_traceidratio", " 0.25 ", "ParentBased{root:TraceIdRatioBased{0.25},"),
])
def test_every_static_name_builds(name, arg, description):
    """Each OTEL_TRACES_SAMPLER name builds the sampler it names."""
    assert build_sampler(name, arg, "svc").get_description().startswith(description)


@pytest.mark.parametrize("name", ["jaeger_remote", "parentbased_jaeger_remote"])
def test_jaeger_remote_names_build_with_java_keys(name):
    """OTel Java's keys configure the remote sampler; the poller is stoppable."""
    sampler = build_sampler(name, "endpoint=http://127.0.0.1:9/sampling,"
                                  "pollingIntervalMs=250, initialSamplingRate=0.5", "nova")
    try:
        remote = sampler.root if isinstance(sampler, ParentBased) else sampler
        assert isinstance(remote, JaegerRemoteSampler)
        assert (remote.endpoint, remote.interval_s, remote.service_name) == \
            ("http://127.0.0.1:9/sampling", 0.25, "nova")
        assert remote.policy.rate == 0.5
        assert remote.timeout_s == 0.25  # min(5 s, interval)
        assert "JaegerRemoteSampler{endpoint=http://127.0.0.1:9/sampling" in \
            sampler.get_description()
    finally:
        sampler.shutdown()


def test_upstream_rate_limit_reaches_parent_based():
    """upstream_rate_limit is ParentBased's constructor argument."""
    sampler = build_sampler("parentbased_always_off", None, "svc", upstream_rate_limit=7)
    assert isinstance(sampler, ParentBased) and sampler.upstream_rate_limit == 7


@pytest.mark.parametrize(("name", "arg", "message"), [
    ("sometimes", None, "unknown sampler 'sometimes'; expected one of always_on"),
    ("traceidratio", "1.5", "'1.5' is not a number between 0 and 1"),
    ("traceidratio", "abc", "'abc' is not a number between 0 and 1"),
    ("traceidratio", "nan", "'nan' is not a number between 0 and 1"),
    ("jaeger_remote", "endpoint=ftp://x", "endpoint='ftp://x' must be an http://"),
    ("jaeger_remote", "endpoint=http://", "must be an http://"),
    ("jaeger_remote", "pollingInterval=5", "key 'pollingInterval' is unknown for "
                                           "jaeger_remote; accepted keys: endpoint"),
    ("jaeger_remote", "pollingIntervalMs=0", "pollingIntervalMs='0' is not a positive"),
    ("jaeger_remote", "pollingIntervalMs=soon", "pollingIntervalMs='soon' is not"),
    ("jaeger_remote", "initialSamplingRate=2", "initialSamplingRate='2' is not a number "
                                               "between 0 and 1"),
    ("parentbased_jaeger_remote", "endpoint", "item 'endpoint' is not key=value"),
])
def test_bad_sampler_configuration_names_the_value(name, arg, message):
    """Configuration errors are raised at build time with the value and what is accepted."""
    with pytest.raises(ValueError, match=re.escape(message)):
        build_sampler(name, arg, "svc")


def test_negative_upstream_limit_is_refused():
    """upstream_sampling_rate_limit < 0 is a configuration error naming the option."""
    with pytest.raises(ValueError, match="upstream_sampling_rate_limit -1"):
        build_sampler("parentbased_always_on", None, "svc", upstream_rate_limit=-1)


def test_parse_sampler_arg_java_style():
    """k=v,k=v with spaces trimmed and '=' allowed in values (URLs with queries)."""
    assert parse_sampler_arg(" endpoint=http://h:5778/sampling?x=1 , pollingIntervalMs=5,") \
        == {"endpoint": "http://h:5778/sampling?x=1", "pollingIntervalMs": "5"}
    assert parse_sampler_arg(None) == {} == parse_sampler_arg("")
    with pytest.raises(ValueError, match="'a' is given twice"):
        parse_sampler_arg("a=1,a=2")
    with pytest.raises(ValueError, match="not key=value"):
        parse_sampler_arg("=1")


def test_exported_members():
    """Each sampling module has __all__ and the package re-exports the public samplers."""
    for module in ("static", "ratio", "parent", "rate_limiting", "jaeger_remote",
                   "strategies"):
        mod = importlib.import_module(f"tracing_middleware.sampling.{module}")
        assert mod.__all__ and all(hasattr(mod, name) for name in mod.__all__)
    assert all(hasattr(sampling, name) for name in sampling.__all__)
    assert {"build_sampler", "parse_sampler_arg", "SAMPLERS"} <= set(sampling.__all__)
    assert SAMPLERS[:6] == ("always_on", "always_off", "traceidratio",
                            "parentbased_always_on", "parentbased_always_off",
                            "parentbased_traceidratio")
    assert isinstance(build_sampler("traceidratio", "1", "svc"), TraceIdRatioBased)
