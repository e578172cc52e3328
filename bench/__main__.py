"""``python -m bench [--quick] [--output FILE] [--cases wsgi,rpc,span,memory,http]``.

Runs every case, prints one table per case (median µs of CPU per operation, spread, and
the ratio to the untraced baseline and to os-tracing), and writes all figures as JSON.
CPU time is process-wide, so background export threads are charged to the variant that
created their work; the OTLP sink runs in another process and is not charged.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench import apps, peers
from bench.harness import Result, Variant, measure

CASES = ("wsgi", "span", "rpc", "memory", "http")


@contextlib.contextmanager
def sink() -> Iterator[int]:
    """An OTLP/HTTP sink (and plain JSON GET endpoint) in a separate process."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.receiver"],
                            stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _environ(extra: dict[str, str] | None = None) -> dict[str, Any]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v2.1/servers/detail",
               "SCRIPT_NAME": "", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8774", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_HOST": "127.0.0.1:8774", "wsgi.input": io.BytesIO(b"")}
    environ.update(extra or {})
    return environ


def _wsgi_op(app: Any, extra: dict[str, str] | None = None) -> Any:
    template = _environ(extra)

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        return None

    def op() -> None:
        body = app(dict(template), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return op


def case_wsgi(port: int, quick: bool) -> list[Result]:
    from tracing_middleware import tracer

    otlp = f"otlp+http://127.0.0.1:{port}"
    url = f"http://127.0.0.1:{port}/v1/traces"
    signed = peers.osprofiler_signed_headers()
    results: list[Result] = []
    ops, rounds = (200, 3) if quick else (2000, 15)
    for label, app in (("bare", apps.bare_app), ("json", apps.json_app)):
        variants = [
            Variant("untraced", lambda app=app: _wsgi_op(app)),
            Variant("os-tracing unsampled", lambda app=app: _wsgi_op(
                peers.os_tracing_filter(app, otlp, sampled=False))),
            Variant("os-tracing 100%", lambda app=app: _wsgi_op(
                peers.os_tracing_filter(app, otlp, sampled=True))),
            Variant("osprofiler unsigned", lambda app=app: _wsgi_op(
                peers.osprofiler_filter(app, port))),
            Variant("osprofiler signed", lambda app=app: _wsgi_op(
                peers.osprofiler_filter(app, port), signed)),
            Variant("otel-wsgi unsampled", lambda app=app: _wsgi_op(
                peers.otel_filter(app, url, sampled=False))),
            Variant("otel-wsgi 100%", lambda app=app: _wsgi_op(
                peers.otel_filter(app, url, sampled=True))),
        ]
        results += measure(f"wsgi request ({label} app)", variants, ops, rounds)
    calling = apps.make_calling_app(f"http://127.0.0.1:{port}/")
    variants = [
        Variant("untraced", lambda: _wsgi_op(calling)),
        Variant("os-tracing 100%", lambda: _wsgi_op(peers.os_tracing_filter(
            calling, otlp, sampled=True, integrations="requests"))),
        Variant("otel-wsgi 100%", lambda: _wsgi_op(peers.otel_filter(calling, url, True))),
    ]
    results += measure("wsgi request + one outgoing requests call", variants,
                       ops // 10, rounds)
    tracer.reset()
    return results


def case_span(port: int, quick: bool) -> list[Result]:
    from tracing_middleware import tracer

    otlp = f"otlp+http://127.0.0.1:{port}"
    ours = peers.os_tracing(otlp, sampled=True)
    otel = peers.otel_tracer(f"http://127.0.0.1:{port}/v1/traces")
    agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agent.bind(("127.0.0.1", 0))
    jaeger = peers.jaeger_tracer(agent.getsockname()[1])
    osprofiler_traced = peers.osprofiler_trace(port)

    def osprofiler_op() -> Any:
        from osprofiler import profiler

        profiler.clean()
        profiler.init(peers.OSPROFILER_KEY)
        return osprofiler_traced

    ops, rounds = (1000, 3) if quick else (20000, 15)
    variants = [
        Variant("os-tracing", lambda: lambda: ours.start_span("op", parent=None).finish()),
        Variant("otel-sdk", lambda: lambda: otel.start_span("op").end()),
        Variant("jaeger-client", lambda: lambda: jaeger.start_span("op").finish()),
        Variant("osprofiler @trace", osprofiler_op),
    ]
    try:
        return measure("span start+finish+export", variants, ops, rounds)
    finally:
        tracer.reset()
        jaeger.close()
        agent.close()


def case_rpc(port: int, quick: bool) -> list[Result]:
    import threading

    import oslo_messaging
    from oslo_config import cfg

    from tracing_middleware import tracer

    results: list[Result] = []
    urls = ["fake://"]
    if not quick:  # --quick stays under a minute: the in-process bus only
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5672), 1):
            urls.append("rabbit://guest:guest@127.0.0.1:5672/")
    for base_url in urls:
        for kind in ("call", "cast"):
            variants = []
            for label, url, sampled in (("plain driver", base_url, None),
                                        ("traced+ unsampled", "traced+" + base_url, False),
                                        ("traced+ sampled", "traced+" + base_url, True)):
                variants.append(_rpc_variant(label, url, sampled, kind, port,
                                             oslo_messaging, cfg, threading))
            ops = (50 if quick else 300) if "rabbit" in base_url else (50 if quick else 2000)
            results += measure(f"rpc {kind} ({base_url.split(':')[0]})", variants, ops,
                               1 if quick else 9, warmup=0 if quick else 1)
    tracer.reset()
    return results


