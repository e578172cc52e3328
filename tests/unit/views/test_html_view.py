"""``trace show --format html``: the page's data, its escaping, nothing from the network.

The drawing itself is tested in a real Chromium (tests/functional/ui/test_waterfall.py);
here, the JSON the script draws from and the markup around it.
"""

from __future__ import annotations

import html.parser
import json
import re

from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.export.store import Trace
from tracing_middleware.views import FORMATS, analysis
from tracing_middleware.views._layout import walk
from tracing_middleware.views.html import render, waterfall_data

T = "4bf92f3577b34da6a3ce929d0e0e4736"
BASE = 1_700_000_000_000_000_000
MS = 1_000_000
HOSTILE = "</script><img src=x onerror=alert(1)>"
RPC = {"rpc.system": "oslo_messaging"}


def _span(sid: int, parent: int | None, name: str, service: str, kind: str, start_ms: int,
          end_ms: int, attributes: dict[str, object] | None = None, **kw: object
          ) -> SpanRecord:
    return SpanRecord(T, f"{sid:016x}", f"{parent:016x}" if parent else None, name, service,
                      kind, BASE + start_ms * MS, (end_ms - start_ms) * MS,
                      attributes=attributes or {}, **kw)  # type: ignore[arg-type]


def _trace() -> Trace:
    """An API call with an RPC call (reply wait), a cast whose consumer outlives it, an
    error deep down and an orphan; times in ms."""
    return Trace(T, [
        _span(1, None, "POST /v2.1/servers", "nova-api", "server", 0, 100),
        _span(2, 1, "conductor.build", "nova-api", "client", 10, 60, RPC),
        _span(3, 2, "conductor.build", "nova-conductor", "server", 14, 50, RPC),
        _span(4, 3, "compute.run", "nova-conductor", "producer", 20, 22, RPC),
        _span(5, 4, "compute.run", "nova-compute", "consumer", 30, 130, RPC),
        _span(6, 5, "spawn", "nova-compute", "internal", 40, 90, status="error",
              status_message="no host",
              events=(SpanEvent("exception", BASE + 80 * MS,
                                {"exception.type": "ValueError"}),)),
        _span(7, 0xdead, "periodic", "nova-scheduler", "server", 5, 6),
    ])


