"""Several formats at once: the first valid trace context wins, baggage is merged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracing_middleware.propagation.base import (
    Getter,
    Propagator,
    Setter,
    default_getter,
    default_setter,
)
from tracing_middleware.spancontext import EMPTY, Propagated

__all__ = ["CompositePropagator"]


class CompositePropagator(Propagator):
    name = "composite"

    def __init__(self, propagators: Sequence[Propagator]) -> None:
        self.propagators = tuple(propagators)
        self.fields = frozenset().union(*(p.fields for p in self.propagators))

    def extract(self, carrier: Any, propagated: Propagated = EMPTY,
                getter: Getter[Any] = default_getter) -> Propagated:
        result = propagated
        for propagator in self.propagators:
            found = propagator.extract(carrier, EMPTY, getter)
            if found.span_context is not None and result.span_context is None:
                result = result.with_span_context(found.span_context)
            if found.baggage:
                result = result.with_baggage({**result.baggage, **found.baggage})
        return result

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        for propagator in self.propagators:
            propagator.inject(carrier, propagated, setter)
