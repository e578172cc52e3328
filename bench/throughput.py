"""Case 2: requests per second and latency percentiles over real HTTP, measured by wrk."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from bench.harness import Result

_VARIANTS = ("untraced", "os-tracing unsampled", "os-tracing 100%")


def _serve(variant: str, sink_port: int) -> tuple[subprocess.Popen[str], int]:
    code = f"""
import sys, socketserver, wsgiref.simple_server
from bench import apps, peers
variant = {variant!r}
app = apps.json_app
sink = "otlp+http://127.0.0.1:{sink_port}"
if variant == "os-tracing unsampled":
    app = peers.os_tracing_filter(app, sink, sampled=False)
elif variant == "os-tracing 100%":
    app = peers.os_tracing_filter(app, sink, sampled=True)
class H(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True
srv = wsgiref.simple_server.make_server("127.0.0.1", 0, app, server_class=S, handler_class=H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=root)
    port = int(proc.stdout.readline())  # type: ignore[union-attr]
    return proc, port


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run(sink_port: int, quick: bool) -> list[Result]:
    wrk = shutil.which("wrk")
    if wrk is None:
        print("throughput case skipped: wrk is not installed "
              "(Debian/Ubuntu: sudo apt-get install -y wrk)", file=sys.stderr)
        return []
    duration = "3s" if quick else "10s"
    results = []
    for variant in _VARIANTS:
        proc, port = _serve(variant, sink_port)
        try:
            out = subprocess.run([wrk, "-t2", "-c16", f"-d{duration}", "--latency",
                                  f"http://127.0.0.1:{port}/v2.1/servers/detail"],
                                 capture_output=True, text=True, timeout=120).stdout
        finally:
            proc.terminate()
            proc.wait(10)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        p50 = re.search(r"50%\s+(\S+)", out)
        p99 = re.search(r"99%\s+(\S+)", out)
        if not rps:
            continue
        value = float(rps.group(1))
        results.append(Result("http throughput (threaded wsgiref, json app)", variant,
                              "req/s", value, value, value, 1, 0))
        for name, match in (("p50", p50), ("p99", p99)):
            if match:
                ms = _ms(match.group(1))
                results.append(Result(f"http latency {name}", variant, "ms", ms, ms, ms, 1, 0))
    return results
