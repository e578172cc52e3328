"""``--format tree``: an indented tree with services, kinds, errors and aligned durations."""

from __future__ import annotations

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import Trace

__all__ = ["children_of", "render"]


def children_of(trace: Trace) -> tuple[list[SpanRecord], dict[str, list[SpanRecord]]]:
    """Roots (including orphans whose parent was not stored) and children by parent id."""
    ids = {s.span_id for s in trace.spans}
    children: dict[str, list[SpanRecord]] = {}
    roots = []
    for span in sorted(trace.spans, key=lambda s: s.start_time_unix_nano):
        if span.parent_span_id and span.parent_span_id in ids:
            children.setdefault(span.parent_span_id, []).append(span)
        else:
            roots.append(span)
    return roots, children


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms"


def render(trace: Trace, color: bool = False) -> str:
    roots, children = children_of(trace)
    start = min((s.start_time_unix_nano for s in trace.spans), default=0)
    lines: list[tuple[str, SpanRecord]] = []

    def walk(span: SpanRecord, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        orphan = " (parent not stored)" if depth == 0 and span.parent_span_id else ""
        label = f"{prefix}{branch}{span.name} [{span.service}] {span.kind}{orphan}"
        lines.append((label, span))
        kids = children.get(span.span_id, [])
        for index, child in enumerate(kids):
            extension = "" if depth == 0 else ("   " if last else "│  ")
            walk(child, prefix + extension, index == len(kids) - 1, depth + 1)

    for root in roots:
        walk(root, "", True, 0)
    width = max((len(label) for label, _ in lines), default=0)
    out = []
    for label, span in lines:
        error = " ERROR" if span.status == "error" else ""
        if color and error:
            error = " \x1b[31mERROR\x1b[0m"
        offset = span.start_time_unix_nano - start
        out.append(f"{label.ljust(width)}  {_ms(span.duration_ns):>12}  "
                   f"+{_ms(offset):>12}{error}")
    return "\n".join(out)
