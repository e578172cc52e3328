"""``--format html``: one self-contained page, a waterfall to open from a file or mail.

No network at all (inline CSS and JS, no CDN, no fonts), because traces are opened on
jump hosts and air-gapped clouds; it also runs under ``os-tracing serve``'s CSP, which
allows inline scripts and styles and nothing else. What a Jaeger UI user expects: a time
ruler, a row per span in tree order with its bar, subtrees that collapse, the selected
span's attributes, events, exception and status, errors marked in colour *and* text, the
critical path outlined, the queue wait before a message was handled and the reply wait
after an RPC server finished drawn as segments of their own, a minimap, and the keyboard.

Python computes what needs the analyses (tree order and depth, the critical path from
:func:`~tracing_middleware.views.analysis.critical_path`, the waits by the rules of
:func:`~tracing_middleware.views.analysis.breakdown`) once, in linear time; the page's
script builds only the rows in view from that JSON, so a 10,000-span trace opens in well
under a second instead of laying out 10,000 server-built rows.

Everything from the trace is untrusted (attribute values come from requests): text in the
page's markup goes through ``html.escape``, and the span data rides in a ``<script
type="application/json">`` block with ``<``, ``>`` and ``&`` written as ``\\u003c``-style
escapes, so no value can close the block; the script puts values in the page only through
``textContent`` and the DOM API.
"""

from __future__ import annotations

import html
import json
from typing import Any

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import Trace
from tracing_middleware.views import analysis
from tracing_middleware.views._layout import children_of
from tracing_middleware.views.waterfall_css import CSS
from tracing_middleware.views.waterfall_js import JS

__all__ = ["render", "waterfall_data"]

#: One colour per service, in the order of their sorted names (the breakdown uses it too).
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
            "#ff9da7", "#9c755f", "#bab0ac")


