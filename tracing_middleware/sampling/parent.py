"""``parentbased_*``: follow the parent's decision, with two os-tracing rules on top.

* a ``forced`` parent (verified osprofiler signature) is always sampled;
* a sampled flag from a remote caller is a request, not an order: honoured while the
  ``upstream_sampling_rate_limit`` bucket allows, then the root sampler decides. A
  deferred flag (``sampled is None``, B3/Jaeger) is decided by the root sampler.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracing_middleware.sampling.base import RECORD_AND_SAMPLE, Sampler, SamplingResult
from tracing_middleware.sampling.rate_limiting import TokenBucket
from tracing_middleware.sampling.static import ALWAYS_OFF, ALWAYS_ON
from tracing_middleware.spancontext import SpanContext

__all__ = ["ParentBased"]


class ParentBased(Sampler):
    def __init__(self, root: Sampler, remote_parent_sampled: Sampler = ALWAYS_ON,
                 remote_parent_not_sampled: Sampler = ALWAYS_OFF,
                 local_parent_sampled: Sampler = ALWAYS_ON,
                 local_parent_not_sampled: Sampler = ALWAYS_OFF,
                 upstream_rate_limit: float = 100.0) -> None:
        if upstream_rate_limit < 0:
            raise ValueError("upstream_rate_limit must be >= 0")
        self.root = root
        self._remote_sampled = remote_parent_sampled
        self._remote_not_sampled = remote_parent_not_sampled
        self._local_sampled = local_parent_sampled
        self._local_not_sampled = local_parent_not_sampled
        self._upstream = TokenBucket(upstream_rate_limit) if upstream_rate_limit else None

    def should_sample(self, parent: SpanContext | None, trace_id: int, name: str,
                      kind: str | None = None,
                      attributes: Mapping[str, Any] | None = None) -> SamplingResult:
        if parent is None:
            return self.root.should_sample(None, trace_id, name, kind, attributes)
        if parent.forced:
            return RECORD_AND_SAMPLE
        if parent.remote:
            if parent.sampled is None:
                return self.root.should_sample(parent, trace_id, name, kind, attributes)
            if parent.sampled:
                if self._upstream is not None and not self._upstream.take():
                    return self.root.should_sample(parent, trace_id, name, kind, attributes)
                return self._remote_sampled.should_sample(parent, trace_id, name, kind,
                                                          attributes)
            return self._remote_not_sampled.should_sample(parent, trace_id, name, kind,
                                                          attributes)
        chosen = self._local_sampled if parent.sampled else self._local_not_sampled
        return chosen.should_sample(parent, trace_id, name, kind, attributes)

    def get_description(self) -> str:
        return (f"ParentBased{{root:{self.root.get_description()},"
                f"remoteParentSampled:{self._remote_sampled.get_description()},"
                f"remoteParentNotSampled:{self._remote_not_sampled.get_description()},"
                f"localParentSampled:{self._local_sampled.get_description()},"
                f"localParentNotSampled:{self._local_not_sampled.get_description()}}}")

    def shutdown(self) -> None:
        self.root.shutdown()

    def after_fork(self) -> None:
        self.root.after_fork()
