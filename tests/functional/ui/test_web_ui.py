"""``os-tracing serve`` in a real headless Chromium: list, click into a trace, check spans."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from tracing_middleware.cmd.serve import UIServer
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore

from .conftest import screenshot

T = "4bf92f3577b34da6a3ce929d0e0e4736"
GLOBAL = "req-6e0bd5e4-7a3e-4b8a-9c57-2b0f4c1d9e21"


@pytest.fixture
def ui(tmp_path):
    url = f"sqlite:///{tmp_path}/ui.db"
    store = SpanStore.from_url(url)
    base = 1_700_000_000_000_000_000
    store.write([
        SpanRecord(T, "a" * 16, None, "POST /v2.1/servers", "nova-api", "server", base,
                   9_000_000),
        SpanRecord(T, "b" * 16, "a" * 16, "compute/build_instance", "nova-compute", "server",
                   base + 1_000_000, 5_000_000, status="error",
                   attributes={"openstack.global_request_id": GLOBAL}),
        SpanRecord("1" * 32, "c" * 16, None, "GET /v2.1/flavors", "nova-api", "server",
                   base - 10**9, 1_000_000),
    ])
    store.close()
    log = tmp_path / "nova-api.log"
    log.write_text(f"INFO [{T}] booting\nINFO [{'9' * 32}] other\n")
    server = UIServer(url, "127.0.0.1", 0, [str(log)]).start()
    yield server
    server.stop()


def test_pages_over_http(ui):
    """Search filters, the trace page with its log lines, the JSON API, 404s."""
    with urllib.request.urlopen(f"{ui.url}/?errors=1", timeout=10) as r:
        page = r.read().decode()
    assert "POST /v2.1/servers" in page and "GET /v2.1/flavors" not in page
    with urllib.request.urlopen(f"{ui.url}/search?request_id=+{GLOBAL}", timeout=10) as r:
        page = r.read().decode()
    assert "POST /v2.1/servers" in page and "GET /v2.1/flavors" not in page
    assert f"value='{GLOBAL}'" not in page and f"value=' {GLOBAL}'" in page  # as typed
    with urllib.request.urlopen(f"{ui.url}/search?request_id=req-nope", timeout=10) as r:
        assert "No traces." in r.read().decode()
    with urllib.request.urlopen(f"{ui.url}/trace/{T}", timeout=10) as r:
        page = r.read().decode()
    assert "booting" in page and "other" not in page
    # where the time went, above the waterfall: the breakdown's numbers
    assert "<section id='breakdown'" in page
    assert re.search(r"nova-compute</td><td class='num'>5\.000 ms</td>"
                     r"<td class='num'>55\.6%</td>", page)
    assert page.index("id='breakdown'") < page.index("id='waterfall'")
    # search by an attribute, as trace find --attribute
    with urllib.request.urlopen(f"{ui.url}/search?attribute=openstack.global_request_id%3D"
                                f"{GLOBAL}", timeout=10) as r:
        page = r.read().decode()
    assert "POST /v2.1/servers" in page and "GET /v2.1/flavors" not in page
    assert f"value='openstack.global_request_id={GLOBAL}'" in page
    with urllib.request.urlopen(f"{ui.url}/api/traces/{T}", timeout=10) as r:
        assert b"compute/build_instance" in r.read()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{ui.url}/trace/{'0' * 32}", timeout=10)
    assert err.value.code == 404


@pytest.mark.browser
def test_browser_clicks_into_a_trace(ui, browser):
    """Headless Chromium opens the list, clicks the trace, sees both spans; screenshot kept."""
    from selenium.webdriver.common.by import By

    browser.get(ui.url)
    links = browser.find_elements(By.CSS_SELECTOR, "a.trace-link")
    assert [link.text for link in links] == ["POST /v2.1/servers", "GET /v2.1/flavors"]
    links[0].click()
    browser.switch_to.frame(browser.find_element(By.ID, "waterfall"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#rows .row")
    assert len(rows) == 2
    assert "compute/build_instance" in rows[1].text
    rows[1].click()
    details = browser.find_element(By.ID, "details").text
    assert "Status error" in details and GLOBAL in details
    browser.switch_to.default_content()
    screenshot(browser, "web-ui-trace")
