"""The service dependency graph of ``os-tracing serve``: inline SVG laid out in Python.

No JavaScript and no Graphviz, because the UI works offline under a CSP that fetches
nothing, and an operator's jump host has no ``dot``. The layout is the classic layered
one (Sugiyama et al.), kept simple:

1. Cycles are broken by a depth-first search from the services nobody calls; the edges
   it finds going back up are drawn but do not rank (OpenStack has real cycles: compute
   calls the conductor that casts to it).
2. Each service's layer is its longest path from the callers, so callers sit left of
   their callees.
3. A few barycentre sweeps reorder each layer to cut crossings; the order with the
   fewest crossings between adjacent layers wins.

Edges of different protocols between the same two services are bent apart, so each
stays visible with its own label; a service calling itself gets a loop. Edges with
errors are thicker and say so in words, not only in colour. Service names are untrusted
(they come from span resources), so every one is HTML-escaped, never used in an id, and
shortened in the drawing with the full name in its tooltip.

:func:`render` takes the dict :func:`tracing_middleware.views.analysis.dependencies`
returns, so the page and ``os-tracing deps --format json`` cannot disagree.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["MAX_NODES", "PROTOCOLS", "layout", "render"]

#: Protocol: (stroke colour, dash pattern, legend text). Each differs in dash as well as
#: colour, so the legend reads in grey scale too.
PROTOCOLS: dict[str, tuple[str, str, str]] = {
    "http": ("#1f6feb", "", "HTTP request"),
    "rpc_call": ("#1a7f37", "10 4", "RPC call"),
    "rpc_cast": ("#9a6700", "4 4", "RPC cast"),
    "notification": ("#8250df", "1 5", "notification"),
}
_OTHER = ("#57606a", "", "other")

#: Above this many services the drawing is unreadable; the page shows the table alone.
MAX_NODES = 60

_NODE_H = 34
_ROW_GAP = 100          # between the centres of two nodes of one layer
_LAYER_GAP = 210        # between one layer's right edge and the next layer's left edge
_MARGIN = 30
_LOOP_STEP = 22         # how much higher each further loop on one service reaches
_PARALLEL_STEP = 44     # how far apart parallel edges bulge
_LONG_BEND = 46         # how far an edge skipping layers bulges, to miss the nodes between
_MAX_LABEL = 26         # characters of a service name drawn in its box

_CSS = """.deps-scroll{overflow:auto;max-width:100%}
.deps-graph{border:1px solid #ddd;background:#fff}
.deps-graph .node rect{fill:#f6f8fa;stroke:#444;stroke-width:1.2}
.deps-graph .node.focus rect{fill:#ddf4ff;stroke-width:2.5}
.deps-graph a:hover .node rect{fill:#eaeef2}
.deps-graph .node text{font:12px system-ui,sans-serif;fill:#111}
.deps-graph .edge path{fill:none}
.deps-graph .edge text{font:11px system-ui,sans-serif;fill:#333;paint-order:stroke;
stroke:#fff;stroke-width:4px;stroke-linejoin:round}
.deps-graph .edge .errors{fill:#b00020;font-weight:700}
ul.deps-legend{list-style:none;padding:0;margin:.5em 0}
ul.deps-legend li{display:inline-block;margin-right:1.5em}
ul.deps-legend svg{vertical-align:middle;margin-right:.3em}
#edges .num{text-align:right;font-variant-numeric:tabular-nums}
#edges tr.has-errors td{background:#fde8e8}"""


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms"


def _style(protocol: str) -> tuple[str, str, str]:
    return PROTOCOLS.get(protocol, _OTHER)


def _css_name(protocol: str) -> str:
    """A class name for the protocol; anything not known becomes ``other``."""
    return protocol if protocol in PROTOCOLS else "other"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- layout ---------------------------------------------------------------------------

def _forward_edges(services: Sequence[str], successors: Mapping[str, Sequence[str]]
                   ) -> tuple[dict[str, list[str]], list[str]]:
    """The edges a depth-first search does not find going back up (so they form a DAG),
    and the services in topological order of those edges."""
    callers = {s: 0 for s in services}
    for targets in successors.values():
        for target in targets:
            callers[target] += 1
    starts = [s for s in services if not callers[s]] + [s for s in services if callers[s]]
    state: dict[str, int] = {}  # 1 on the search's stack, 2 finished
    forward: dict[str, list[str]] = {s: [] for s in services}
    finished: list[str] = []
    for start in starts:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(successors[start]))]
        while stack:  # iterative: a long call chain must not hit the recursion limit
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                state[node] = 2
                finished.append(node)
            elif state.get(target) == 1:
                continue  # back edge: closes a cycle, does not rank
            else:
                forward[node].append(target)
                if target not in state:
                    state[target] = 1
                    stack.append((target, iter(successors[target])))
    return forward, finished[::-1]


def _crossings(layers: Sequence[Sequence[str]], pairs: Sequence[tuple[str, str]],
               layer_of: Mapping[str, int]) -> int:
    """Crossings among the edges joining adjacent layers (the ones a sweep can fix)."""
    position = {s: i for layer in layers for i, s in enumerate(layer)}
    by_gap: dict[int, list[tuple[int, int]]] = {}
    for u, v in pairs:
        if abs(layer_of[u] - layer_of[v]) == 1:
            left, right = (u, v) if layer_of[u] < layer_of[v] else (v, u)
            by_gap.setdefault(layer_of[left], []).append((position[left], position[right]))
    count = 0
    for segments in by_gap.values():
        for i, (a1, b1) in enumerate(segments):
            for a2, b2 in segments[i + 1:]:
                if (a1 - a2) * (b1 - b2) < 0:
                    count += 1
    return count


def _by_barycentre(layer: Sequence[str], index: int, downward: bool,
                   y: dict[str, float], neighbours: Mapping[str, set[str]],
                   layer_of: Mapping[str, int]) -> list[str]:
    """Layer ``index`` ordered by the mean height ``y`` of each service's neighbours in
    the layers already swept (left of it going right, right of it going left); a service
    without such neighbours keeps its height. Updates ``y`` for the new order."""

    def swept(other: str) -> bool:
        return layer_of[other] < index if downward else layer_of[other] > index

    def key(service: str) -> tuple[float, float]:
        near = [y[n] for n in neighbours[service] if swept(n)]
        return (sum(near) / len(near) if near else y[service], y[service])

    ordered = sorted(layer, key=key)
    y.update((s, i - (len(ordered) - 1) / 2) for i, s in enumerate(ordered))
    return ordered


def layout(edges: Sequence[Mapping[str, Any]], sweeps: int = 4) -> list[list[str]]:
    """The services of ``edges`` in layers, left to right, each layer top to bottom.

    A service's layer is the length of the longest call chain reaching it (cycles broken
    as the module docstring says), so a caller is left of every callee it does not reach
    back through a cycle. Deterministic: the same edges give the same drawing.
    """
    services = sorted({str(e["from"]) for e in edges} | {str(e["to"]) for e in edges})
    successors: dict[str, list[str]] = {s: [] for s in services}
    for e in edges:
        source, target = str(e["from"]), str(e["to"])
        if source != target and target not in successors[source]:
            successors[source].append(target)
    for targets in successors.values():
        targets.sort()
    forward, topological = _forward_edges(services, successors)
    layer_of = dict.fromkeys(services, 0)
    for service in topological:
        for target in forward[service]:
            layer_of[target] = max(layer_of[target], layer_of[service] + 1)
    layers: list[list[str]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    for service in services:
        layers[layer_of[service]].append(service)

    pairs = [(u, v) for u in services for v in successors[u]]
    neighbours: dict[str, set[str]] = {s: set() for s in services}
    for u, v in pairs:
        neighbours[u].add(v)
        neighbours[v].add(u)

    best = [list(layer) for layer in layers]
    best_crossings = _crossings(best, pairs, layer_of)
    current = [list(layer) for layer in layers]
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        y = {s: i - (len(layer) - 1) / 2 for layer in current for i, s in enumerate(layer)}
        for index in (range(1, len(current)) if downward
                      else range(len(current) - 2, -1, -1)):
            current[index] = _by_barycentre(current[index], index, downward, y, neighbours,
                                            layer_of)
        crossings = _crossings(current, pairs, layer_of)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in current], crossings
    return best


# -- drawing --------------------------------------------------------------------------

def _label(service: str) -> str:
    return service if len(service) <= _MAX_LABEL else service[:_MAX_LABEL - 1] + "\u2026"


def _node_width(service: str) -> float:
    return min(max(len(_label(service)) * 7.2 + 24, 80.0), 210.0)


def _boundary(cx: float, cy: float, w: float, toward_x: float, toward_y: float
              ) -> tuple[float, float]:
    """Where the ray from a box's centre toward a point leaves the box."""
    dx, dy = toward_x - cx, toward_y - cy
    if dx == 0 and dy == 0:
        return cx, cy
    t = min((w / 2) / abs(dx) if dx else math.inf, (_NODE_H / 2) / abs(dy) if dy else math.inf)
    return cx + dx * t, cy + dy * t


_Box = tuple[float, float, float, float]  # left, top, right, bottom


class _Labels:
    """Edge labels placed greedily: each moves up or down from where its edge puts it
    until it overlaps no node and no label placed before it (or gives up and stays)."""

    _NUDGES = (0, 15, -15, 30, -30, 45, -45, 60, -60)

    def __init__(self, obstacles: Sequence[_Box]) -> None:
        self._taken = list(obstacles)
        self._placed: list[_Box] = []

    @staticmethod
    def _box(x: float, y: float, width: float, anchor: str) -> _Box:
        left = x - width / 2 if anchor == "middle" else x
        return left, y - 15, left + width, y + 14

    def place(self, x: float, y: float, width: float, anchor: str) -> float:
        for nudge in self._NUDGES:
            box = self._box(x, y + nudge, width, anchor)
            if not any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3]
                       for o in self._taken):
                self._taken.append(box)
                self._placed.append(box)
                return y + nudge
        self._taken.append(self._box(x, y, width, anchor))
        self._placed.append(self._taken[-1])
        return y

    def extent(self) -> _Box:
        """The box around every label placed (labels may stick out of the graph)."""
        if not self._placed:
            return math.inf, math.inf, -math.inf, -math.inf
        return (min(b[0] for b in self._placed), min(b[1] for b in self._placed),
                max(b[2] for b in self._placed), max(b[3] for b in self._placed))


def _edge_text(e: Mapping[str, Any], x: float, y: float, labels: _Labels,
               anchor: str = "middle") -> str:
    """Two lines: protocol, calls and errors in words; p50 and p95."""
    protocol = str(e["protocol"])
    protocol_text = PROTOCOLS[protocol][2] if protocol in PROTOCOLS else protocol
    calls, errors = int(e["calls"]), int(e["errors"])
    first = f"{protocol_text} \u00b7 {_plural(calls, 'call')}"
    error_text = f" \u00b7 \u26a0 {_plural(errors, 'error')}" if errors else ""
    second = f"p50 {_ms(int(e['p50_ns']))} \u00b7 p95 {_ms(int(e['p95_ns']))}"
    width = max(len(first + error_text), len(second)) * 6.2
    y = labels.place(x, y, width, anchor)
    marker = f"<tspan class='errors'>{error_text}</tspan>" if errors else ""
    return (f"<text class='label' x='{x:.1f}' y='{y - 3:.1f}' text-anchor='{anchor}'>"
            f"<tspan class='calls'>{html.escape(first)}</tspan>{marker}"
            f"<tspan class='latency' x='{x:.1f}' dy='13'>{second}</tspan></text>")


def _edge_group(e: Mapping[str, Any], path: str, text: str) -> str:
    protocol = str(e["protocol"])
    colour, dash, _ = _style(protocol)
    errors = int(e["errors"])
    classes = f"edge proto-{_css_name(protocol)}" + (" has-errors" if errors else "")
    if e["from"] == e["to"]:
        classes += " loop"
    esc = html.escape
    tip = (f"{e['from']} \u2192 {e['to']}: {protocol}, {_plural(int(e['calls']), 'call')}, "
           f"{_plural(errors, 'error')}, p50 {_ms(int(e['p50_ns']))}, "
           f"p95 {_ms(int(e['p95_ns']))}")
    dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
    return (f"<g class='{classes}' data-from='{esc(str(e['from']))}' "
            f"data-to='{esc(str(e['to']))}' data-protocol='{esc(protocol)}'>"
            f"<title>{esc(tip)}</title><path d='{path}' stroke='{colour}' "
            f"stroke-width='{3.2 if errors else 1.6}'{dash_attr} stroke-linecap='round' "
            f"marker-end='url(#deps-arrow-{_css_name(protocol)})'/>{text}</g>")


def _svg(edges: Sequence[Mapping[str, Any]], layers: Sequence[Sequence[str]],
         node_href: Callable[[str], str] | None, focus: str | None) -> str:
    esc = html.escape
    widths = {s: _node_width(s) for layer in layers for s in layer}
    loops: dict[str, list[Mapping[str, Any]]] = {}
    for e in edges:
        if e["from"] == e["to"]:
            loops.setdefault(str(e["from"]), []).append(e)
    # Loops and their labels sit above their service, so rows leave room for them.
    most = max((len(v) for v in loops.values()), default=0)
    above = 30 + most * (_LOOP_STEP + 28) if most else 0
    row_gap = _ROW_GAP + above
    top = _MARGIN + above
    rows = max((len(layer) for layer in layers), default=0)
    centre: dict[str, tuple[float, float]] = {}
    layer_of: dict[str, int] = {}
    left = float(_MARGIN)
    for index, layer in enumerate(layers):
        column = max((widths[s] for s in layer), default=80.0)
        for i, service in enumerate(layer):
            y = top + (i + (rows - len(layer)) / 2) * row_gap + _NODE_H / 2
            centre[service] = (left + column / 2, y)
            layer_of[service] = index
        left += column + _LAYER_GAP
    width = left - _LAYER_GAP + _MARGIN
    height = top + max(rows - 1, 0) * row_gap + _NODE_H + _MARGIN + 30
    labels = _Labels([(x - widths[s] / 2 - 4, y - _NODE_H / 2 - 2, x + widths[s] / 2 + 4,
                       y + _NODE_H / 2 + 2) for s, (x, y) in centre.items()])

    parts: list[str] = []
    for service, own in sorted(loops.items()):
        x, y = centre[service]
        y -= _NODE_H / 2
        own = sorted(own, key=lambda e: str(e["protocol"]))
        for k, e in enumerate(own):
            rise = (26 + k * _LOOP_STEP) / 0.75  # a cubic's apex is 3/4 of the way up
            spread = 26 + k * 16
            path = (f"M{x - 14:.1f},{y:.1f} C{x - 14 - spread:.1f},{y - rise:.1f} "
                    f"{x + 14 + spread:.1f},{y - rise:.1f} {x + 14:.1f},{y:.1f}")
            label_y = y - 26 - (len(own) - 1) * _LOOP_STEP - 18 - 28 * (
                len(own) - 1 - k)
            parts.append(_edge_group(e, path, _edge_text(e, x, label_y, labels)))
    # Edges between the same two services, either direction: bent apart around the line
    # joining them, in one canonical direction so A->B and B->A bend to opposite sides.
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for e in edges:
        if e["from"] != e["to"]:
            pair = (min(str(e["from"]), str(e["to"])), max(str(e["from"]), str(e["to"])))
            groups.setdefault(pair, []).append(e)
    for (p, q), group in sorted(groups.items()):
        group.sort(key=lambda e: (str(e["from"]), str(e["to"]), str(e["protocol"])))
        (px, py), (qx, qy) = centre[p], centre[q]
        length = math.hypot(qx - px, qy - py) or 1.0
        nx, ny = -(qy - py) / length, (qx - px) / length  # normal of p -> q
        skips = abs(layer_of[p] - layer_of[q]) != 1
        for i, e in enumerate(group):
            bulge = (i - (len(group) - 1) / 2) * _PARALLEL_STEP
            if skips:
                bulge += _LONG_BEND
            (sx, sy), (tx, ty) = centre[str(e["from"])], centre[str(e["to"])]
            # A quadratic curve's middle lies halfway to its control point.
            cx = (sx + tx) / 2 + nx * bulge * 2
            cy = (sy + ty) / 2 + ny * bulge * 2
            x0, y0 = _boundary(sx, sy, widths[str(e["from"])], cx, cy)
            x2, y2 = _boundary(tx, ty, widths[str(e["to"])], cx, cy)
            path = f"M{x0:.1f},{y0:.1f} Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}"
            mx, my = 0.25 * x0 + 0.5 * cx + 0.25 * x2, 0.25 * y0 + 0.5 * cy + 0.25 * y2
            parts.append(_edge_group(e, path, _edge_text(e, mx, my, labels)))
    for service, (x, y) in centre.items():
        w = widths[service]
        classes = "node" + (" focus" if service == focus else "")
        node = (f"<g class='{classes}' data-service='{esc(service)}' "
                f"data-layer='{layer_of[service]}' "
                f"transform='translate({x - w / 2:.1f},{y - _NODE_H / 2:.1f})'>"
                f"<title>{esc(service)}</title><rect width='{w:.1f}' height='{_NODE_H}' "
                f"rx='6'/><text x='{w / 2:.1f}' y='{_NODE_H / 2 + 4}' "
                f"text-anchor='middle'>{esc(_label(service))}</text></g>")
        if node_href is not None:
            node = f"<a href='{esc(node_href(service))}'>{node}</a>"
        parts.append(node)
    markers = "".join(
        f"<marker id='deps-arrow-{name}' viewBox='0 0 10 10' refX='10' refY='5' "
        "markerWidth='9' markerHeight='9' markerUnits='userSpaceOnUse' "
        f"orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='{colour}'/>"
        "</marker>"
        for name, (colour, _, _) in [*PROTOCOLS.items(), ("other", _OTHER)])
    # Grow the canvas to the labels that stick out (a loop's on the last column).
    label_left, label_top, label_right, label_bottom = labels.extent()
    dx, dy = max(0.0, 8 - label_left), max(0.0, 8 - label_top)
    width = max(width, label_right + 8) + dx
    height = max(height, label_bottom + 8) + dy
    return (f"<div class='deps-scroll'><svg class='deps-graph' id='deps-graph' "
            f"xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{height:.0f}' "
            f"viewBox='0 0 {width:.0f} {height:.0f}' role='img' "
            f"aria-label='service dependency graph'><defs>{markers}</defs>"
            f"<g transform='translate({dx:.1f},{dy:.1f})'>{''.join(parts)}</g></svg></div>")


def _legend() -> str:
    items = []
    for name, (colour, dash, text) in PROTOCOLS.items():
        dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
        items.append(
            f"<li class='proto-{name}'><svg width='44' height='10'><line x1='2' y1='5' "
            f"x2='42' y2='5' stroke='{colour}' stroke-width='2'{dash_attr} "
            f"stroke-linecap='round'/></svg>{html.escape(text)}</li>")
    items.append("<li class='errors-key'><svg width='44' height='10'><line x1='2' y1='5' "
                 "x2='42' y2='5' stroke='#444' stroke-width='3.2'/></svg>"
                 "thick, with \u26a0 N errors: calls that failed</li>")
    return f"<ul class='deps-legend'>{''.join(items)}</ul>"


def _table(edges: Sequence[Mapping[str, Any]], node_href: Callable[[str], str] | None
           ) -> str:
    esc = html.escape

    def name(service: str) -> str:
        if node_href is None:
            return esc(service)
        return f"<a href='{esc(node_href(service))}'>{esc(service)}</a>"

    rows = []
    for e in edges:
        errors = int(e["errors"])
        rows.append(
            f"<tr class='proto-{_css_name(str(e['protocol']))}"
            f"{' has-errors' if errors else ''}'><td>{name(str(e['from']))}</td>"
            f"<td>{name(str(e['to']))}</td><td>{esc(str(e['protocol']))}</td>"
            f"<td class='num'>{int(e['calls'])}</td>"
            f"<td class='num'>{f'⚠ {errors}' if errors else '0'}</td>"
            f"<td class='num'>{_ms(int(e['p50_ns']))}</td>"
            f"<td class='num'>{_ms(int(e['p95_ns']))}</td></tr>")
    return ("<table id='edges'><tr><th>from</th><th>to</th><th>protocol</th>"
            "<th class='num'>calls</th><th class='num'>errors</th><th class='num'>p50</th>"
            "<th class='num'>p95</th></tr>" + "".join(rows) + "</table>")


def render(report: Mapping[str, Any], node_href: Callable[[str], str] | None = None,
           focus: str | None = None, max_nodes: int = MAX_NODES) -> str:
    """The graph, its legend and the table of the same edges, as an HTML fragment.

    ``node_href(service)`` gives the link behind each service (the UI's trace search);
    ``focus`` outlines the service a page was filtered by. Above ``max_nodes`` services
    only the table is shown, with a line saying why.
    """
    edges = list(report.get("edges", []))
    if not edges:
        return (f"<style>{_CSS}</style><p id='no-edges'>No dependencies in the traces of "
                "this window.</p>")
    services = {str(e["from"]) for e in edges} | {str(e["to"]) for e in edges}
    summary = (f"<p class='muted' id='deps-summary'>{_plural(len(edges), 'edge')} among "
               f"{_plural(len(services), 'service')}.</p>")
    if len(services) > max_nodes:
        drawing = (f"<p id='too-many'>{len(services)} services are too many to draw "
                   f"legibly (the limit is {max_nodes}): filter by a service, or read the "
                   "table.</p>")
    else:
        drawing = _legend() + _svg(edges, layout(edges), node_href, focus)
    return f"<style>{_CSS}</style>{summary}{drawing}{_table(edges, node_href)}"
