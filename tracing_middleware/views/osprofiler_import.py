"""Import ``osprofiler trace show --json`` output: nested ``children`` with ``info``.

Ids map as everywhere in os-tracing: trace id = the base id UUID's 128 bits, span id = a
point's UUID's low 64 bits, so an imported osprofiler trace joins spans we exported.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from tracing_middleware.export.records import SpanRecord

__all__ = ["import_osprofiler_json"]

_LOW64 = (1 << 64) - 1


def _span_id(value: str) -> str:
    return f"{uuid.UUID(value).int & _LOW64:016x}"


def import_osprofiler_json(doc: Any) -> list[SpanRecord]:
    if not isinstance(doc, dict):
        raise ValueError("not an osprofiler trace (expected a JSON object)")
    info = doc.get("info", {})
    base = None
    started = info.get("started_at") or info.get("meta.raw_payload.wsgi-start", {}).get(
        "timestamp") if isinstance(info, dict) else None
    origin = 0
    if isinstance(started, str):
        try:
            origin = int(datetime.datetime.fromisoformat(started).replace(
                tzinfo=datetime.timezone.utc).timestamp() * 1e9)
        except ValueError:
            origin = 0
    records: list[SpanRecord] = []

    def walk(node: dict[str, Any]) -> None:
        nonlocal base
        for child in node.get("children", []):
            point = child.get("info", {})
            trace_id = child.get("trace_id")
            parent_id = child.get("parent_id")
            if base is None:
                base = point.get("meta.raw_payload." + point.get("name", "") + "-start", {}
                                 ).get("base_id") or doc.get("base_id") or parent_id
            if not trace_id:
                continue
            start_ms = float(point.get("started", 0))
            end_ms = float(point.get("finished", start_ms))
            records.append(SpanRecord(
                trace_id=f"{uuid.UUID(base).int:032x}", span_id=_span_id(trace_id),
                parent_span_id=_span_id(parent_id) if parent_id and parent_id != base
                else None,
                name=str(point.get("name", "")), service=str(
                    point.get("service") or point.get("project") or "osprofiler"),
                kind="internal", start_time_unix_nano=origin + int(start_ms * 1e6),
                duration_ns=max(0, int((end_ms - start_ms) * 1e6)),
                attributes={k: str(v)[:512] for k, v in point.items()
                            if k in ("host", "project", "service", "name")}))
            walk(child)

    walk(doc)
    return records
