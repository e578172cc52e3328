"""The context follows the work in every execution model, and only that work."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import subprocess
import sys
import threading

import futurist
import httpx
import pytest
import requests
from oslo_context import context as oslo_context

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import serve_wsgi

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")


def _recorder(seen):
    def app(environ, start_response):
        seen.append(environ.get("HTTP_TRACEPARENT"))
        start_response("200 OK", [])
        return [b""]
    return app


def test_interleaved_asyncio_requests_keep_their_own_trace(tmp_path):
    """Two requests in one loop, interleaved at an await: each call carries its own trace
    (the bug behind osprofiler #1818493)."""
    tracing = tracer.setup(load_settings(None, {
        "exporters": f"sqlite:///{tmp_path}/a.db", "integrations": "httpx,asyncio",
        "scope_manager": "asyncio", "sampler": "always_on"}, environ={}))
    seen: list[str] = []
    with serve_wsgi(_recorder(seen)) as server:
        async def request(name, my_turn, other_turn, client):
            span = tracing.start_span(name, parent=None, kind="server")
            with tracing.activate(span, finish_on_close=True):
                await my_turn.wait()
                other_turn.set()
                await client.get(f"{server.url}/{name}")
                return tracing.span_context_of(span).trace_id_hex

        async def main():
            first, second = asyncio.Event(), asyncio.Event()
            async with httpx.AsyncClient() as client:
                a = asyncio.create_task(request("a", first, second, client))
                b = asyncio.create_task(request("b", second, first, client))
                first.set()
                return await asyncio.gather(a, b)

        trace_a, trace_b = asyncio.run(main())
    assert trace_a != trace_b
    assert sorted(h.split("-")[1] for h in seen) == sorted([trace_a, trace_b])


@pytest.mark.parametrize("pool_kind", ["stdlib", "futurist"])
def test_request_fans_out_to_a_thread_pool(tmp_path, pool_kind):
    """Each pooled downstream call is a child of the request; later pool work is untraced."""
    store_url = f"sqlite:///{tmp_path}/pool.db"
    pool = (concurrent.futures.ThreadPoolExecutor(4) if pool_kind == "stdlib"
            else futurist.ThreadPoolExecutor(4))
    seen: list[str] = []
    with serve_wsgi(_recorder(seen)) as down:
        def app(environ, start_response):
            futures = [pool.submit(requests.get, f"{down.url}/{i}", timeout=10)
                       for i in range(4)]
            for f in futures:
                f.result(10)
            start_response("200 OK", [])
            return [b""]

        filtered = TracingFilter.factory({}, exporters=store_url,
                                         integrations="requests,threading,futurist")(app)
        with serve_wsgi(filtered) as api:
            requests.get(api.url, timeout=10)
        tracing = tracer.get_tracing()
        leftovers = [pool.submit(tracing.active_span) for _ in range(8)]
        assert [f.result(10) for f in leftovers] == [None] * 8
    pool.shutdown(wait=True)
    tracing.force_flush()
    store = SpanStore.from_url(store_url)
    spans = store.all_spans()
    store.close()
    (server,) = [s for s in spans if s.kind == "server"]
    clients = [s for s in spans if s.kind == "client"]
    assert len(clients) == 4
    assert all(c.parent_span_id == server.span_id for c in clients)
    assert sorted(h.split("-")[2] for h in seen) == sorted(c.span_id for c in clients)


def test_thread_started_in_a_trace_runs_in_it(tmp_path):
    """threading.Thread started inside a span: its work is a child; the starter is unchanged."""
    tracing = tracer.setup(load_settings(None, {
        "exporters": f"sqlite:///{tmp_path}/t.db", "integrations": "threading"}, environ={}))
    seen = []
    root = tracing.start_span("root", parent=None)
    with tracing.activate(root, finish_on_close=True):
        thread = threading.Thread(target=lambda: seen.append(tracing.active_span()))
        thread.start()
        thread.join(10)
    later = threading.Thread(target=lambda: seen.append(tracing.active_span()))
    later.start()
    later.join(10)
    assert seen == [root, None]


@pytest.mark.parametrize("model", ["eventlet", "gevent"])
def test_green_models_in_a_subprocess(model):
    """scope_manager = auto picks the patched model; spawned work is a child of the request
    and untraced work afterwards sees nothing (monkey patching stays in the subprocess)."""
    out = subprocess.run([sys.executable, os.path.join(SCRIPTS, "green.py"), model],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["manager"] == model
    assert len(report["parents"]) == (7 if model == "eventlet" else 6)
    assert set(report["parents"]) == {report["root"]}
    assert report["untraced"] == [True] * 4


def test_oslo_context_is_untouched(tmp_path):
    """oslo.context's own thread-local current context keeps working beside ours."""
    tracing = tracer.setup(load_settings(None, {
        "exporters": f"sqlite:///{tmp_path}/o.db", "integrations": "threading"}, environ={}))
    ctx = oslo_context.RequestContext(request_id="req-abc", overwrite=True)
    root = tracing.start_span("root", parent=None)
    with tracing.activate(root, finish_on_close=True):
        assert oslo_context.get_current() is ctx
        inner = oslo_context.RequestContext(request_id="req-inner", overwrite=True)
        assert oslo_context.get_current() is inner
    assert oslo_context.get_current() is inner
    assert tracing.active_span() is None
