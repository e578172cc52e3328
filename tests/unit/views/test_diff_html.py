"""The side-by-side comparison page on two traces with exactly known timings."""

from __future__ import annotations

import html.parser
from typing import Any

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import Trace
from tracing_middleware.views import diff_html

BASE = 1_700_000_000_000_000_000
MS = 1_000_000
TA, TB = "a" * 32, "b" * 32
EVIL = "<script>alert(1)</script>"


def span(trace_id: str, sid: str, parent: str | None, name: str, service: str,
         start: int, end: int, status: str = "unset") -> SpanRecord:
    """A span from ``start`` to ``end`` ms after BASE; ids padded to 16 digits."""
    return SpanRecord(trace_id, sid.rjust(16, "0"), parent.rjust(16, "0") if parent else None,
                      name, service, "internal", BASE + start * MS, (end - start) * MS,
                      status=status)


def pair() -> tuple[Trace, Trace]:
    """B's second SELECT is 20 ms slower, its call 10 ms; A has a third SELECT, B an
    image GET::

        A  POST 0-100: SELECT 10-20, SELECT 30-40, call 50-90 (server 55-85), SELECT 92-95
        B  POST 0-120: SELECT 10-20, SELECT 30-60, GET 62-64, call 65-115 (server 70-110)
    """
    a = Trace(TA, [
        span(TA, "1", None, "POST /servers", "api", 0, 100),
        span(TA, "2", "1", "SELECT", "api", 10, 20),
        span(TA, "3", "1", "SELECT", "api", 30, 40),
        span(TA, "4", "1", "compute/get", "api", 50, 90),
        span(TA, "5", "4", "compute/get", "compute", 55, 85),
        span(TA, "6", "1", "SELECT", "api", 92, 95),
    ])
    b = Trace(TB, [
        span(TB, "1", None, "POST /servers", "api", 0, 120),
        span(TB, "2", "1", "SELECT", "api", 10, 20),
        span(TB, "3", "1", "SELECT", "api", 30, 60),
        span(TB, "7", "1", "GET /v2/images", "api", 62, 64),
        span(TB, "4", "1", "compute/get", "api", 65, 115),
        span(TB, "5", "4", "compute/get", "compute", 70, 110),
    ])
    return a, b


