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
