"""OpenTelemetry JS (Node.js) on either side of our filter, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import requests

from tracing_middleware import tracer
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import serve_wsgi

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
NODE = shutil.which("node")

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def node_ready():
    if NODE is None:
        pytest.fail("node is not installed; the interop tests need Node.js 18+")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@opentelemetry",
                                      "sdk-trace-base")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                       check=True, capture_output=True, timeout=300)
    return NODE


def _our_spans(store_url):
    assert tracer.get_tracing().force_flush()
    store = SpanStore.from_url(store_url)
    try:
        return {s.kind: s for s in store.all_spans()}
    finally:
        store.close()


def test_node_client_calls_us(tmp_path, node_ready):
    """A Node OpenTelemetry client span is the exact parent of our SERVER span."""
    store_url = f"sqlite:///{tmp_path}/n1.db"

    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"ok"]

    filtered = TracingFilter.factory({}, exporters=store_url, integrations="")(app)
    with serve_wsgi(filtered) as server:
        out = subprocess.run([node_ready, "client.js", f"{server.url}/v2.1/servers"],
                             cwd=NODE_DIR, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["status"] == 200
    (client,) = report["spans"]
    ours = _our_spans(store_url)["server"]
    assert ours.trace_id == client["trace_id"]
    assert ours.parent_span_id == client["span_id"]


def test_we_call_a_node_server(tmp_path, node_ready):
    """Our CLIENT span is the exact parent of the Node server's span."""
    store_url = f"sqlite:///{tmp_path}/n2.db"
    proc = subprocess.Popen([node_ready, "server.js"], cwd=NODE_DIR, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())

        def app(environ, start_response):
            body = requests.get(f"http://127.0.0.1:{port}/images", timeout=10).content
            start_response("200 OK", [])
            return [body]

        filtered = TracingFilter.factory({}, exporters=store_url,
                                         integrations="requests")(app)
        with serve_wsgi(filtered) as server:
            assert requests.get(server.url, timeout=10).content == b"from node"
        report = json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()
        proc.wait(10)
    (node_span,) = report["spans"]
    ours = _our_spans(store_url)
    assert node_span["trace_id"] == ours["client"].trace_id == ours["server"].trace_id
    assert node_span["parent_span_id"] == ours["client"].span_id
    assert ours["client"].parent_span_id == ours["server"].span_id
