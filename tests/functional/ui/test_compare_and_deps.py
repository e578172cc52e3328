"""``os-tracing serve``'s compare page and dependency graph, over HTTP and in headless
Chromium, against a real store with two runs of one boot whose numbers are known."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tracing_middleware.cmd.serve import UIServer
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore

from .conftest import screenshot

TA = "a1" * 16
TB = "b2" * 16
TE = "e3" * 16
MS = 1_000_000
EVIL = "<img src=x onerror=alert(1)>"
RPC = {"rpc.system": "oslo_messaging"}
DB = {"db.system.name": "mysql"}
HTTP = {"http.request.method": "POST"}


def _spans(trace_id: str, base: int, rows: list[tuple[Any, ...]]) -> list[SpanRecord]:
    """(id, parent, name, service, kind, start ms, end ms, attributes[, status])."""
    spans = []
    for sid, parent, name, service, kind, start, end, attributes, *status in rows:
        spans.append(SpanRecord(trace_id, f"{sid:016x}", f"{parent:016x}" if parent else None,
                                name, service, kind, base + start * MS, (end - start) * MS,
                                status=status[0] if status else "unset",
                                attributes=attributes))
    return spans


def boot_a(base: int) -> list[SpanRecord]:
    """Run A, in ms: the API gets a token, then calls the conductor, which casts to
    compute, which calls itself."""
    return _spans(TA, base, [
        (1, None, "POST /v2.1/servers", "nova-api", "server", 0, 100, HTTP),
        (2, 1, "SELECT instances", "nova-api", "client", 10, 20, DB),
        (3, 1, "POST /v3/auth/tokens", "nova-api", "client", 22, 30, HTTP),
        (4, 3, "POST /v3/auth/tokens", "keystone", "server", 23, 29, HTTP),
        (5, 1, "conductor.build_instances", "nova-api", "client", 40, 90, RPC),
        (6, 5, "conductor.build_instances", "nova-conductor", "server", 45, 85, RPC),
        (7, 6, "compute.build_and_run_instance", "nova-conductor", "producer", 50, 52, RPC),
        (8, 7, "compute.build_and_run_instance", "nova-compute", "consumer", 55, 140, RPC),
        (9, 8, "compute.get_console", "nova-compute", "client", 60, 70, RPC),
        (10, 9, "compute.get_console", "nova-compute", "server", 61, 69, RPC),
    ])


def boot_b(base: int) -> list[SpanRecord]:
    """Run B: the SELECT 20 ms slower, no token, a quota SELECT, the conductor call
    10 ms slower and failing, the compute side 5 ms slower."""
    return _spans(TB, base, [
        (1, None, "POST /v2.1/servers", "nova-api", "server", 0, 120, HTTP),
        (2, 1, "SELECT instances", "nova-api", "client", 10, 40, DB),
        (11, 1, "SELECT quotas", "nova-api", "client", 41, 44, DB),
        (5, 1, "conductor.build_instances", "nova-api", "client", 45, 105, RPC, "error"),
        (6, 5, "conductor.build_instances", "nova-conductor", "server", 50, 100, RPC),
        (7, 6, "compute.build_and_run_instance", "nova-conductor", "producer", 55, 57, RPC),
        (8, 7, "compute.build_and_run_instance", "nova-compute", "consumer", 60, 150, RPC),
        (9, 8, "compute.get_console", "nova-compute", "client", 65, 75, RPC),
        (10, 9, "compute.get_console", "nova-compute", "server", 66, 74, RPC),
    ])


def hostile(base: int) -> list[SpanRecord]:
    """A caller whose service name is markup."""
    return _spans(TE, base, [
        (1, None, "poll", EVIL, "client", 0, 4, {"http.request.method": "GET"}),
        (2, 1, "GET /v2.1/servers", "nova-api", "server", 1, 3, HTTP),
    ])


@pytest.fixture
def ui(tmp_path):
    url = f"sqlite:///{tmp_path}/ui.db"
    store = SpanStore.from_url(url)
    now = time.time_ns()
    store.write(boot_a(now - 5 * 60 * 10**9) + boot_b(now - 4 * 60 * 10**9)
                + hostile(now - 3 * 60 * 10**9))
    # Long before the default window: in the store, never in the graph.
    store.write(_spans("c4" * 16, now - 5 * 3600 * 10**9, [
        (1, None, "old", "nova-api", "client", 0, 5, HTTP),
        (2, 1, "old", "swift", "server", 1, 4, HTTP)]))
    store.close()
    server = UIServer(url, "127.0.0.1", 0).start()
    yield server
    server.stop()


def fetch(ui: UIServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(ui.url + path, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.parametrize(("query", "said"), [
    (f"a={TA}&b={'f' * 32}", f"trace {'f' * 32} for B"),
    (f"a=zz&b={TB}", "trace zz for A"),
    (f"a={TA}", "no trace id for B"),
    ("", "no trace id for A"),
    (f"a={TA}&b={'a' * 5000}", f"trace {'a' * 64} for B"),
    (f"a={urllib.parse.quote(EVIL)}&b={TB}", "trace &lt;img src=x onerror=alert(1)&gt; for A"),
])
def test_diff_with_bad_ids_is_a_one_line_404(ui, query, said):
    """Unknown, malformed, absent and absurdly long ids: a 404 saying which, never 500."""
    status, page = fetch(ui, f"/diff?{query}")
    assert status == 404
    assert (f"<p id='not-found'>Compare: {said} (give two stored trace ids).</p>"
            in page)


def test_diff_page_over_http(ui):
    """Prefixes are accepted as on the trace page; the header form holds both ids."""
    status, page = fetch(ui, f"/diff?a={TA[:10]}&b={TB}&min_change=6ms")
    assert status == 200
    assert "+20.000 ms (+20.0%)" in page
    assert "<tr class='changed slower'>" in page and "<tr class='only-b'>" in page
    assert "+5.000 ms" in page and "+5.000 ms (+5.9%)" not in page  # under min_change
    assert f"value='{TA[:10]}'" in page and f"value='{TB}'" in page


def test_deps_page_over_http(ui):
    """The window's edges only, drawn and tabled; a service filter keeps its own."""
    status, page = fetch(ui, "/deps")
    assert status == 200
    assert page.count("<g class='node") == 5 and "swift" not in page
    assert page.count("<g class='edge") == 5
    assert "value='60'" in page  # the default window, in minutes
    status, page = fetch(ui, "/deps?since=600&service=keystone")
    assert status == 200 and "swift" not in page
    assert page.count("<g class='edge") == 1 and "<g class='node focus'" in page
    status, page = fetch(ui, "/deps?since=600")
    assert "swift" in page
    status, page = fetch(ui, "/deps?since=junk&service=nobody")
    assert status == 200 and "No dependencies" in page