def _script_json(value: object) -> str:
    """JSON that is inert inside <script>: no '<' means no '</script>' or '<!--'."""
    text = json.dumps(value, default=str, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _end(span: SpanRecord) -> int:
    return span.start_time_unix_nano + max(0, span.duration_ns)


def _tree_order(trace: Trace) -> list[tuple[SpanRecord, int, int]]:
    """(span, depth, index of its parent row or -1) depth first, children by start: the
    order of :func:`~tracing_middleware.views._layout.walk`, including its handling of
    orphans, duplicate ids and parent cycles, in time linear in the spans however deep
    the tree (``walk`` also builds each row's ancestor tuple, which this page does not
    need and which costs depth-squared on a long chain)."""
    roots, children = children_of(trace)
    seen: set[str] = set()
    order: list[tuple[SpanRecord, int, int]] = []

    def descend(tops: list[SpanRecord]) -> None:
        stack = [(span, 0, -1) for span in reversed(tops)]
        while stack:
            span, depth, parent = stack.pop()
            if span.span_id in seen:
                continue
            seen.add(span.span_id)
            order.append((span, depth, parent))
            index = len(order) - 1
            stack.extend((kid, depth + 1, index)
                         for kid in reversed(children.get(span.span_id, []))
                         if kid.span_id not in seen)

    descend(roots)
    # Spans only reachable through a parent cycle: each unseen one, earliest first,
    # becomes a top-level row with what hangs below it.
    for span in sorted(trace.spans, key=lambda s: (s.start_time_unix_nano, s.span_id)):
        if span.span_id not in seen:
            descend([span])
    return order


def waterfall_data(trace: Trace) -> dict[str, Any]:
    """What the page's script draws, in tree order (depth first, children by start).

    Per span: its ``to_json()`` fields plus ``resource``, ``depth``, ``parent`` (index of
    its parent row, -1 for a top-level row), ``orphan``, ``colour`` (index into
    ``colours``), ``offset_ns`` (start minus the trace's start), ``critical_ns`` (its
    contribution to the critical path, ``None`` off it), and ``queue_wait`` /
    ``reply_wait`` as ``[from, to]`` offsets or ``None``: a SERVER/CONSUMER span under a
    messaging sender of another service waited from the sender's start to its own; an
    RPC call waited from its latest SERVER child's end to its own end. Negative waits
    (clock skew) are left out rather than drawn backwards.
    """
    spans = trace.spans
    t0 = min((s.start_time_unix_nano for s in spans), default=0)
    t1 = max((_end(s) for s in spans), default=t0)
    services = sorted({s.service for s in spans})
    colour = {name: i % len(PALETTE) for i, name in enumerate(services)}
    path = analysis.critical_path(trace)
    contribution = {p["span_id"]: p["contribution_ns"] for p in path["path"]}
    nodes = _tree_order(trace)
    latest_server: dict[int, int] = {}
    for span, _, p in nodes:
        if span.kind == "server" and p >= 0:
            latest_server[p] = max(latest_server.get(p, _end(span)), _end(span))
    # Which spans send messages and which are RPC calls is breakdown's rule; it is read
    # from analysis rather than restated here, so the drawn waits are the ones it counts.
    rows: list[dict[str, Any]] = []
    for i, (span, depth, p) in enumerate(nodes):
        parent = nodes[p][0] if p >= 0 else None
        queue_wait = reply_wait = None
        if (parent is not None and span.kind in ("server", "consumer")
                and parent.service != span.service and analysis.is_messaging_send(parent)
                and span.start_time_unix_nano > parent.start_time_unix_nano):
            queue_wait = [parent.start_time_unix_nano - t0, span.start_time_unix_nano - t0]
        if analysis.is_rpc_call(span) and i in latest_server \
                and _end(span) > latest_server[i]:
            reply_wait = [latest_server[i] - t0, _end(span) - t0]
        rows.append({
            **span.to_json(), "resource": dict(span.resource), "depth": depth,
            "parent": p, "orphan": depth == 0 and span.parent_span_id is not None,
            "colour": colour[span.service],
            "offset_ns": span.start_time_unix_nano - t0,
            "critical_ns": contribution.get(span.span_id) if span.span_id in contribution
            else None,
            "queue_wait": queue_wait, "reply_wait": reply_wait})
    return {"trace_id": trace.trace_id, "start_time_unix_nano": t0, "duration_ns": t1 - t0,
            "services": services, "colours": list(PALETTE),
            "critical_path": {"duration_ns": path["duration_ns"],
                              "span_ids": [p["span_id"] for p in path["path"]]},
            "spans": rows}


def _duration_text(ns: int) -> str:
    return f"{ns / 1e9:.3f} s" if ns >= 10**9 else f"{ns / 1e6:.3f} ms"


def render(trace: Trace) -> str:
    """The page as one HTML string."""
    esc = html.escape
    data = waterfall_data(trace)
    services = data["services"]
    errors = sum(1 for s in trace.spans if s.status == "error")
    depth = max((row["depth"] for row in data["spans"]), default=-1) + 1
    legend = "".join(
        f"<span class='item'><i class='sw' style='background:{PALETTE[i % len(PALETTE)]}'>"
        f"</i>{esc(name)}</span>" for i, name in enumerate(services))
    title = esc(trace.trace_id)
    error_text = (f" · <b class='status-error'>\u26a0 {errors} error"
                  f"{'s' if errors != 1 else ''}</b>") if errors else ""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>trace {title}</title><style>{CSS}</style></head>"
        "<body><div id='app' style='--name-w:36%;display:contents'>"
        f"<header><h2>Trace {title}</h2><div class='summary'>"
        f"<b>{len(trace.spans)}</b> spans · <b>{_duration_text(data['duration_ns'])}</b> · "
        f"<b>{len(services)}</b> service{'s' if len(services) != 1 else ''} · "
        f"depth <b>{depth}</b>{error_text}</div>"
        "<div class='controls'><button type='button' id='collapse-all'>Collapse all</button>"
        "<button type='button' id='expand-all'>Expand all</button>"
        "<label><input type='checkbox' id='show-cp' checked> critical path "
        "<span aria-hidden='true'>\u25c6</span></label>"
        f"<span class='legend'>{legend}</span></div></header>"
        "<div class='strip'><div class='label'>overview</div>"
        "<div class='area' id='minimap-area' role='scrollbar' aria-controls='viewport' "
        "aria-label='minimap: click or drag to scroll'><canvas id='minimap'></canvas>"
        "<div id='minimap-window'></div></div></div>"
        "<div class='strip'><div class='label'>Service · operation</div>"
        "<div class='area' id='ruler' aria-hidden='true'></div></div>"
        "<div id='viewport' role='treegrid' aria-label='spans' tabindex='-1'>"
        "<div id='sizer' role='presentation'><div id='grid' aria-hidden='true'></div>"
        "<div id='rows' role='rowgroup'></div></div></div>"
        "<section id='details' role='region' aria-label='span details'>"
        "<noscript>This page draws the waterfall with JavaScript; "
        "<code>os-tracing trace show</code> prints it as a tree.</noscript></section>"
        f"</div><script type='application/json' id='trace-data'>{_script_json(data)}"
        f"</script><script>{JS}</script></body></html>")
