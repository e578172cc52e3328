"""``--format html``: one self-contained file (no network) with a waterfall, a colour per
service and span details on click. Everything from the trace is escaped."""

from __future__ import annotations

import html
import json

from tracing_middleware.export.store import Trace
from tracing_middleware.views.tree import children_of

__all__ = ["render"]

_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
            "#ff9da7", "#9c755f", "#bab0ac")

_CSS = """body{font:13px system-ui,sans-serif;margin:1em;color:#222}
.row{display:flex;align-items:center;height:22px;cursor:pointer;border-bottom:1px solid #eee}
.row:hover{background:#f5f7fa}.name{width:38%;overflow:hidden;white-space:nowrap;
text-overflow:ellipsis}.lane{position:relative;flex:1;height:14px}
.bar{position:absolute;height:14px;border-radius:2px;min-width:2px}
.err .name{color:#c00;font-weight:600}.legend span{display:inline-block;margin-right:1em}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
#details{white-space:pre-wrap;background:#f6f6f6;padding:.5em;margin-top:1em;
font-family:monospace}"""

_JS = """document.querySelectorAll('.row').forEach(function(r){r.addEventListener('click',
function(){var d=JSON.parse(document.getElementById('span-'+r.dataset.span).textContent);
document.getElementById('details').textContent=JSON.stringify(d,null,2);});});"""


def render(trace: Trace) -> str:
    esc = html.escape
    spans = trace.spans
    start = min((s.start_time_unix_nano for s in spans), default=0)
    end = max((s.end_time_unix_nano for s in spans), default=start + 1)
    total = max(end - start, 1)
    services = sorted({s.service for s in spans})
    colour = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(services)}
    roots, children = children_of(trace)
    rows: list[str] = []
    data: list[str] = []

    def walk(span, depth):  # type: ignore[no-untyped-def]
        left = (span.start_time_unix_nano - start) / total * 100
        width = span.duration_ns / total * 100
        cls = "row err" if span.status == "error" else "row"
        rows.append(
            f"<div class='{cls}' data-span='{esc(span.span_id)}'>"
            f"<div class='name' style='padding-left:{depth * 14}px'>{esc(span.name)} "
            f"<small>[{esc(span.service)}] {span.duration_ns / 1e6:.3f} ms</small></div>"
            f"<div class='lane'><div class='bar' style='left:{left:.3f}%;width:{width:.3f}%;"
            f"background:{colour[span.service]}' title='{esc(span.name)}'></div></div></div>")
        payload = json.dumps(span.to_json(), default=str).replace("</", "<\\/")
        data.append(f"<script type='application/json' id='span-{esc(span.span_id)}'>"
                    f"{payload}</script>")
        for child in children.get(span.span_id, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    legend = "".join(f"<span><i class='sw' style='background:{colour[s]}'></i>{esc(s)}</span>"
                     for s in services)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>trace "
            f"{esc(trace.trace_id)}</title><style>{_CSS}</style></head><body>"
            f"<h2>Trace {esc(trace.trace_id)}</h2><p>{len(spans)} spans, "
            f"{total / 1e6:.3f} ms</p><div class='legend'>{legend}</div>"
            f"<div id='waterfall'>{''.join(rows)}</div><div id='details'>"
            f"Click a span for its attributes and events.</div>{''.join(data)}"
            f"<script>{_JS}</script></body></html>")
