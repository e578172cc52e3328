"""Samplers by the names operators type in ``[tracing] sampler``.

The names and semantics are OpenTelemetry's (``OTEL_TRACES_SAMPLER``), plus
``jaeger_remote`` / ``parentbased_jaeger_remote`` whose ``sampler_arg`` uses OpenTelemetry
Java's ``k=v,k=v`` keys. Everything is checked here, at load: a bad name or argument raises
``ValueError`` naming the value and what is accepted.
"""

from __future__ import annotations

from tracing_middleware.sampling.base import (
    DROP,
    RECORD_AND_SAMPLE,
    Decision,
    Sampler,
    SamplingResult,
)
from tracing_middleware.sampling.jaeger_remote import JaegerRemoteSampler, parse_sampler_arg
from tracing_middleware.sampling.parent import ParentBased
from tracing_middleware.sampling.rate_limiting import RateLimitingSampler, TokenBucket
from tracing_middleware.sampling.ratio import TraceIdRatioBased
from tracing_middleware.sampling.static import ALWAYS_OFF, ALWAYS_ON, PolicySampler

__all__ = [
    "ALWAYS_OFF",
    "ALWAYS_ON",
    "DROP",
    "RECORD_AND_SAMPLE",
    "SAMPLERS",
    "Decision",
    "JaegerRemoteSampler",
    "ParentBased",
    "PolicySampler",
    "RateLimitingSampler",
    "Sampler",
    "SamplingResult",
    "TokenBucket",
    "TraceIdRatioBased",
    "build_sampler",
    "parse_sampler_arg",
]

SAMPLERS = ("always_on", "always_off", "traceidratio", "parentbased_always_on",
            "parentbased_always_off", "parentbased_traceidratio", "jaeger_remote",
            "parentbased_jaeger_remote")


def _ratio(arg: str | None) -> float:
    if arg is None or not arg.strip():
        return 1.0  # OTEL_TRACES_SAMPLER_ARG's default for traceidratio
    try:
        rate = float(arg)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"sampler_arg {arg!r} is not a number between 0 and 1 "
                         f"(the ratio for traceidratio)")
    return rate


def build_sampler(name: str, arg: str | None, service_name: str,
                  upstream_rate_limit: float = 100.0) -> Sampler:
    """The sampler ``name`` configured by ``arg``.

    ``upstream_rate_limit`` (traces/s, 0 = unlimited) applies to the ``parentbased_*``
    samplers; ``jaeger_remote`` samplers start their poller here.
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}")
    if upstream_rate_limit < 0:
        raise ValueError(f"upstream_sampling_rate_limit {upstream_rate_limit!r} must be >= 0")
    base = name.removeprefix("parentbased_")
    root: Sampler
    if base == "always_on":
        root = ALWAYS_ON
    elif base == "always_off":
        root = ALWAYS_OFF
    elif base == "traceidratio":
        root = TraceIdRatioBased(_ratio(arg))
    else:
        root = JaegerRemoteSampler.from_options(parse_sampler_arg(arg), service_name)
    if name.startswith("parentbased_"):
        return ParentBased(root, upstream_rate_limit=upstream_rate_limit)
    return root
