"""The app served over real HTTP (case 2): the same WSGI callable for every server.

``from_env()`` is the app factory (``gunicorn 'bench.served:from_env()'``; each worker
builds its own, after the fork, as a service's workers do): ``BENCH_VARIANT`` picks one
of :data:`VARIANTS`, ``BENCH_SINK`` is the ``[tracing] exporters`` URL. ``python -m
bench.served`` serves it from a threaded wsgiref server instead.

Either way the app is wrapped in a tiny one that answers ``GET /__bench_stats`` (never
traced) with this process's figures, after a flush, so that the export of the tail of a
run is charged to it too: CPU seconds, the exporter threads' CPU seconds, drops.
"""

from __future__ import annotations

import json
import os
import socketserver
import sys
import time
import wsgiref.simple_server
from typing import Any

from bench import apps

__all__ = ["STATS_PATH", "VARIANTS", "from_env", "make_app", "stats"]

#: variant -> sampled (``None``: no tracing at all)
VARIANTS: dict[str, bool | None] = {
    "untraced": None,
    "os-tracing unsampled": False,
    "os-tracing 100%": True,
}
STATS_PATH = "/__bench_stats"


def stats() -> dict[str, Any]:
    """This process's CPU so far and what its exporters spent of it.

    ``export_cpu_s`` sums ``BatchProcessor.export_cpu_s`` over the engine's processors
    (each is a ``BatchProcessor`` or an SDK processor holding one as ``.batch``);
    ``None`` where the engine does not count it.
    """
    figures: dict[str, Any] = {"pid": os.getpid(), "export_cpu_s": None, "dropped": None}
    tracer = sys.modules.get("tracing_middleware.tracer")
    tracing = tracer.get_tracing() if tracer is not None else None
    if tracing is not None:
        tracing.force_flush(10.0)
        batches = [getattr(p, "batch", p) for p in getattr(tracing.plugin, "processors", ())]
        spent = [getattr(b, "export_cpu_s", None) for b in batches]
        if batches and all(isinstance(s, (int, float)) for s in spent):
            figures["export_cpu_s"] = float(sum(spent))  # type: ignore[arg-type]
        figures["dropped"] = sum(int(getattr(b, "dropped", 0) or 0) for b in batches)
    figures["cpu_s"] = time.process_time()
    return figures


def make_app(variant: str, sink: str) -> Any:
    sampled = VARIANTS[variant]
    app = apps.json_app
    if sampled is not None:
        from bench import peers

        app = peers.os_tracing_filter(app, sink, sampled=sampled)

    def served(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != STATS_PATH:
            return app(environ, start_response)
        body = json.dumps(stats()).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return served


def from_env() -> Any:
    return make_app(os.environ.get("BENCH_VARIANT", "untraced"),
                    os.environ.get("BENCH_SINK", "console://"))


class _Handler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class _ThreadingServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    """A thread per connection. wsgiref speaks HTTP/1.0 and closes every connection, so
    each request is a new TCP connection (wrk reconnects); the backlog must hold wrk's
    connections, or SYNs are dropped and retransmitted a second later, which shows up as
    a p99 of about 1 s (the default backlog is 5)."""

    daemon_threads = True
    request_queue_size = 1024


def main() -> None:
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, from_env(),
                                               server_class=_ThreadingServer,
                                               handler_class=_Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
