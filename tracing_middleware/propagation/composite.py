"""Several formats at once: the first valid trace context wins, baggage is merged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracing_middleware.propagation.base import (
    Getter,
    Propagator,
    Setter,
    default_setter,
)
from tracing_middleware.spancontext import EMPTY, Propagated

__all__ = ["CompositePropagator"]


class CompositePropagator(Propagator):
    """The formats an operator listed in ``propagators``, in that order.

    Extraction: the first format whose headers give a valid span context supplies it, so
    the order says which peer to believe when a request carries several (OpenTelemetry's
    composite lets the last one win instead; ours follows the order operators write).
    Baggage is taken from every format, later formats overriding earlier ones on the same
    key, as chaining each format's ``extract`` would. A carrier without any valid context
    keeps the one in ``propagated``. Injection: every format writes its headers.
    """

    name = "composite"

    def __init__(self, propagators: Sequence[Propagator]) -> None:
        self.propagators: tuple[Propagator, ...] = tuple(propagators)
        self.fields = frozenset().union(*(p.fields for p in self.propagators))
        self.prefixed_fields = any(p.prefixed_fields for p in self.propagators)

    def _extract(self, carrier: Any, propagated: Propagated, getter: Getter[Any]
                 ) -> Propagated:
        context = None
        baggage = dict(propagated.baggage)
        for propagator in self.propagators:
            try:
                found = propagator.extract(carrier, EMPTY, getter)
            except Exception:  # a format that overrides extract() and breaks its promise
                continue
            if context is None and found.span_context is not None \
                    and found.span_context.is_valid:
                context = found.span_context
            baggage.update(found.baggage)
        if context is None and baggage == propagated.baggage:
            return propagated
        result = propagated if context is None else propagated.with_span_context(context)
        return result.with_baggage(baggage) if baggage != result.baggage else result

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        for propagator in self.propagators:
            propagator.inject(carrier, propagated, setter)

    def __repr__(self) -> str:
        return f"CompositePropagator([{', '.join(p.name for p in self.propagators)}])"
