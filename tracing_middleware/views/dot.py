"""``--format dot``: a Graphviz digraph, one node per span, edges parent -> child."""

from __future__ import annotations

from tracing_middleware.export.store import Trace

__all__ = ["render"]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def render(trace: Trace) -> str:
    ids = {s.span_id for s in trace.spans}
    lines = [f"digraph {_quote('trace ' + trace.trace_id)} {{", "  rankdir=LR;",
             "  node [shape=box, fontname=monospace];"]
    for span in trace.spans:
        label = f"{span.name}\\n[{span.service}] {span.duration_ns / 1e6:.3f} ms"
        colour = ', color=red' if span.status == "error" else ""
        lines.append(f"  {_quote(span.span_id)} [label={_quote(label)}{colour}];")
    for span in trace.spans:
        if span.parent_span_id in ids:
            lines.append(f"  {_quote(span.parent_span_id)} -> {_quote(span.span_id)};")
    lines.append("}")
    return "\n".join(lines)