class _Rows(html.parser.HTMLParser):
    """The rows of ``table#diff``: (class, [cell text...], [bar style...])."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str], list[str]]] = []
        self._in_diff = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self._in_diff = attributes.get("id") == "diff"
        elif self._in_diff and tag == "tr" and attributes.get("class"):
            self.rows.append((attributes["class"] or "", [], []))
        elif self._in_diff and self.rows and tag == "td":
            self._cell = []
        elif self._in_diff and self.rows and "bar" in (attributes.get("class") or ""):
            self.rows[-1][2].append(attributes.get("style") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_diff = False
        elif tag == "td" and self._cell is not None and self.rows:
            self.rows[-1][1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rows(page: str) -> list[tuple[str, list[str], list[str]]]:
    parser = _Rows()
    parser.feed(page)
    return parser.rows


def test_rows_are_aligned_with_exact_deltas_and_one_sided_rows():
    """Tree order, A's spans first among siblings, B's GET after the SELECT it follows;
    deltas in ms and percent of A."""
    a, b = pair()
    assert [(c, cells) for c, cells, _ in rows(diff_html.render(a, b))] == [
        ("changed slower", ["POST /servers [api] 100.000 ms",
                            "POST /servers [api] 120.000 ms", "+20.000 ms (+20.0%)"]),
        ("same", ["SELECT [api] 10.000 ms", "SELECT [api] 10.000 ms", "="]),
        ("changed slower", ["SELECT [api] 10.000 ms", "SELECT [api] 30.000 ms",
                            "+20.000 ms (+200.0%)"]),
        ("only-b", ["\u2014 only in B", "GET /v2/images [api] 2.000 ms", "only in B"]),
        ("changed slower", ["compute/get [api] 40.000 ms", "compute/get [api] 50.000 ms",
                            "+10.000 ms (+25.0%)"]),
        ("changed slower", ["compute/get [compute] 30.000 ms",
                            "compute/get [compute] 40.000 ms", "+10.000 ms (+33.3%)"]),
        ("only-a", ["SELECT [api] 3.000 ms", "\u2014 only in A", "only in A"]),
    ]


def test_faster_rows_have_negative_deltas():
    """Swapped, B is A: the same rows, faster, with deltas relative to the new A."""
    a, b = pair()
    table = rows(diff_html.render(b, a))
    assert table[0][0] == "changed faster" and table[0][1][2] == "-20.000 ms (-16.7%)"
    assert table[2][1][2] == "-20.000 ms (-66.7%)"
    assert [c for c, _, _ in table].count("only-a") == 1  # the GET is now only in A


def test_bars_share_one_time_scale():
    """The longer trace (120 ms) sets the scale of both columns."""
    a, b = pair()
    table = rows(diff_html.render(a, b))
    assert table[0][2] == ["left:0.000%;width:83.333%", "left:0.000%;width:100.000%"]
    assert table[2][2] == ["left:25.000%;width:8.333%", "left:25.000%;width:25.000%"]
    assert table[3][2] == ["left:51.667%;width:1.667%"]  # B's GET only


def test_min_change_leaves_small_changes_unhighlighted():
    """Changes of at most 10 ms are not highlighted but their delta is still shown."""
    a, b = pair()
    table = rows(diff_html.render(a, b, min_change_ns=10 * MS))
    assert [c for c, _, _ in table] == ["changed slower", "same", "changed slower",
                                        "only-b", "same", "same", "only-a"]
    assert table[4][1][2] == "+10.000 ms"


def test_summary_states_the_critical_path_difference():
    """Totals and each span whose share of the critical path changed, with its delta."""
    a, b = pair()
    page = diff_html.render(a, b, link=lambda t: f"/trace/{t}")
    assert ("Critical path: A <b>100.000 ms</b>, B <b>120.000 ms</b>: "
            "<span class='worse'>+20.000 ms (+20.0%)</span>") in page
    assert "2 changed" not in page and "4 changed, 1 only in A, 1 only in B" in page
    assert f"<a href='/trace/{TA}'>{TA}</a>" in page
    summary = page[page.index("<table id='diff-summary'>"):page.index("<table id='diff'>")]
    assert summary.count("<tr>") == 6  # header and five spans
    assert ("SELECT <small>[api] #2</small></span></td><td class='num'>10.000 ms</td>"
            "<td class='num'>30.000 ms</td><td class='num'>+20.000 ms</td>") in summary


def test_identical_traces_have_nothing_highlighted():
    a, _ = pair()
    page = diff_html.render(a, a)
    assert {c for c, _, _ in rows(page)} == {"same"}
    assert "Nothing on the critical paths changed." in page


def test_a_span_only_in_b_before_every_match_comes_first():
    a = Trace(TA, [span(TA, "1", None, "GET /", "api", 0, 10),
                   span(TA, "2", "1", "SELECT", "api", 5, 6)])
    b = Trace(TB, [span(TB, "1", None, "GET /", "api", 0, 10),
                   span(TB, "3", "1", "token", "keystone", 1, 2),
                   span(TB, "4", "1", "cache", "api", 3, 4),
                   span(TB, "2", "1", "SELECT", "api", 5, 6)])
    assert [(r.b or r.a).name for r in diff_html.aligned(a, b)] == [
        "GET /", "token", "cache", "SELECT"]


def test_untrusted_names_are_escaped():
    a = Trace(TA, [span(TA, "1", None, EVIL, EVIL, 0, 10, status="error")])
    b = Trace(TB, [span(TB, "1", None, EVIL, EVIL, 0, 12)])
    page = diff_html.render(a, b)
    assert EVIL not in page and "&lt;script&gt;" in page
    assert rows(page)[0][1] == [f"ERROR {EVIL} [{EVIL}] 10.000 ms",
                                f"{EVIL} [{EVIL}] 12.000 ms", "+2.000 ms (+20.0%)"]


def test_rows_are_capped_and_empty_traces_render():
    a, b = pair()
    page = diff_html.render(a, b, max_rows=2)
    assert len(rows(page)) == 2 and "Showing the first 2 of 7 rows." in page
    empty = diff_html.render(Trace(TA, []), Trace(TB, []))
    assert rows(empty) == [] and "A <b>0.000 ms</b>, B <b>0.000 ms</b>" in empty


def test_a_deep_chain_does_not_recurse():
    chain: list[Any] = [span(TA, "1", None, "s0", "svc", 0, 5000)]
    chain += [span(TA, f"{i + 1:x}", f"{i:x}", f"s{i}", "svc", i, 5000) for i in range(1, 3000)]
    assert len(diff_html.aligned(Trace(TA, chain), Trace(TA, chain))) == 3000
