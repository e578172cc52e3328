"""``always_on`` and ``always_off``, and the one place the forced-parent rule lives.

A ``forced`` parent (a verified osprofiler signature) is the only signal from outside that
overrides the operator's policy: ``osprofiler`` users trace one request on purpose, with a
shared secret, and expect it recorded even under ``always_off``. Rather than repeat that
check in every sampler (and forget it in the next one), every os-tracing sampler derives
from :class:`PolicySampler`, whose ``should_sample`` applies the rule and otherwise asks
``_decide``. ``ParentBased`` is a ``PolicySampler`` too, so the rule holds whichever
delegate it picks, and a root sampler used alone honours it as well.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from tracing_middleware.sampling.base import DROP, RECORD_AND_SAMPLE, Sampler, SamplingResult
from tracing_middleware.spancontext import SpanContext

__all__ = ["ALWAYS_OFF", "ALWAYS_ON", "PolicySampler", "StaticSampler"]


class PolicySampler(Sampler):
    """A sampler applying an operator policy, except to a forced parent (always sampled)."""

    def should_sample(self, parent: SpanContext | None, trace_id: int, name: str,
                      kind: str | None = None,
                      attributes: Mapping[str, Any] | None = None) -> SamplingResult:
        if parent is not None and parent.forced:
            return RECORD_AND_SAMPLE
        return self._decide(parent, trace_id, name, kind, attributes)

    @abc.abstractmethod
    def _decide(self, parent: SpanContext | None, trace_id: int, name: str,
                kind: str | None, attributes: Mapping[str, Any] | None) -> SamplingResult:
        """The policy's own decision; never sees a forced parent."""


class StaticSampler(PolicySampler):
    """The same decision for every span (OTel ``ALWAYS_ON`` / ``ALWAYS_OFF``)."""

    def __init__(self, sample: bool) -> None:
        self._sample = sample
        self._result = RECORD_AND_SAMPLE if sample else DROP
        self.follows_unsampled_remote_parent = not sample

    def _decide(self, parent: SpanContext | None, trace_id: int, name: str,
                kind: str | None, attributes: Mapping[str, Any] | None) -> SamplingResult:
        return self._result

    def get_description(self) -> str:
        return "AlwaysOnSampler" if self._sample else "AlwaysOffSampler"


ALWAYS_ON = StaticSampler(True)
ALWAYS_OFF = StaticSampler(False)
