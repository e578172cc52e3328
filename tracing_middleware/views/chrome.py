"""``--format chrome``: Trace Event Format JSON for Perfetto (ui.perfetto.dev) and
chrome://tracing.

One complete (``"ph": "X"``) event per span with ``ts``/``dur`` in microseconds (the
format's unit), a process per service (``pid``, named by a ``process_name`` metadata
event) and a thread per nesting depth (``tid``), so a parent and its children stack
instead of overlapping. ``args`` carries the span's attributes plus ``span_id``,
``parent_span_id``, ``kind`` and ``status`` (ours win over an attribute of the same name).
Format: https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
"""

from __future__ import annotations

import json
from typing import Any

from tracing_middleware.export.store import Trace
from tracing_middleware.views._layout import walk

__all__ = ["render"]


def render(trace: Trace) -> str:
    """The trace as a ``{"traceEvents": [...]}`` JSON document."""
    services = sorted({s.service for s in trace.spans})
    pid = {name: i + 1 for i, name in enumerate(services)}
    events: list[dict[str, Any]] = []
    for name in services:
        events.append({"ph": "M", "name": "process_name", "pid": pid[name], "tid": 0,
                       "args": {"name": name}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid[name],
                       "tid": 0, "args": {"sort_index": pid[name]}})
    for node in walk(trace):
        span = node.span
        args = {**dict(span.attributes), "span_id": span.span_id,
                "parent_span_id": span.parent_span_id, "kind": span.kind,
                "status": span.status}
        if span.status_message:
            args["status_message"] = span.status_message
        events.append({"ph": "X", "name": span.name, "cat": span.kind,
                       "ts": span.start_time_unix_nano / 1000.0,
                       "dur": span.duration_ns / 1000.0, "pid": pid[span.service],
                       "tid": node.depth, "args": args})
        for event in span.events:
            events.append({"ph": "i", "s": "t", "name": event.name,
                           "ts": event.time_unix_nano / 1000.0, "pid": pid[span.service],
                           "tid": node.depth, "args": dict(event.attributes)})
    return json.dumps({"traceEvents": events, "displayTimeUnit": "ms",
                       "otherData": {"trace_id": trace.trace_id}}, default=str)
