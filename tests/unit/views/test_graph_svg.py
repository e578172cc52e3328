"""The dependency graph SVG on hand-built edges with exact numbers.

The drawing is parsed as XML, which also proves that no service name broke out of its
text or attribute.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from tracing_middleware.views import graph_svg

MS = 1_000_000
SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>"


def edge(source: str, target: str, protocol: str, calls: int = 1, errors: int = 0,
         p50: int = 1, p95: int = 1) -> dict[str, Any]:
    """An edge as analysis.dependencies returns it, latencies in whole ms."""
    return {"from": source, "to": target, "protocol": protocol, "calls": calls,
            "errors": errors, "p50_ns": p50 * MS, "p95_ns": p95 * MS}


def cloud() -> list[dict[str, Any]]:
    """A boot, with a cycle, two loops, two protocols between one pair and a hostile
    name::

        EVIL -http-> api -rpc_call (3 calls, 1 error), notification-> conductor
        api -http-> keystone          conductor -rpc_cast-> compute
        compute -rpc_call-> conductor  compute -rpc_call, rpc_cast-> compute
    """
    return [
        edge(EVIL, "api", "http", calls=2, p50=4, p95=6),
        edge("api", "conductor", "notification", calls=5),
        edge("api", "conductor", "rpc_call", calls=3, errors=1, p50=2, p95=7),
        edge("api", "keystone", "http", calls=4, p50=1, p95=3),
        edge("compute", "compute", "rpc_call", calls=6, p50=1, p95=2),
        edge("compute", "compute", "rpc_cast", calls=7),
        edge("compute", "conductor", "rpc_call", calls=8, p50=12, p95=30),
        edge("conductor", "compute", "rpc_cast", calls=1),
    ]


def svg_of(page: str) -> ET.Element:
    (drawing,) = re.findall(r"<svg class='deps-graph'.*?</svg>", page, re.S)
    return ET.fromstring(drawing)


def nodes(svg: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-service"): g for g in svg.iter(f"{SVG}g")
            if "node" in g.get("class", "").split()}


def edges(svg: ET.Element) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if "edge" in g.get("class", "").split()]


def text(element: ET.Element) -> str:
    return "".join(element.itertext())


def test_one_node_per_service_and_one_group_per_edge():
    """Six services, eight edges, each edge keeping its ends and protocol."""
    svg = svg_of(graph_svg.render({"edges": cloud()}))
    assert set(nodes(svg)) == {EVIL, "api", "conductor", "keystone", "compute"}
    assert len(nodes(svg)) == 5
    drawn = sorted((g.get("data-from"), g.get("data-to"), g.get("data-protocol"))
                   for g in edges(svg))
    assert drawn == sorted((e["from"], e["to"], e["protocol"]) for e in cloud())


def test_edge_labels_and_protocol_classes():
    """Labels say protocol, calls, errors, p50 and p95 exactly; classes name the
    protocol; each protocol has its own stroke."""
    svg = svg_of(graph_svg.render({"edges": cloud()}))
    by_ends = {(g.get("data-from"), g.get("data-to"), g.get("data-protocol")): g
               for g in edges(svg)}
    call = by_ends[("api", "conductor", "rpc_call")]
    assert call.get("class").split() == ["edge", "proto-rpc_call", "has-errors"]
    label = call.find(f"{SVG}text")
    assert text(label) == ("RPC call \u00b7 3 calls \u00b7 \u26a0 1 error"
                           "p50 2.000 ms \u00b7 p95 7.000 ms")
    keystone = by_ends[("api", "keystone", "http")]
    assert keystone.get("class").split() == ["edge", "proto-http"]
    assert text(keystone.find(f"{SVG}text")) == ("HTTP request \u00b7 4 calls"
                                                 "p50 1.000 ms \u00b7 p95 3.000 ms")
    strokes = {}
    for g in edges(svg):
        path = g.find(f"{SVG}path")
        strokes.setdefault(g.get("data-protocol"), set()).add(
            (path.get("stroke"), path.get("stroke-dasharray")))
    assert all(len(styles) == 1 for styles in strokes.values())
    assert len({styles.pop() for styles in strokes.values()}) == 4


def test_errors_are_marked_in_words_and_width_not_colour_alone():
    """Only the edge with errors is thick and says how many, in the graph and the
    table."""
    page = graph_svg.render({"edges": cloud()})
    svg = svg_of(page)
    for g in edges(svg):
        failing = g.get("data-protocol") == "rpc_call" and g.get("data-from") == "api"
        assert ("has-errors" in g.get("class")) == failing
        assert (g.find(f"{SVG}path").get("stroke-width") == "3.2") == failing
        assert ("\u26a0 1 error" in text(g)) == failing
    assert page.count("\u26a0 1<") == 1  # the table's errors cell


def test_self_edges_are_loops_on_their_service():
    """compute -> compute twice: two loops leaving and entering compute's top, the
    second reaching higher."""
    svg = svg_of(graph_svg.render({"edges": cloud()}))
    node = nodes(svg)["compute"]
    top = float(re.search(r"translate\(([\d.]+),([\d.]+)\)", node.get("transform"))[2])
    loops = [g for g in edges(svg) if "loop" in g.get("class").split()]
    assert sorted(g.get("data-protocol") for g in loops) == ["rpc_call", "rpc_cast"]
    heights = []
    for g in loops:
        assert g.get("data-from") == g.get("data-to") == "compute"
        numbers = [float(n) for n in re.findall(r"[\d.]+", g.find(f"{SVG}path").get("d"))]
        start_y, end_y = numbers[1], numbers[-1]
        assert start_y == end_y == top
        heights.append(top - numbers[3])  # the first control point's height
    assert heights[0] < heights[1]


def test_parallel_edges_bend_apart():
    """api -> conductor by rpc_call and by notification: two curves whose control
    points lie on opposite sides of the straight line."""
    svg = svg_of(graph_svg.render({"edges": cloud()}))
    controls = {}
    for g in edges(svg):
        if (g.get("data-from"), g.get("data-to")) == ("api", "conductor"):
            d = g.find(f"{SVG}path").get("d")
            x0, y0, cx, cy, x2, y2 = (float(n) for n in re.findall(r"-?[\d.]+", d))
            # Which side of the chord the control point lies on, and how far.
            cross = (x2 - x0) * (cy - y0) - (y2 - y0) * (cx - x0)
            controls[g.get("data-protocol")] = cross
    assert set(controls) == {"rpc_call", "notification"}
    assert controls["rpc_call"] * controls["notification"] < 0


def test_layout_puts_callers_left_of_callees():
    """Layers by longest call chain; the cycle compute -> conductor does not rank."""
    layers = graph_svg.layout(cloud())
    assert layers[0] == [EVIL] and layers[1] == ["api"]
    assert sorted(layers[2]) == ["conductor", "keystone"] and layers[3] == ["compute"]
    svg = svg_of(graph_svg.render({"edges": cloud()}))
    x = {name: float(re.search(r"translate\(([\d.]+)", g.get("transform"))[1])
         + float(g.find(f"{SVG}rect").get("width")) / 2 for name, g in nodes(svg).items()}
    assert x[EVIL] < x["api"] < x["conductor"] == x["keystone"] < x["compute"]
    assert {name: g.get("data-layer") for name, g in nodes(svg).items()} == {
        EVIL: "0", "api": "1", "conductor": "2", "keystone": "2", "compute": "3"}


def test_layout_sweeps_out_a_crossing():
    """a -> y and b -> x cross in name order; the barycentre sweep uncrosses them."""
    assert graph_svg.layout([edge("a", "y", "http"), edge("b", "x", "http")]) == [
        ["a", "b"], ["y", "x"]]


def test_layout_of_a_pure_cycle_and_a_long_chain():
    """No service without callers still lays out; a chain of 3000 does not recurse."""
    assert graph_svg.layout([edge("p", "q", "rpc_call"), edge("q", "p", "rpc_call")]) == [
        ["p"], ["q"]]
    chain = [edge(f"s{i:04d}", f"s{i + 1:04d}", "http") for i in range(3000)]
    layers = graph_svg.layout(chain)
    assert len(layers) == 3001 and layers[-1] == ["s3000"]


def test_hostile_names_are_escaped_everywhere():
    """The name appears only escaped: in text, tooltip, data attribute, link, table."""
    page = graph_svg.render({"edges": cloud()}, node_href=lambda s: f"/search?service={s}")
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    svg = svg_of(page)  # well-formed: nothing broke out
    (link,) = [a for a in svg.iter(f"{SVG}a") if a.find(f"{SVG}g").get("data-service")
               == EVIL]
    assert link.get("href") == f"/search?service={EVIL}"
    assert text(nodes(svg)[EVIL].find(f"{SVG}title")) == EVIL


def test_long_names_are_shortened_in_the_box_with_the_full_name_as_tooltip():
    name = "neutron-openvswitch-agent-on-compute-0042"
    svg = svg_of(graph_svg.render({"edges": [edge("api", name, "rpc_cast")]}))
    node = nodes(svg)[name]
    assert text(node.find(f"{SVG}text")) == name[:25] + "\u2026"
    assert text(node.find(f"{SVG}title")) == name


def test_nodes_link_to_the_search_and_the_focus_is_outlined():
    svg = svg_of(graph_svg.render({"edges": cloud()}, focus="api",
                                  node_href=lambda s: f"/search?service={s}"))
    hrefs = {a.find(f"{SVG}g").get("data-service"): a.get("href")
             for a in svg.iter(f"{SVG}a")}
    assert hrefs["keystone"] == "/search?service=keystone" and len(hrefs) == 5
    assert [name for name, g in nodes(svg).items() if "focus" in g.get("class")] == ["api"]


def test_table_lists_the_same_edges():
    page = graph_svg.render({"edges": cloud()})
    (table,) = re.findall(r"<table id='edges'>.*?</table>", page, re.S)
    rows = [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr class='[^']*'>(.*?)</tr>", table)]
    assert rows[2] == ["api", "conductor", "rpc_call", "3", "\u26a0 1", "2.000 ms",
                       "7.000 ms"]
    assert rows[6] == ["compute", "conductor", "rpc_call", "8", "0", "12.000 ms",
                       "30.000 ms"]
    assert len(rows) == len(cloud())


def test_too_many_services_show_the_table_alone():
    many = [edge("hub", f"svc{i:02d}", "rpc_cast") for i in range(5)]
    page = graph_svg.render({"edges": many}, max_nodes=5)
    assert "<svg class='deps-graph'" not in page
    assert "6 services are too many to draw legibly (the limit is 5)" in page
    assert page.count("<tr class=") == 5
    assert "<svg class='deps-graph'" in graph_svg.render({"edges": many}, max_nodes=6)


def test_no_edges_says_so_and_draws_nothing():
    page = graph_svg.render({"edges": []})
    assert "No dependencies" in page and "<svg" not in page


def test_the_same_edges_draw_the_same_picture():
    """Deterministic, whatever order the edges come in."""
    edges_ = cloud()
    assert graph_svg.render({"edges": edges_}) == graph_svg.render({"edges": edges_})
    a, b = svg_of(graph_svg.render({"edges": edges_})), svg_of(
        graph_svg.render({"edges": edges_[::-1]}))
    assert {n: g.get("transform") for n, g in nodes(a).items()} == {
        n: g.get("transform") for n, g in nodes(b).items()}