def test_every_page_links_both(ui):
    for path in ("/", f"/trace/{TA}", "/deps", f"/diff?a={TA}&b={TB}", "/nowhere"):
        _, page = fetch(ui, path)
        assert "<a href='/deps'" in page and "action='/diff'" in page, path


# -- in the browser ---------------------------------------------------------------------

def _wait_for_path(browser: Any, path: str) -> urllib.parse.SplitResult:
    """The page reached after a click, once its URL has ``path`` (a readiness poll with a
    deadline: a click does not wait for the navigation it starts)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(
        lambda b: urllib.parse.urlsplit(b.current_url).path == path)
    return urllib.parse.urlsplit(browser.current_url)


@pytest.mark.browser
def test_compare_from_the_list_and_from_a_trace(ui, browser):
    """Two ids typed into the header's compare form on the trace list open the
    comparison: changed rows highlighted with their exact deltas, one-sided rows marked,
    both columns on one time scale. From A's page, typing B compares the same pair."""
    from selenium.webdriver.common.by import By

    browser.get(ui.url)
    form = browser.find_element(By.ID, "compare")
    form.find_element(By.NAME, "a").send_keys(TA)
    form.find_element(By.NAME, "b").send_keys(TB)
    form.find_element(By.TAG_NAME, "button").click()
    _wait_for_path(browser, "/diff")
    assert browser.find_element(By.ID, "critical-path-total").text == (
        "Critical path: A 100.000 ms, B 120.000 ms: +20.000 ms (+20.0%)")
    rows = browser.find_elements(By.CSS_SELECTOR, "#diff tr[class]")
    assert [(r.get_attribute("class"), r.find_element(By.CSS_SELECTOR, "td.delta").text)
            for r in rows] == [
        ("changed slower", "+20.000 ms (+20.0%)"),   # POST /v2.1/servers
        ("changed slower", "+20.000 ms (+200.0%)"),  # SELECT instances
        ("only-b", "only in B"),                     # SELECT quotas
        ("only-a", "only in A"),                     # the token request
        ("only-a", "only in A"),                     # keystone's side of it
        ("changed slower", "+10.000 ms (+20.0%)"),   # the conductor call
        ("changed slower", "+10.000 ms (+25.0%)"),   # the conductor's side
        ("same", "="),                               # the cast
        ("changed slower", "+5.000 ms (+5.9%)"),     # compute's side of it
        ("same", "="), ("same", "=")]                # compute calling itself
    cells = rows[2].find_elements(By.TAG_NAME, "td")
    assert cells[0].text == "\u2014 only in B" and cells[1].text.startswith("SELECT quotas")
    assert "ERROR" in rows[5].find_elements(By.TAG_NAME, "td")[1].text
    # Highlighting is drawn, not only named: changed rows look different from the rest.
    background = {r.get_attribute("class"): r.find_element(By.TAG_NAME, "td")
                  .value_of_css_property("background-color") for r in rows}
    assert len({background[c] for c in ("changed slower", "same", "only-a", "only-b")}) == 4
    # One scale for both columns, B's 150 ms (its cast's consumer outlives the root).
    lane_a, lane_b = rows[0].find_elements(By.CSS_SELECTOR, ".lane")
    bar_a, bar_b = rows[0].find_elements(By.CSS_SELECTOR, ".bar")
    assert lane_a.size["width"] == lane_b.size["width"]
    assert abs(bar_a.size["width"] - lane_a.size["width"] * 100 / 150) <= 1
    assert abs(bar_b.size["width"] - lane_b.size["width"] * 120 / 150) <= 1
    screenshot(browser, "diff")

    browser.get(f"{ui.url}/trace/{TA}")
    form = browser.find_element(By.ID, "compare")
    assert form.find_element(By.NAME, "a").get_attribute("value") == TA
    other = form.find_element(By.NAME, "b")
    assert other.get_attribute("placeholder").startswith("compare with")
    other.send_keys(TB)
    form.find_element(By.TAG_NAME, "button").click()
    reached = _wait_for_path(browser, "/diff")
    assert urllib.parse.parse_qs(reached.query) == {"a": [TA], "b": [TB]}
    assert len(browser.find_elements(By.CSS_SELECTOR, "#diff tr.changed")) == 5