class _Tags(html.parser.HTMLParser):
    """Every element a browser would build from the page, and any on* handler."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.append(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]


def _data(page: str) -> dict[str, object]:
    block = page.split("id='trace-data'>", 1)[1].split("</script>", 1)[0]
    return json.loads(block)


def test_rows_in_tree_order_with_depth_parent_and_offsets():
    """Rows come depth first with children by start; each row names its parent row, and
    offsets are from the trace's earliest start over its latest end."""
    data = waterfall_data(_trace())
    rows = data["spans"]
    assert [r["span_id"][-1] for r in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    assert [r["depth"] for r in rows] == [0, 1, 2, 3, 4, 5, 0]
    assert [r["parent"] for r in rows] == [-1, 0, 1, 2, 3, 4, -1]
    assert [r["orphan"] for r in rows] == [False] * 6 + [True]
    assert data["duration_ns"] == 130 * MS
    assert [r["offset_ns"] // MS for r in rows] == [0, 10, 14, 20, 30, 40, 5]
    assert rows[5]["events"][0]["attributes"]["exception.type"] == "ValueError"


def test_waits_follow_the_breakdown_rules():
    """Queue wait on the receiver's row from the sender's start to its own (the RPC server
    and the cast's consumer); reply wait on the RPC call's row from its server's end to
    its own; nothing for spans that are neither."""
    rows = waterfall_data(_trace())["spans"]
    waits = {r["span_id"][-1]: (r["queue_wait"], r["reply_wait"]) for r in rows}
    assert waits["3"] == ([10 * MS, 14 * MS], None)
    assert waits["5"] == ([20 * MS, 30 * MS], None)
    assert waits["2"] == (None, [50 * MS, 60 * MS])
    assert all(waits[k] == (None, None) for k in "1467")
    by_kind = analysis.breakdown(_trace())["by_kind"]
    assert by_kind["queue_wait"] == (4 + 10) * MS and by_kind["reply_wait"] == 10 * MS


def test_critical_path_ids_and_contributions_are_the_analysis():
    """The rows marked on the critical path, and what each holds, are exactly
    analysis.critical_path's."""
    trace = _trace()
    data = waterfall_data(trace)
    path = analysis.critical_path(trace)
    assert data["critical_path"]["span_ids"] == [p["span_id"] for p in path["path"]]
    marked = {r["span_id"]: r["critical_ns"] for r in data["spans"]
              if r["critical_ns"] is not None}
    assert marked == {p["span_id"]: p["contribution_ns"] for p in path["path"]}
    assert sum(marked.values()) == 100 * MS


def test_hostile_span_name_never_becomes_markup():
    """A name that closes the script block and adds an image with a handler, in the name,
    the service and an attribute: no such tag reaches the page, and the JSON still
    carries the exact strings."""
    trace = _trace()
    trace.spans.append(_span(8, 1, HOSTILE, HOSTILE, "internal", 1, 2,
                             {"k": HOSTILE, "&amp;": "a & b"}))
    page = render(trace)
    tags = _Tags()
    tags.feed(page)
    assert "img" not in tags.names and not tags.handlers
    assert tags.names.count("script") == 2 and page.count("</script>") == 2
    added = next(r for r in _data(page)["spans"] if r["span_id"].endswith("8"))
    assert added["name"] == HOSTILE and added["service"] == HOSTILE
    assert added["attributes"] == {"k": HOSTILE, "&amp;": "a & b"}
    assert f"</i>{HOSTILE.replace('<', '&lt;').replace('>', '&gt;')}</span>" in page


def test_self_contained_no_network():
    """Nothing is fetched: no src/href attributes, no URLs, inline style and script."""
    page = FORMATS["html"](_trace())
    assert not re.search(r"(src|href)\s*=", page.split("id='trace-data'")[0])
    assert "http://" not in page and "https://" not in page
    assert "<style>" in page and "<script>" in page


def test_empty_trace_renders():
    """No spans: still a page, with an empty row list."""
    page = render(Trace(T, []))
    assert _data(page)["spans"] == []


def test_ten_thousand_spans_are_one_json_block():
    """A 10,000-span trace is one JSON block the script draws from, not 10,000
    server-built rows (how fast it opens is measured by python -m bench.ui_waterfall)."""
    spans = [_span(1, None, "root", "svc-0", "server", 0, 10_000)]
    spans += [_span(i, max(1, i // 4), f"op {i}", f"svc-{i % 7}", "internal", i - 1, i + 3)
              for i in range(2, 10_001)]
    page = render(Trace(T, spans))
    rows = _data(page)["spans"]
    assert len(rows) == 10_000 and "class='row" not in page
    assert max(r["depth"] for r in rows) == 7


def test_rows_are_the_tree_views_order_even_with_cycles_and_duplicates():
    """Orphans, a duplicate span id, a self-parent and a two-span parent cycle come out
    in the order and at the depth of the tree view (``_layout.walk``), each span once."""
    spans = [*_trace().spans,
             _span(1, None, "duplicate of the root", "nova-api", "server", 1, 2),
             _span(20, 21, "cycle a", "x", "internal", 7, 8),
             _span(21, 20, "cycle b", "x", "internal", 8, 9),
             _span(22, 22, "own parent", "x", "internal", 9, 10)]
    trace = Trace(T, spans)
    rows = waterfall_data(trace)["spans"]
    assert [(r["span_id"], r["depth"], r["orphan"]) for r in rows] == [
        (n.span.span_id, n.depth, n.orphan) for n in walk(trace)]
    assert len({r["span_id"] for r in rows}) == len(rows) == 10
    assert all(r["parent"] < i and (r["parent"] < 0) == (r["depth"] == 0)
               for i, r in enumerate(rows))


def test_a_ten_thousand_deep_chain_renders():
    """A chain 10,000 spans deep (a runaway recursion) renders without hitting the
    recursion limit, each row one deeper than the last."""
    spans = [_span(i, i - 1 if i > 1 else None, f"level {i}", "svc", "internal", i,
                   30_000 - i) for i in range(1, 10_001)]
    rows = _data(render(Trace(T, spans)))["spans"]
    assert [r["depth"] for r in rows] == list(range(10_000))
    assert [r["critical_ns"] is not None for r in rows] == [True] * 10_000
