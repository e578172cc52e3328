"""``--format json``: the documented, stable machine-readable form of one trace.

Schema (one JSON object)::

    {"trace_id": "<32 lowercase hex>",
     "spans": [{"span_id": "<16 hex>",
                "parent_span_id": "<16 hex>" | null,   # null for a root
                "name": str, "service": str,
                "kind": "internal" | "server" | "client" | "producer" | "consumer",
                "start_time_unix_nano": int, "duration_ns": int,
                "status": "unset" | "ok" | "error", "status_message": str,
                "attributes": {str: scalar | [scalar]},
                "events": [{"name": str, "time_unix_nano": int,
                            "attributes": {str: scalar | [scalar]}}]}]}

Spans are ordered by start time. Each span is exactly ``SpanRecord.to_json()``, so the
schema changes only with that contract (additively). Values that are not JSON are
written with ``str()``.
"""

from __future__ import annotations

import json

from tracing_middleware.export.store import Trace

__all__ = ["render"]


def render(trace: Trace) -> str:
    """``{"trace_id": ..., "spans": [...]}``, indented for people and ``jq`` alike."""
    spans = sorted(trace.spans, key=lambda s: (s.start_time_unix_nano, s.span_id))
    return json.dumps({"trace_id": trace.trace_id, "spans": [s.to_json() for s in spans]},
                      indent=2, default=str)
