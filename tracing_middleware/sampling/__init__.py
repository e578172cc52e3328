"""Samplers by the names operators type in ``sampler``."""

from __future__ import annotations

from tracing_middleware.sampling.base import Sampler
from tracing_middleware.sampling.parent import ParentBased
from tracing_middleware.sampling.ratio import TraceIdRatioBased
from tracing_middleware.sampling.static import ALWAYS_OFF, ALWAYS_ON

__all__ = ["SAMPLERS", "build_sampler"]

SAMPLERS = ("always_on", "always_off", "traceidratio", "parentbased_always_on",
            "parentbased_always_off", "parentbased_traceidratio", "jaeger_remote",
            "parentbased_jaeger_remote")


def _ratio(arg: str | None) -> float:
    if arg is None or not str(arg).strip():
        return 1.0
    try:
        rate = float(arg)
    except ValueError:
        raise ValueError(f"sampler_arg {arg!r} is not a number between 0 and 1")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"sampler_arg {arg!r} is not a number between 0 and 1")
    return rate


def build_sampler(name: str, arg: str | None, service_name: str,
                  upstream_rate_limit: float = 100.0) -> Sampler:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}")
    base = name.removeprefix("parentbased_")
    root: Sampler
    if base == "always_on":
        root = ALWAYS_ON
    elif base == "always_off":
        root = ALWAYS_OFF
    elif base == "traceidratio":
        root = TraceIdRatioBased(_ratio(arg))
    else:
        from tracing_middleware.sampling.jaeger_remote import JaegerRemoteSampler

        root = JaegerRemoteSampler.from_arg(arg, service_name)
    if name.startswith("parentbased_"):
        return ParentBased(root, upstream_rate_limit=upstream_rate_limit)
    return root
