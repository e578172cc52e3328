"""keystoneauth1 and httpx (sync and async) carry the trace; one span per call."""

from __future__ import annotations

import asyncio

import httpx
from keystoneauth1 import session as ksa_session

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.export.store import SpanStore
from tracing_middleware.testing import serve_wsgi


def _recorder(seen):
    def app(environ, start_response):
        seen.append({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]
    return app


def _setup(tmp_path, integrations):
    url = f"sqlite:///{tmp_path}/c.db"
    conf = {"exporters": url, "integrations": integrations, "sampler": "always_on"}
    return tracer.setup(load_settings(None, conf, environ={})), url


def _clients(tracing, url):
    tracing.force_flush()
    store = SpanStore.from_url(url)
    try:
        return [s for s in store.all_spans() if s.kind == "client"]
    finally:
        store.close()


def test_keystoneauth_session_one_span_and_headers(tmp_path):
    """A keystoneauth call under requests and urllib3 is one CLIENT span, parent injected."""
    tracing, url = _setup(tmp_path, "keystoneauth1,requests,urllib3")
    seen: list[dict] = []
    with serve_wsgi(_recorder(seen)) as server:
        root = tracing.start_span("root", parent=None)
        with tracing.activate(root, finish_on_close=True):
            ksa_session.Session().get(f"{server.url}/v3/projects", authenticated=False)
    (client,) = _clients(tracing, url)
    assert seen[0]["HTTP_TRACEPARENT"].split("-")[2] == client.span_id
    assert client.parent_span_id == tracing.span_context_of(root).span_id_hex


def test_httpx_sync_and_async(tmp_path):
    """httpx Client and AsyncClient calls are children of the active span."""
    tracing, url = _setup(tmp_path, "httpx")
    seen: list[dict] = []
    with serve_wsgi(_recorder(seen)) as server:
        root = tracing.start_span("root", parent=None)
        with tracing.activate(root, finish_on_close=True):
            with httpx.Client() as client:
                client.get(f"{server.url}/sync")

            async def call():
                async with httpx.AsyncClient() as aclient:
                    await aclient.get(f"{server.url}/async")
            asyncio.run(call())
    clients = _clients(tracing, url)
    assert len(clients) == 2
    root_id = tracing.span_context_of(root).span_id_hex
    assert all(c.parent_span_id == root_id for c in clients)
    assert sorted(h["HTTP_TRACEPARENT"].split("-")[2] for h in seen) == sorted(
        c.span_id for c in clients)