def _rpc_variant(label: str, url: str, sampled: bool | None, kind: str, port: int,
                 oslo_messaging: Any, cfg: Any, threading: Any) -> Variant:
    state: dict[str, Any] = {}

    class Endpoint:
        def __init__(self) -> None:
            self.done = threading.Semaphore(0)

        def ping(self, ctxt: dict, n: int) -> int:
            self.done.release()
            return n

    def setup() -> Any:
        conf = cfg.ConfigOpts()
        conf([], project="bench")
        from tracing_middleware import opts

        opts.register_opts(conf)
        from messaging_driver.compat import register_oslo_messaging_opts

        register_oslo_messaging_opts(conf)
        conf.set_override("exporters", [f"otlp+http://127.0.0.1:{port}"], group="tracing")
        conf.set_override("sampler", "always_on" if sampled else "always_off",
                          group="tracing")
        conf.set_override("integrations", [], group="tracing")
        transport = oslo_messaging.get_rpc_transport(conf, url)
        topic = f"bench-{time.monotonic_ns()}"
        endpoint = Endpoint()
        server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic=topic, server="s"), [endpoint],
            executor="threading")
        server.start()
        client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=topic),
                                               timeout=30)
        scope = None
        if sampled is not None:
            tracing = peers.os_tracing(f"otlp+http://127.0.0.1:{port}", sampled=sampled)
            scope = tracing.activate(tracing.start_span("bench root", parent=None),
                                     finish_on_close=True)
        state.update(transport=transport, server=server, scope=scope)

        def op() -> None:
            if kind == "call":
                client.call({}, "ping", n=1)
            else:
                client.cast({}, "ping", n=1)
                endpoint.done.acquire(timeout=30)
        return op

    def teardown() -> None:
        if state.get("scope") is not None:
            state["scope"].close()
        state["server"].stop()
        state["server"].wait()
        state["transport"].cleanup()

    return Variant(label, setup, teardown)


def case_memory(port: int, quick: bool) -> list[Result]:
    """Bytes per queued span (collector down, nothing leaves) and peak RSS for 100k spans."""
    code = r"""
import json, resource, sys, tracemalloc
which, count, dead = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if which == "os-tracing":
    from bench import peers
    t = peers.os_tracing(f"otlp+http://127.0.0.1:{dead}", True, max_queue_size=str(count),
                         export_interval_ms="3600000")
    make = lambda: t.start_span("op", parent=None, tags={"k": "v"}).finish()
else:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    p = TracerProvider()
    p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=f"http://127.0.0.1:{dead}/v1/traces"), max_queue_size=count,
        schedule_delay_millis=3600000, max_export_batch_size=count))
    tr = p.get_tracer("b")
    make = lambda: tr.start_span("op", attributes={"k": "v"}).end()
for _ in range(100): make()
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
for _ in range(count): make()
after = tracemalloc.get_traced_memory()[0]
print(json.dumps({"per_span": (after - before) / count,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    results = []
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for which in ("os-tracing", "otel-sdk"):
        for count, unit in ((1000 if quick else 20000, "bytes/span"),):
            out = subprocess.run([sys.executable, "-c", code, which, str(count), str(dead_port)],
                                 capture_output=True, text=True, cwd=root, timeout=600)
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                continue
            data = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(Result("memory per queued span", which, unit, data["per_span"],
                                  data["per_span"], data["per_span"], 1, count))
            results.append(Result("peak RSS, collector down", which, "KiB", data["rss_kb"],
                                  data["rss_kb"], data["rss_kb"], 1, count))
    return results


def case_http(port: int, quick: bool) -> list[Result]:
    """Throughput over real HTTP with wrk (Debian package ``wrk``)."""
    from bench import throughput

    return throughput.run(port, quick)


def print_table(results: list[Result]) -> None:
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case, []).append(r)
    for case, rows in by_case.items():
        base = next((r for r in rows if r.variant in ("untraced", "plain driver")), None)
        ours = next((r for r in rows if r.variant.startswith("os-tracing")), None)
        print(f"\n{case}")
        print(f"  {'variant':28} {'median':>12} {'spread':>10} {'x baseline':>11} "
              f"{'x os-tracing':>13}")
        for r in rows:
            ratio = f"{r.median / base.median:.2f}" if base and base.median else "-"
            vs = f"{r.median / ours.median:.2f}" if ours and ours.median else "-"
            print(f"  {r.variant:28} {r.median:10.2f} {r.unit:>2}"
                  f" {r.spread:9.2f} {ratio:>11} {vs:>13}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--output", help="write all results as JSON here")
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated subset of {','.join(CASES)}")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    results: list[Result] = []
    started = time.time()
    with sink() as port:
        for case in cases:
            results += globals()[f"case_{case}"](port, args.quick)
    print(f"os-tracing benchmarks, {platform.python_implementation()} "
          f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d')}, {time.time() - started:.0f} s"
          + (" (quick)" if args.quick else ""))
    print_table(results)
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "quick": args.quick,
                       "python": platform.python_version(), "cpus": os.cpu_count(),
                       "results": [r.to_json() for r in results]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
