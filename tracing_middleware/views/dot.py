"""``--format dot``: a Graphviz digraph, one node per span, an edge parent -> child.

Node ids are the span ids; labels hold name, service and duration; error spans are red
and spans whose parent is missing dashed. Every string is quoted and escaped, since span
names are untrusted (a ``"`` must not end the label early). ``dot -Tsvg`` renders it.

:func:`render_dependencies` draws ``os-tracing deps --format dot`` the same way: one node
per service, one edge per dependency.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracing_middleware.export.store import Trace

__all__ = ["render", "render_dependencies"]

#: Protocols whose sender does not wait for the receiver: drawn dashed.
_ASYNC = frozenset({"rpc_cast", "notification"})


def _escape(text: str) -> str:
    """Text inside a DOT quoted string: backslash and quote escaped, newlines flattened."""
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ")
            .replace("\n", " "))


def render(trace: Trace) -> str:
    """The digraph as DOT source."""
    ids = {s.span_id for s in trace.spans}
    lines = [f'digraph "trace {_escape(trace.trace_id)}" {{', "  rankdir=LR;",
             '  node [shape=box, fontname="monospace"];']
    for span in trace.spans:
        # "\n" here is DOT's own line break inside a label, so it is joined after escaping.
        label = "\\n".join((_escape(span.name),
                            f"[{_escape(span.service)}] {span.duration_ns / 1e6:.3f} ms"))
        style = []
        if span.status == "error":
            style.append("color=red")
        if span.parent_span_id and span.parent_span_id not in ids:
            style.append("style=dashed")
        extra = "".join(", " + s for s in style)
        lines.append(f'  "{_escape(span.span_id)}" [label="{label}"{extra}];')
    for span in trace.spans:
        if span.parent_span_id in ids and span.parent_span_id != span.span_id:
            lines.append(f'  "{_escape(span.parent_span_id)}" -> "{_escape(span.span_id)}";')
    lines.append("}")
    return "\n".join(lines)


def render_dependencies(report: Mapping[str, Any]) -> str:
    """:func:`~tracing_middleware.views.analysis.dependencies` as DOT source.

    Each edge is labelled with its protocol, calls, errors and p95; edges with errors are
    red, casts and notifications (nobody waits for them) dashed.
    """
    lines = ['digraph "os-tracing dependencies" {', "  rankdir=LR;",
             '  node [shape=box, fontname="monospace"];',
             '  edge [fontname="monospace"];']
    services = sorted({e["from"] for e in report["edges"]}
                      | {e["to"] for e in report["edges"]})
    lines += [f'  "{_escape(service)}";' for service in services]
    for e in report["edges"]:
        label = "\\n".join((e["protocol"], f"{e['calls']} calls, {e['errors']} errors",
                            f"p95 {e['p95_ns'] / 1e6:.3f} ms"))
        style = []
        if e["errors"]:
            style.append("color=red")
        if e["protocol"] in _ASYNC:
            style.append("style=dashed")
        extra = "".join(", " + s for s in style)
        lines.append(f'  "{_escape(e["from"])}" -> "{_escape(e["to"])}" '
                     f'[label="{label}"{extra}];')
    lines.append("}")
    return "\n".join(lines)
