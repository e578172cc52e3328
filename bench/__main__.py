"""``python -m bench [--quick] [--output FILE] [--cases wsgi,span,rpc,memory,http,store]``.

Runs every case against one local collector, prints one table per case (median and
spread over interleaved rounds, the ratio to the untraced baseline and to os-tracing) and
writes all figures as JSON. In-process cases measure CPU time, process-wide, so work a
tracer hands to its own background threads is charged to it; the collector runs in
another process and is not charged. ``--quick`` finishes in under a minute on 2 CPUs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import apps, peers, receiver
from bench.harness import NOTES, Result, Variant, measure, note
from bench.receiver import Sink

CASES = ("wsgi", "span", "rpc", "memory", "http", "store")
#: Rows every other row of a case is divided by ("x baseline").
BASELINES = ("untraced", "plain driver")
#: Units for which a ratio means nothing (a share, a count that may be 0).
NO_RATIO_UNITS = frozenset({"%", "spans"})


def _environ(extra: dict[str, str] | None = None) -> dict[str, Any]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v2.1/servers/detail",
               "SCRIPT_NAME": "", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8774", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_HOST": "127.0.0.1:8774", "wsgi.input": io.BytesIO(b"")}
    environ.update(extra or {})
    return environ


def _wsgi_op(app: Any, extra: dict[str, str] | None = None) -> Callable[[], None]:
    template = _environ(extra)

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> None:
        return None

    def op() -> None:
        body = app(dict(template), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return op


def case_wsgi(sink: Sink, quick: bool) -> list[Result]:
    """Case 1: one WSGI request through each middleware, in process.

    Each middleware exports as configured by default (batches of 512: some export
    happens inside a round, alike for all); after each round, outside the timing, every
    queue is flushed, so no round inherits another's spans and no queue (2048 by default
    for all) overflows: a round offers at most 2000 spans.
    """
    from tracing_middleware import tracer

    otlp, url, port = sink.otlp, sink.traces_url, sink.http_port
    signed = peers.osprofiler_signed_headers()
    results: list[Result] = []
    ops, rounds = (200, 3) if quick else (2000, 15)

    drops = peers.SdkDropCounter()

    def flushed(name: str) -> Callable[[], None]:
        seen = [drops.count]

        def teardown() -> None:
            peers.flush_all()
            if drops.count > seen[0]:
                note(f"wsgi {name}: the SDK's queue overflowed (spans dropped)")
            seen[0] = drops.count
        return teardown

    def variant(name: str, make: Callable[[], Any], extra: dict[str, str] | None = None
                ) -> Variant:
        """``make`` wraps the app, at each round, outside the timing."""
        return Variant(name, lambda: _wsgi_op(make(), extra), teardown=flushed(name))

    def metrics_variant(app: Any) -> Variant:
        """The unsampled row with RED metrics: the same engine, its recorder set for these
        rounds only (a second engine would change every row's bookkeeping). A small
        buffer: the counting, which a service's exporter thread does, is charged here."""
        from bench.rpc import METRICS, METRICS_BUFFER
        from tracing_middleware.metrics.recorder import Recorder

        name = "os-tracing unsampled" + METRICS
        built: list[Any] = []

        def setup() -> Callable[[], None]:
            filtered = peers.os_tracing_filter(app, otlp, sampled=False)
            filtered._tracing.metrics = Recorder(buffer_limit=METRICS_BUFFER)
            built.append(filtered._tracing)
            return _wsgi_op(filtered)

        def teardown() -> None:
            while built:
                built.pop().metrics = None
            flushed(name)()
        return Variant(name, setup, teardown=teardown)

    def variants_for(app: Any) -> list[Variant]:
        return [
            variant("untraced", lambda: app),
            variant("os-tracing unsampled",
                    lambda: peers.os_tracing_filter(app, otlp, sampled=False)),
            metrics_variant(app),
            variant("os-tracing 100%",
                    lambda: peers.os_tracing_filter(app, otlp, sampled=True)),
            variant("osprofiler unsigned", lambda: peers.osprofiler_filter(app, port)),
            variant("osprofiler signed", lambda: peers.osprofiler_filter(app, port),
                    signed),
            variant("otel-wsgi unsampled", lambda: peers.otel_filter(app, url, False)),
            variant("otel-wsgi 100%", lambda: peers.otel_filter(app, url, True)),
        ]

    with drops:
        for label, app in (("bare", apps.bare_app), ("json", apps.json_app)):
            results += measure(f"wsgi request ({label} app)", variants_for(app), ops,
                               rounds)
        calling = apps.make_calling_app(f"http://127.0.0.1:{port}/")
        variants = [
            variant("untraced", lambda: calling),
            variant("os-tracing 100%", lambda: peers.os_tracing_filter(
                calling, otlp, sampled=True, integrations="requests")),
            variant("otel-wsgi 100%", lambda: peers.otel_filter(calling, url, True)),
        ]
        results += measure("wsgi request + one outgoing requests call", variants,
                           ops // 10, rounds)
    tracer.reset()
    return results


def case_span(sink: Sink, quick: bool) -> list[Result]:
    """Case 4: µs per span started and finished, and per span exported."""
    from bench import spans

    return spans.case_span(sink, quick)


def case_rpc(sink: Sink, quick: bool) -> list[Result]:
    """Case 3: one RPC call or cast through the plain and the ``traced+`` driver."""
    from bench import rpc

    return rpc.case_rpc(sink, quick)


def case_memory(sink: Sink, quick: bool) -> list[Result]:
    """Case 5: bytes per queued span, peak RSS growth with the collector down."""
    from bench import memory

    return memory.case_memory(sink, quick)


def case_http(sink: Sink, quick: bool) -> list[Result]:
    """Case 2: throughput and latency over real HTTP with wrk."""
    from bench import throughput

    return throughput.run(sink, quick)


def case_store(sink: Sink, quick: bool) -> list[Result]:
    """Case 6: the span store at a million spans, ``trace list`` and ``trace find``."""
    from bench import store_scale

    return store_scale.case_store(quick)


def _ratio(row: Result, reference: Result | None) -> str:
    if (reference is None or reference.unit != row.unit or row.unit in NO_RATIO_UNITS
            or not reference.median):
        return "-"
    return f"{row.median / reference.median:.2f}"


def print_table(results: list[Result]) -> None:
    """One table per case; ratios only between rows of the same unit."""
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case, []).append(r)
    for case, rows in by_case.items():
        base = next((r for r in rows if r.variant in BASELINES), None)
        ours = next((r for r in rows if r.variant == "os-tracing"), None) or next(
            (r for r in rows if r.variant.startswith("os-tracing")), None)
        references = [f"{name} = {r.variant}" for name, r in
                      (("baseline", base), ("os-tracing", ours)) if r is not None]
        print(f"\n{case}" + (f"   [{', '.join(references)}]" if references else ""))
        print(f"  {'variant':40} {'median':>12} {'unit':6} {'spread':>10} "
              f"{'x baseline':>11} {'x os-tracing':>13}")
        for r in rows:
            print(f"  {r.variant:40} {r.median:12.2f} {r.unit:6} {r.spread:10.2f} "
                  f"{_ratio(r, base):>11} {_ratio(r, ours):>13}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    with receiver.running() as sink:
        try:
            for case in cases:
                results += globals()[f"case_{case}"](sink, args.quick)
        finally:
            peers.shutdown_all()  # while the collector still answers
    print(f"os-tracing benchmarks, {platform.python_implementation()} "
          f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d')}, {time.time() - started:.0f} s"
          + (" (quick)" if args.quick else ""))
    print_table(results)
    if NOTES:
        print("\nnotes:")
        for message in NOTES:
            print(f"  - {message}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "quick": args.quick,
                       "python": platform.python_version(), "cpus": os.cpu_count(),
                       "results": [r.to_json() for r in results], "notes": NOTES},
                      f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
