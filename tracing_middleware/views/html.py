"""``--format html``: one self-contained page, a waterfall to open from a file or mail.

No network at all (inline CSS and JS, no CDN, no fonts), because traces are opened on
jump hosts and air-gapped clouds. One row per span in tree order with a bar positioned
by start and sized by duration, a colour per service with a legend, and a click on a row
shows that span's attributes and events.

Everything from the trace is untrusted (attribute values come from requests): text goes
through ``html.escape`` and the span data rides in a ``<script type="application/json">``
block with ``<``, ``>`` and ``&`` written as ``\\u003c``-style escapes, so no value can
close the block; the page script only ever assigns it with ``textContent``.
"""

from __future__ import annotations

import html
import json

from tracing_middleware.export.store import Trace
from tracing_middleware.views._layout import walk

__all__ = ["render"]

_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
            "#ff9da7", "#9c755f", "#bab0ac")

_CSS = """body{font:13px system-ui,sans-serif;margin:1em;color:#222}
.row{display:flex;align-items:center;height:22px;cursor:pointer;border-bottom:1px solid #eee}
.row:hover,.row.sel{background:#eef2f8}.name{width:38%;overflow:hidden;white-space:nowrap;
text-overflow:ellipsis}.lane{position:relative;flex:1;height:14px}
.bar{position:absolute;height:14px;border-radius:2px;min-width:2px}
.err .name{color:#c00;font-weight:600}.orphan .name{font-style:italic}
.legend .item{display:inline-block;margin-right:1em}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
#details{white-space:pre-wrap;background:#f6f6f6;padding:.5em;margin-top:1em;
font-family:monospace}"""

_JS = """(function(){var spans=JSON.parse(document.getElementById('spans').textContent);
var rows=document.querySelectorAll('.row');rows.forEach(function(r){
r.addEventListener('click',function(){rows.forEach(function(o){o.classList.remove('sel');});
r.classList.add('sel');var s=spans[+r.dataset.index];
document.getElementById('details').textContent=JSON.stringify(s,null,2);});});})();"""


def _script_json(value: object) -> str:
    """JSON that is inert inside <script>: no '<' means no '</script>' or '<!--'."""
    text = json.dumps(value, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(trace: Trace) -> str:
    """The page as one HTML string."""
    esc = html.escape
    spans = trace.spans
    start = min((s.start_time_unix_nano for s in spans), default=0)
    end = max((s.end_time_unix_nano for s in spans), default=start)
    total = max(end - start, 1)
    services = sorted({s.service for s in spans})
    colour = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(services)}
    rows: list[str] = []
    data: list[dict[str, object]] = []
    for node in walk(trace):
        span = node.span
        left = (span.start_time_unix_nano - start) / total * 100
        width = span.duration_ns / total * 100
        classes = "row" + (" err" if span.status == "error" else "") + (
            " orphan" if node.orphan else "")
        error = " <b>ERROR</b>" if span.status == "error" else ""
        tip = f"{span.name} [{span.service}] {span.duration_ns / 1e6:.3f} ms"
        rows.append(
            f"<div class='{classes}' data-index='{len(data)}'>"
            f"<div class='name' style='padding-left:{node.depth * 14}px'>{esc(span.name)} "
            f"<small>[{esc(span.service)}] {span.duration_ns / 1e6:.3f} ms</small>{error}"
            f"</div><div class='lane'><div class='bar' style='left:{left:.3f}%;"
            f"width:{width:.3f}%;background:{colour[span.service]}' title='{esc(tip)}'>"
            "</div></div></div>")
        data.append({**span.to_json(), "resource": dict(span.resource),
                     "offset_ms": (span.start_time_unix_nano - start) / 1e6})
    legend = "".join(f"<span class='item'><i class='sw' style='background:{colour[s]}'>"
                     f"</i>{esc(s)}</span>" for s in services)
    title = esc(trace.trace_id)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>trace {title}</title>"
        f"<style>{_CSS}</style></head><body><h2>Trace {title}</h2>"
        f"<p>{len(spans)} spans, {total / 1e6:.3f} ms, "
        f"{len(services)} service{'s' if len(services) != 1 else ''}</p>"
        f"<div class='legend'>{legend}</div><div id='waterfall'>{''.join(rows)}</div>"
        "<div id='details'>Click a span for its attributes and events.</div>"
        f"<script type='application/json' id='spans'>{_script_json(data)}</script>"
        f"<script>{_JS}</script></body></html>")
