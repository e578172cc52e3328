"""Propagation formats by the names operators type in ``propagators``."""

from __future__ import annotations

from collections.abc import Sequence

from tracing_middleware.propagation.b3 import B3MultiPropagator, B3SinglePropagator
from tracing_middleware.propagation.baggage import BaggagePropagator
from tracing_middleware.propagation.base import Propagator
from tracing_middleware.propagation.composite import CompositePropagator
from tracing_middleware.propagation.jaeger import JaegerPropagator
from tracing_middleware.propagation.osprofiler import OSProfilerPropagator
from tracing_middleware.propagation.tracecontext import TraceContextPropagator

__all__ = [
    "PROPAGATORS",
    "B3MultiPropagator",
    "B3SinglePropagator",
    "BaggagePropagator",
    "CompositePropagator",
    "JaegerPropagator",
    "OSProfilerPropagator",
    "Propagator",
    "TraceContextPropagator",
    "build_propagator",
]

#: Name in ``[tracing] propagators`` / ``OTEL_PROPAGATORS`` -> format; ``none`` (as in
#: OpenTelemetry) maps to ``None`` and contributes nothing.
PROPAGATORS: dict[str, type[Propagator] | None] = {
    "tracecontext": TraceContextPropagator,
    "baggage": BaggagePropagator,
    "b3": B3SinglePropagator,
    "b3multi": B3MultiPropagator,
    "jaeger": JaegerPropagator,
    "osprofiler": OSProfilerPropagator,
    "none": None,
}


def build_propagator(names: Sequence[str], hmac_keys: Sequence[str] = ()
                     ) -> CompositePropagator:
    """One composite for the configured names, in order, each format once.

    Raises :class:`ValueError` naming the bad entry: this runs at config load, where a
    typo must be loud rather than silently propagate nothing.
    """
    if isinstance(names, str):
        raise TypeError("names must be a sequence of propagator names, not one string")
    chosen: list[Propagator] = []
    for name in dict.fromkeys(names):
        if name not in PROPAGATORS:
            raise ValueError(f"unknown propagator {name!r}; expected one of "
                             f"{', '.join(PROPAGATORS)}")
        cls = PROPAGATORS[name]
        if cls is OSProfilerPropagator:
            chosen.append(OSProfilerPropagator(hmac_keys))
        elif cls is not None:
            chosen.append(cls())
    return CompositePropagator(chosen)
