"""``--format chrome``: Trace Event Format JSON for Perfetto and chrome://tracing.

One complete ("X") event per span; a process per service (named by a metadata event) and
a thread per nesting depth, so concurrent spans of one service do not overlap.
"""

from __future__ import annotations

import json

from tracing_middleware.export.store import Trace
from tracing_middleware.views.tree import children_of

__all__ = ["render"]


def render(trace: Trace) -> str:
    services = sorted({s.service for s in trace.spans})
    pid = {name: i + 1 for i, name in enumerate(services)}
    events: list[dict] = [{"ph": "M", "name": "process_name", "pid": pid[s], "tid": 0,
                           "args": {"name": s}} for s in services]
    roots, children = children_of(trace)

    def walk(span, depth):  # type: ignore[no-untyped-def]
        events.append({"ph": "X", "name": span.name, "cat": span.kind,
                       "ts": span.start_time_unix_nano / 1000.0,
                       "dur": span.duration_ns / 1000.0, "pid": pid[span.service],
                       "tid": depth, "args": {"span_id": span.span_id,
                                              "status": span.status,
                                              **{k: v for k, v in span.attributes.items()}}})
        for child in children.get(span.span_id, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return json.dumps({"traceEvents": events, "displayTimeUnit": "ms",
                       "otherData": {"trace_id": trace.trace_id}}, default=str)
