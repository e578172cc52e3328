"""Import ``osprofiler trace show --json`` output into the span store.

That document (osprofiler ``drivers/base.py``, ``_parse_results``) is a tree::

    {"info": {"name": "total", "started": 0, "finished": <ms>},
     "children": [{"trace_id": <point uuid>, "parent_id": <uuid>,
                   "info": {"name", "service", "project", "host",
                            "started": <ms offset>, "finished": <ms offset>,
                            "exception": "None" | <type name>,
                            "meta.raw_payload.<name>-start": {..., "base_id",
                                                              "timestamp", "info"},
                            "meta.raw_payload.<name>-stop": {...}},
                   "children": [...]}, ...]}

Ids map as everywhere in os-tracing (see ``propagation/osprofiler.py``): trace id = the
base id UUID's 128 bits, span id = a point's UUID's low 64 bits, so an imported osprofiler
trace lines up with spans os-tracing exported for the same request. The base id comes from
a raw payload's ``base_id``, else from a top-level point's ``parent_id`` (osprofiler
parents first-level points on the base id). Absolute times come from the raw payloads'
``timestamp`` (UTC, microseconds); without any, times are the millisecond offsets counted
from the Unix epoch (the file carries nothing better) and the import says so by setting
``osprofiler.time_origin = "unknown"``.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.osprofiler_info import MAX_VALUE, flatten_info

__all__ = ["import_osprofiler_json"]

_LOW64 = (1 << 64) - 1
# NOTE(os-tracing): the same words the osprofiler integration drops: an imported file
# must not put into our store what the live bridge would have refused.
#: osprofiler point names whose span kind is not ``internal``.
_KINDS = {"wsgi": "server", "db": "client", "http": "client", "requests": "client",
          "rpc": "client", "neutron_api": "client", "nova_image": "client"}


def _uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"osprofiler {what} {value!r} is not a UUID") from None


def _span_id(value: Any) -> str:
    return f"{_uuid(value, 'point id').int & _LOW64:016x}"


def _nodes(doc: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every point of the tree, parents first, iteratively (no recursion limit)."""
    stack = list(reversed(doc.get("children") or []))
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        yield node
        stack.extend(reversed(node.get("children") or []))


def _timestamp_ns(payload: Any) -> int | None:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("timestamp"), str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(payload["timestamp"])
    except ValueError:
        return None
    if moment.tzinfo is None:  # osprofiler writes datetime.utcnow().isoformat()
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def _base_id(doc: Mapping[str, Any], points: list[Mapping[str, Any]]) -> uuid.UUID:
    for node in points:
        for key, payload in (node.get("info") or {}).items():
            if str(key).startswith("meta.raw_payload.") and isinstance(payload, Mapping) \
                    and payload.get("base_id"):
                return _uuid(payload["base_id"], "base_id")
    ids = {str(node.get("trace_id")) for node in points}
    for node in doc.get("children") or []:
        if isinstance(node, Mapping) and node.get("parent_id") and \
                str(node["parent_id"]) not in ids:
            return _uuid(node["parent_id"], "base id")
    raise ValueError("osprofiler trace without a base id (no raw payloads, no parent ids)")


def import_osprofiler_json(doc: Any) -> list[SpanRecord]:
    """The points of an ``osprofiler trace show --json`` document as span records."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("children"), list):
        raise ValueError("not an osprofiler trace (expected an object with 'children')")
    points = [n for n in _nodes(doc) if n.get("trace_id")]
    if not points:
        return []
    base = _base_id(doc, points)
    trace_id = f"{base.int:032x}"
    # origin: absolute time of offset 0, from the first raw payload with a timestamp.
    origin: int | None = None
    for node in points:
        info = node.get("info") or {}
        stamp = _timestamp_ns(info.get(f"meta.raw_payload.{info.get('name')}-start"))
        if stamp is not None:
            origin = stamp - int(float(info.get("started") or 0) * 1e6)
            break
    records = []
    for node in points:
        info = node.get("info") or {}
        name = str(info.get("name") or "")
        start_payload = info.get(f"meta.raw_payload.{name}-start")
        stop_payload = info.get(f"meta.raw_payload.{name}-stop")
        started = _timestamp_ns(start_payload)
        finished = _timestamp_ns(stop_payload)
        offset_start = int(float(info.get("started") or 0) * 1e6)
        offset_end = int(float(info.get("finished") or info.get("started") or 0) * 1e6)
        start = started if started is not None else (origin or 0) + offset_start
        end = finished if finished is not None else start + (offset_end - offset_start)
        parent_id = node.get("parent_id")
        parent = None
        if parent_id and _uuid(parent_id, "parent_id") != base:
            parent = _span_id(parent_id)
        attributes: dict[str, Any] = {"osprofiler.name": name,
                                      "osprofiler.trace_id": str(node["trace_id"])}
        for key in ("host", "project", "service"):
            if info.get(key):
                attributes[f"osprofiler.{key}"] = str(info[key])[:MAX_VALUE]
        for payload in (start_payload, stop_payload):
            if isinstance(payload, Mapping):
                flatten_info(payload.get("info"), "osprofiler", attributes)
        if origin is None:
            attributes["osprofiler.time_origin"] = "unknown"
        exception = info.get("exception")
        error = bool(exception) and str(exception) != "None"
        message = ""
        if error:
            stop_info = stop_payload.get("info") if isinstance(stop_payload, Mapping) else None
            detail = stop_info.get("message") if isinstance(stop_info, Mapping) else None
            message = f"{exception}: {detail}" if detail else str(exception)
        records.append(SpanRecord(
            trace_id=trace_id, span_id=_span_id(node["trace_id"]), parent_span_id=parent,
            name=name, service=str(info.get("service") or info.get("project")
                                   or "osprofiler"),
            kind=_KINDS.get(name, "internal"), start_time_unix_nano=start,
            duration_ns=max(0, end - start), status="error" if error else "unset",
            status_message=message[:MAX_VALUE], attributes=attributes,
            resource={"service.name": str(info.get("service") or info.get("project")
                                          or "osprofiler"),
                      **({"host.name": str(info["host"])} if info.get("host") else {})}))
    return records
