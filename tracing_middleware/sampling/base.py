"""The sampler contract, with OpenTelemetry's names and semantics.

A sampler decides once, at the start of a span, from what is known then: the parent (if
any), the trace id and the span name. ``should_sample`` is on the hot path: no I/O, no
logging, no locks held for long. Arguments are checked in ``__init__`` (config time,
loud); ``should_sample`` never raises.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from tracing_middleware.spancontext import SpanContext

__all__ = ["Decision", "DROP", "RECORD_AND_SAMPLE", "Sampler", "SamplingResult", "TraceState"]

#: W3C ``tracestate`` members, in order.
TraceState = tuple[tuple[str, str], ...]


class Decision(enum.Enum):
    DROP = 0
    RECORD_AND_SAMPLE = 2

    @property
    def is_sampled(self) -> bool:
        return self is Decision.RECORD_AND_SAMPLE


@dataclasses.dataclass(frozen=True, slots=True)
class SamplingResult:
    """A decision plus attributes to add to the span (e.g. which policy applied), and the
    new span's ``tracestate`` when the sampler changes it (``None``: the parent's)."""

    decision: Decision
    attributes: Mapping[str, Any] | None = None
    trace_state: TraceState | None = None

    @property
    def is_sampled(self) -> bool:
        return self.decision is Decision.RECORD_AND_SAMPLE


RECORD_AND_SAMPLE = SamplingResult(Decision.RECORD_AND_SAMPLE)
DROP = SamplingResult(Decision.DROP)


class Sampler(abc.ABC):
    #: True when an unsampled (and not forced) remote parent always gets DROP, whatever
    #: the span's name, kind and attributes: the caller may then skip building them and
    #: the call (:meth:`Tracing.continue_unsampled`).
    follows_unsampled_remote_parent: bool = False

    @abc.abstractmethod
    def should_sample(self, parent: SpanContext | None, trace_id: int, name: str,
                      kind: str | None = None,
                      attributes: Mapping[str, Any] | None = None) -> SamplingResult:
        """Decide for a new span.

        ``parent`` is the parent span context (``remote`` tells a context extracted from
        a request or message from a local parent), or ``None`` for a root span. ``kind`` is
        the OpenTracing ``span.kind`` value (``server``, ``client``, ``producer``,
        ``consumer``) or ``None`` for internal spans.
        """

    @abc.abstractmethod
    def get_description(self) -> str:
        ...

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Stop background work (pollers). Idempotent."""

    def after_fork(self) -> None:  # noqa: B027 - optional hook
        """Restart background work in a forked child."""
