"""etc/api-paste.ini.sample loads with PasteDeploy and serves traced requests."""

from __future__ import annotations

import os
import shutil
import urllib.request

from paste import deploy

from tracing_middleware import tracer
from tracing_middleware.export.store import SpanStore
from tracing_middleware.testing import serve_wsgi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def test_sample_pipeline_serves_and_traces(tmp_path, monkeypatch):
    """Each pipeline of the sample runs the real filter between request_id and authtoken."""
    store_url = f"sqlite:///{tmp_path}/sample.db"
    monkeypatch.setenv("OS_TRACING_STORE", store_url)
    ini = tmp_path / "api-paste.ini"
    shutil.copy(os.path.join(ROOT, "etc", "api-paste.ini.sample"), ini)
    app = deploy.loadapp(f"config:{ini}", name="osapi_compute")
    with serve_wsgi(app) as server:
        with urllib.request.urlopen(f"{server.url}/v2.1/servers", timeout=10) as resp:
            request_id = resp.headers["x-openstack-request-id"]
            assert resp.status == 200
        with urllib.request.urlopen(f"{server.url}/", timeout=10) as resp:
            assert resp.status == 200
    tracing = tracer.get_tracing()
    assert tracing is not None and tracing.force_flush()
    store = SpanStore.from_url(store_url)
    spans = {s.name: s for s in store.all_spans()}
    store.close()
    assert set(spans) == {"GET /v2.1/servers", "GET /"}
    server_span = spans["GET /v2.1/servers"]
    assert server_span.service == "nova-api"
    assert server_span.attributes["openstack.request_id"] == request_id
    assert request_id.startswith("req-")
