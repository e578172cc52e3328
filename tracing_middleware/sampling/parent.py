"""``parentbased_*``: OpenTelemetry's ``ParentBased``, with two os-tracing rules on top.

* A ``forced`` parent (verified osprofiler signature) is always sampled
  (:class:`~tracing_middleware.sampling.static.PolicySampler`).
* A sampled flag from a remote caller is a request, not an order: anyone who can reach an
  API can set ``sampled=1`` on every request, so it is honoured only while the
  ``upstream_sampling_rate_limit`` bucket (traces/s per process; 0 = unlimited) allows;
  beyond that the root sampler decides, as for a request without a decision.
* A deferred decision (``sampled is None``, allowed by B3 and Jaeger) and an invalid
  parent are decided by the root sampler, as OTel does for a missing parent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from tracing_middleware.sampling.base import Sampler, SamplingResult
from tracing_middleware.sampling.rate_limiting import TokenBucket
from tracing_middleware.sampling.static import ALWAYS_OFF, ALWAYS_ON, PolicySampler
from tracing_middleware.spancontext import SpanContext

__all__ = ["ParentBased"]


class ParentBased(PolicySampler):
    def __init__(self, root: Sampler, remote_parent_sampled: Sampler = ALWAYS_ON,
                 remote_parent_not_sampled: Sampler = ALWAYS_OFF,
                 local_parent_sampled: Sampler = ALWAYS_ON,
                 local_parent_not_sampled: Sampler = ALWAYS_OFF,
                 upstream_rate_limit: float = 100.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self._remote_sampled = remote_parent_sampled
        self._remote_not_sampled = remote_parent_not_sampled
        self._local_sampled = local_parent_sampled
        self._local_not_sampled = local_parent_not_sampled
        self.follows_unsampled_remote_parent = \
            remote_parent_not_sampled.follows_unsampled_remote_parent
        bucket = TokenBucket(upstream_rate_limit, clock)  # validates: finite, >= 0
        self.upstream_rate_limit = bucket.rate
        self._upstream: TokenBucket | None = bucket if bucket.rate > 0 else None

    def _decide(self, parent: SpanContext | None, trace_id: int, name: str,
                kind: str | None, attributes: Mapping[str, Any] | None) -> SamplingResult:
        delegate: Sampler
        if parent is None or not parent.is_valid or parent.sampled is None:
            delegate = self.root
        elif parent.remote:
            if not parent.sampled:
                delegate = self._remote_not_sampled
            elif self._upstream is None or self._upstream.take():
                delegate = self._remote_sampled
            else:
                delegate = self.root  # upstream asked for more than we accept
        else:
            delegate = self._local_sampled if parent.sampled else self._local_not_sampled
        return delegate.should_sample(parent, trace_id, name, kind, attributes)

    def get_description(self) -> str:
        return (f"ParentBased{{root:{self.root.get_description()},"
                f"remoteParentSampled:{self._remote_sampled.get_description()},"
                f"remoteParentNotSampled:{self._remote_not_sampled.get_description()},"
                f"localParentSampled:{self._local_sampled.get_description()},"
                f"localParentNotSampled:{self._local_not_sampled.get_description()}}}")

    def _delegates(self) -> list[Sampler]:
        unique: list[Sampler] = []
        for sampler in (self.root, self._remote_sampled, self._remote_not_sampled,
                        self._local_sampled, self._local_not_sampled):
            if all(sampler is not seen for seen in unique):
                unique.append(sampler)
        return unique

    def shutdown(self) -> None:
        for sampler in self._delegates():
            sampler.shutdown()

    def after_fork(self) -> None:
        if self._upstream is not None:
            self._upstream.after_fork()
        for sampler in self._delegates():
            sampler.after_fork()
