"""``os-tracing demo``: one request across an API, the bus, a worker, a database and a
second API, drawn as one trace, in a few seconds and with nothing to install."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

from tracing_middleware.export.store_url import resolve_store_url
from tracing_middleware.views import analysis, analysis_text

__all__ = ["register", "run_demo"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run a miniature traced cloud and show "
                                   "its traces", description=__doc__)
    parser.add_argument("--store", help="span store URL (default: OS_TRACING_STORE, else "
                        "the embedded store)")
    parser.add_argument("--transport-url", default="traced+fake://",
                        help="oslo.messaging URL for the bus (default: in-process "
                        "traced+fake://; e.g. traced+rabbit://guest:guest@127.0.0.1:5672/)")
    parser.add_argument("--requests", type=int, default=0, metavar="N",
                        help="also send N requests under a central sampling policy and "
                        "report how many traces were kept and why")
    parser.add_argument("--strategies", help="Jaeger strategies file for --requests "
                        "(default: a shipped example)")
    parser.add_argument("--html", help="where to write the HTML view (default: next to "
                        "the store)")
    parser.add_argument("--serve", action="store_true",
                        help="keep the web UI running afterwards")
    parser.add_argument("--port", type=int, default=16686, help="web UI port for --serve")
    parser.set_defaults(func=_run)


def _request(url: str, method: str = "GET", body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body or b"null")
    except ValueError:
        return status, body.decode(errors="replace")


def _signed_headers() -> dict[str, str]:
    """What ``openstack --os-profile KEY`` sends: an osprofiler-signed X-Trace-Info."""
    from tracing_middleware.demo.cloud import DEMO_HMAC_KEY
    from tracing_middleware.propagation.osprofiler import OSProfilerPropagator
    from tracing_middleware.spancontext import (
        Propagated,
        SpanContext,
        new_span_id,
        new_trace_id,
    )

    headers: dict[str, str] = {}
    context = SpanContext(new_trace_id(), new_span_id(), sampled=True)
    OSProfilerPropagator([DEMO_HMAC_KEY]).inject(headers, Propagated(context))
    return headers


def run_demo(store: str, transport_url: str = "traced+fake://", requests: int = 0,
             strategies: str | None = None, html_path: str | None = None,
             out: Any = None) -> dict[str, Any]:
    """Run the scenario; returns what happened (trace ids, HTML path, sampling counts)."""
    from tracing_middleware import tracer
    from tracing_middleware.demo.cloud import start_cloud
    from tracing_middleware.export.store import SpanStore
    from tracing_middleware.views import FORMATS

    out = out or sys.stdout
    workdir = tempfile.mkdtemp(prefix="os-tracing-demo-")
    started_ns = time.time_ns()
    result: dict[str, Any] = {}
    with start_cloud(workdir, store, transport_url) as cloud:
        servers = f"{cloud.compute_url}/v2.1/servers"
        boot = {"server": {"name": "web-1", "imageRef": cloud.image_id}}
        status, created = _request(servers, "POST", boot)
        print(f"POST /v2.1/servers -> {status} (boots a server: API -> RPC call -> worker "
              f"-> database -> image API -> notification; RPC cast back)", file=out)
        signed_status, _ = _request(servers, "POST", {"server": {
            "name": "profiled", "imageRef": cloud.image_id}}, _signed_headers())
        print(f"POST /v2.1/servers signed with an osprofiler key -> {signed_status} "
              "(forced trace)", file=out)
        fail_status, _ = _request(servers, "POST", {"server": {
            "name": "fail", "imageRef": cloud.image_id}})
        print(f"POST /v2.1/servers that fails in the worker -> {fail_status}", file=out)
        cloud.wait_for_async_work(casts=2, notifications=2)
        if requests:
            result["sampling"] = _sampling_run(cloud, store, requests, strategies, out)
    tracer.force_flush_all()
    span_store = SpanStore.from_url(store)
    try:
        summaries = span_store.list_traces(since_ns=started_ns, limit=1000)
        # the first request (oldest): the plain, successful boot
        main = next((s for s in reversed(summaries) if s.root_name == "POST /v2.1/servers"
                     and not s.error and s.span_count > 5), None)
        print(f"\n{len(summaries)} traces stored in {store}", file=out)
        if main is None:
            print("the main trace was not stored", file=out)
            return result
        trace = span_store.get_trace(main.trace_id)
    finally:
        span_store.close()
    print(f"\nTrace {main.trace_id} ({main.span_count} spans):\n", file=out)
    print(FORMATS["tree"](trace), file=out)
    html_path = html_path or os.path.join(workdir, f"trace-{main.trace_id}.html")
    with open(html_path, "w") as f:
        f.write(FORMATS["html"](trace))
    path, split = analysis.critical_path(trace), analysis.breakdown(trace)
    print("\nWhere the time went: the critical path (the spans that set the latency)\n",
          file=out)
    print(analysis_text.critical_path(path), file=out)
    print("\nand the time split by service and kind of work:\n", file=out)
    print(analysis_text.breakdown(split), file=out)
    print(f"\nHTML view: {html_path}", file=out)
    request_id = _request_id(trace)
    find = (f"      os-tracing trace find --request-id {request_id} --store {store}\n"
            if request_id else "")
    print(f"More: os-tracing trace list --store {store}\n{find}"
          f"      os-tracing trace show {main.trace_id} --store {store} --format html", file=out)
    result.update(trace_id=main.trace_id, html=html_path, spans=main.span_count,
                  statuses=(status, signed_status, fail_status), created=created,
                  critical_path=path, breakdown=split, request_id=request_id)
    return result


def _request_id(trace: Any) -> str | None:
    """The request id the API answered the first request with, as a user would copy it
    from a response header or a log line."""
    for span in trace.spans:
        if span.kind == "server" and span.parent_span_id is None:
            value = span.attributes.get("openstack.request_id")
            return value if isinstance(value, str) else None
    return None


def _sampling_run(cloud: Any, store: str, count: int, strategies: str | None,
                  out: Any) -> dict[str, Any]:
    """Send ``count`` requests through a pipeline whose policy comes from a strategies file."""
    from tracing_middleware import tracer
    from tracing_middleware.demo.cloud import _compute_api
    from tracing_middleware.export.store import SpanStore
    from tracing_middleware.filter import TracingFilter
    from tracing_middleware.testing import serve_wsgi

    strategies = strategies or os.path.join(
        os.path.dirname(os.path.dirname(__file__)), "demo", "demo_data", "strategies.json")
    arg = f"endpoint=file://{os.path.abspath(strategies)},pollingIntervalMs=60000"
    sampled_api = TracingFilter.factory(
        {}, service_name="compute-api-sampled", exporters=store,
        sampler="parentbased_jaeger_remote", sampler_arg=arg, integrations="",
        propagators="tracecontext,baggage")(_compute_api)
    for candidate in tracer.all_tracings():
        if candidate.settings.service_name == "compute-api-sampled":
            polled = getattr(getattr(candidate.sampler, "root", None), "polled", None)
            if polled is not None:
                polled.wait(5)  # the first answer, so the policy (not the initial rate) applies
    started_ns = time.time_ns()
    with serve_wsgi(sampled_api) as server:
        for i in range(count):
            _request(f"{server.url}/v2.1/servers/{i:08x}-0000-4000-8000-000000000000")
    tracer.force_flush_all()
    span_store = SpanStore.from_url(store)
    try:
        kept = span_store.list_traces(service="compute-api-sampled", since_ns=started_ns,
                                      limit=count + 1)
    finally:
        span_store.close()
    tracing = tracer.get_tracing()
    description = tracing.sampler.get_description() if tracing else ""
    for candidate in tracer.all_tracings():
        if candidate.settings.service_name == "compute-api-sampled":
            description = candidate.sampler.get_description()
    print(f"\nSampling: {len(kept)} of {count} traces of 'GET /v2.1/servers/{{id}}' kept by "
          f"the policy in {strategies}\n  sampler: {description}", file=out)
    return {"sent": count, "kept": len(kept), "policy": description}


#: What the miniature cloud runs on beyond os-tracing's own requirements (the ``demo``
#: extra): its database and its HTTP client.
DEMO_MODULES = ("sqlalchemy", "requests")


def missing_demo_modules() -> list[str]:
    """The ``demo`` extra's modules this environment cannot import."""
    import importlib.util

    return [name for name in DEMO_MODULES if importlib.util.find_spec(name) is None]


def _run(args: argparse.Namespace) -> int:
    import warnings

    missing = missing_demo_modules()
    if missing:
        print(f"os-tracing demo needs {', '.join(missing)}: pip install 'os-tracing[demo]'",
              file=sys.stderr)
        return 2

    # oslo.messaging imports eventlet, which warns about its own deprecation on import.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    store = resolve_store_url(args.store)
    if store.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(store[len("sqlite:///"):]) or ".", exist_ok=True)
    result = run_demo(store, args.transport_url, args.requests, args.strategies, args.html)
    if "trace_id" not in result:
        return 1
    if args.serve:
        from tracing_middleware.cmd import serve

        return serve.serve_forever(store, "127.0.0.1", args.port)
    return 0