@pytest.mark.browser
def test_dependency_graph_and_a_click_on_a_service(ui, browser):
    """The graph from the header link: one node per service, callers left of callees,
    labelled edges, compute's loop, the hostile name shown as text; a click on a service
    opens the trace list filtered by it."""
    from selenium.webdriver.common.by import By

    browser.get(ui.url)
    browser.find_element(By.LINK_TEXT, "dependencies").click()
    _wait_for_path(browser, "/deps")
    nodes = {n.get_attribute("data-service"): n
             for n in browser.find_elements(By.CSS_SELECTOR, "#deps-graph g.node")}
    assert set(nodes) == {EVIL, "nova-api", "keystone", "nova-conductor", "nova-compute"}
    assert len(nodes) == 5
    left = {name: n.rect["x"] for name, n in nodes.items()}
    assert left[EVIL] < left["nova-api"] < left["nova-conductor"] < left["nova-compute"]
    assert left["nova-api"] < left["keystone"]
    assert nodes[EVIL].find_element(By.TAG_NAME, "title").get_attribute(
        "textContent") == EVIL
    assert browser.find_elements(By.CSS_SELECTOR, "#deps-graph img, body > img") == []

    edges = {(e.get_attribute("data-from"), e.get_attribute("data-to")): e
             for e in browser.find_elements(By.CSS_SELECTOR, "#deps-graph g.edge")}
    assert len(edges) == 5
    failing = edges[("nova-api", "nova-conductor")]
    assert failing.get_attribute("class") == "edge proto-rpc_call has-errors"
    assert failing.find_element(By.CSS_SELECTOR, "text").get_attribute("textContent") == (
        "RPC call \u00b7 2 calls \u00b7 \u26a0 1 errorp50 50.000 ms \u00b7 p95 60.000 ms")
    cast = edges[("nova-conductor", "nova-compute")]
    assert cast.get_attribute("class") == "edge proto-rpc_cast"
    assert cast.find_element(By.CSS_SELECTOR, "text").get_attribute("textContent") == (
        "RPC cast \u00b7 2 calls" "p50 2.000 ms \u00b7 p95 2.000 ms")
    loop = edges[("nova-compute", "nova-compute")]
    assert loop.get_attribute("class") == "edge proto-rpc_call loop"
    assert loop.rect["y"] + loop.rect["height"] <= nodes["nova-compute"].rect["y"] + 2
    table = [[c.text for c in r.find_elements(By.TAG_NAME, "td")]
             for r in browser.find_elements(By.CSS_SELECTOR, "#edges tr[class]")]
    assert ["nova-api", "nova-conductor", "rpc_call", "2", "\u26a0 1", "50.000 ms",
            "60.000 ms"] in table and len(table) == 5
    # Wide enough for the whole drawing, which otherwise scrolls sideways.
    graph = browser.find_element(By.ID, "deps-graph")
    browser.set_window_size(max(1200, int(graph.get_attribute("width")) + 80), 1000)
    screenshot(browser, "deps")

    nodes["nova-conductor"].click()
    reached = _wait_for_path(browser, "/search")
    assert urllib.parse.parse_qs(reached.query) == {"service": ["nova-conductor"]}
    listed = {r.find_elements(By.TAG_NAME, "td")[-1].text
              for r in browser.find_elements(By.CSS_SELECTOR, "#traces tr")[1:]}
    assert listed == {TA, TB}
