"""``--format json``: ``{"trace_id": ..., "spans": [span, ...]}``.

Each span: ``span_id``, ``parent_span_id`` (null for a root), ``name``, ``service``,
``kind``, ``start_time_unix_nano``, ``duration_ns``, ``status``, ``status_message``,
``attributes``, ``events``. Spans are ordered by start time.
"""

from __future__ import annotations

import json

from tracing_middleware.export.store import Trace

__all__ = ["render"]


def render(trace: Trace) -> str:
    return json.dumps({"trace_id": trace.trace_id,
                       "spans": [s.to_json() for s in trace.spans]}, indent=2, default=str)
