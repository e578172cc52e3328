"""Case 2: requests per second and latency percentiles over real HTTP, measured by wrk.

The same app (:mod:`bench.served`: the json app, about 100 µs of work) behind two
servers on 127.0.0.1, each in processes of its own:

* a threaded wsgiref server: one process, a thread per connection. wsgiref speaks
  HTTP/1.0 and closes each connection, so every request is a new TCP connection;
* gunicorn with two pre-forked sync workers (one request at a time per worker, the
  connection closed after it), the app built in each worker after the fork.

Each serves three variants: untraced, os-tracing unsampled and os-tracing at 100 %. All
servers are started first; then wrk runs with the same settings against every one, in
interleaved rounds (the order reversed every other round), and each figure is the median
over rounds. Besides req/s and p50/p99 latency: the servers' CPU per request (their CPU
between two stats requests divided by wrk's request count; the second stats request
flushes, so exporting the run's spans is included) and, at 100 %, the exporter threads'
share of that CPU. A real API request does far more work than 100 µs (database, policy,
Keystone), so the tracing share shown here is an upper bound.
"""

from __future__ import annotations

import dataclasses
import http.client
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from typing import Any

from bench.harness import Result, note
from bench.receiver import Sink
from bench.served import STATS_PATH, VARIANTS

__all__ = ["find_wrk", "run"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = "/v2.1/servers/detail"
#: wrk's settings, the same for every variant: 2 threads (2 CPUs), 16 connections.
WRK_ARGS = ("-t2", "-c16", "--latency", "--timeout", "5s")
GUNICORN_WORKERS = 2

_install_tried: list[bool] = []


def find_wrk() -> str | None:
    """wrk's path; installs it with apt-get (once) when running as root where apt exists."""
    found = shutil.which("wrk")
    if found or _install_tried:
        return found
    _install_tried.append(True)
    is_root = getattr(os, "geteuid", lambda: -1)() == 0
    if is_root and shutil.which("apt-get"):
        print("bench: wrk is not installed; installing it: apt-get install -y wrk",
              file=sys.stderr, flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        for command in (install, ["apt-get", "update", "-q"], install):
            done = subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=600)
            if command is install and done.returncode == 0:
                break
        else:
            print(done.stdout[-1000:] + done.stderr[-1000:], file=sys.stderr)
        found = shutil.which("wrk")
    if found is None:
        note("http case skipped: wrk is not installed. Install it and rerun: "
             "Debian/Ubuntu 'sudo apt-get install -y wrk', Fedora 'sudo dnf install wrk', "
             "macOS 'brew install wrk', or build it from https://github.com/wg/wrk")
    return found


@dataclasses.dataclass
class _Server:
    """One variant behind one server: its processes and per-round figures."""

    kind: str
    variant: str
    proc: subprocess.Popen[str]
    port: int
    workers: int
    samples: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def add(self, metric: str, value: float) -> None:
        self.samples.setdefault(metric, []).append(value)


def _env(variant: str, sink: Sink) -> dict[str, str]:
    return dict(os.environ, BENCH_VARIANT=variant, BENCH_SINK=sink.otlp,
                PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))


def _start_threaded(variant: str, sink: Sink) -> _Server:
    proc = subprocess.Popen([sys.executable, "-m", "bench.served"], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT, env=_env(variant, sink))
    assert proc.stdout is not None
    return _Server("threaded wsgiref", variant, proc, int(proc.stdout.readline()), 1)


def _start_gunicorn(variant: str, sink: Sink) -> _Server:
    """gunicorn on a socket we bind (``fd://``): the port is known, no race for it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(GUNICORN_WORKERS),
             "--worker-class", "sync", "--bind", f"fd://{listener.fileno()}",
             "--log-level", "warning", "--graceful-timeout", "5",
             "bench.served:from_env()"],
            pass_fds=(listener.fileno(),), text=True, cwd=ROOT, env=_env(variant, sink))
        port = listener.getsockname()[1]
    return _Server(f"gunicorn sync -w {GUNICORN_WORKERS}", variant, proc, port,
                   GUNICORN_WORKERS)


def _stats(server: _Server) -> dict[int, dict[str, Any]]:
    """``/__bench_stats`` from every worker process of ``server``, by pid.

    With sync workers a worker holds one connection until it has answered: all
    connections are opened first and the last one is asked first, so each is answered by
    a different worker (the accept queue is FIFO, and every worker but the last is busy
    waiting on an earlier connection). Also the readiness check: it waits for every worker.
    """
    connections = [socket.create_connection(("127.0.0.1", server.port), timeout=60)
                   for _ in range(server.workers)]
    answers: dict[int, dict[str, Any]] = {}
    try:
        for connection in reversed(connections):
            connection.sendall(f"GET {STATS_PATH} HTTP/1.0\r\nHost: bench\r\n\r\n".encode())
            data = b""
            while chunk := connection.recv(65536):
                data += chunk
            row = json.loads(data.partition(b"\r\n\r\n")[2])
            answers[row["pid"]] = row
    finally:
        for connection in connections:
            connection.close()
    return answers


def _warm_up(server: _Server, requests: int = 20) -> None:
    for _ in range(requests):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request("GET", PATH)
            connection.getresponse().read()
        finally:
            connection.close()


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _round(server: _Server, wrk: str, seconds: int) -> None:
    """One wrk run against ``server``, with stats from its workers before and after."""
    before = _stats(server)
    out = subprocess.run([wrk, *WRK_ARGS, f"-d{seconds}s",
                          f"http://127.0.0.1:{server.port}{PATH}"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    after = _stats(server)
    name = f"http {server.kind} {server.variant}"
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total:
        note(f"{name}: wrk gave no figures: {out.strip()[-300:]}")
        return
    for problem in re.finditer(r"(Socket errors|Non-2xx).*", out):
        note(f"{name}: wrk reports {problem.group(0).strip()}")
    server.add("req/s", float(rps.group(1)))
    for label in ("50", "99"):
        match = re.search(rf"^\s+{label}%\s+(\S+)", out, re.MULTILINE)
        if match:
            server.add(f"p{label}", _ms(match.group(1)))
    pids = before.keys() & after.keys()
    if len(pids) < server.workers:
        note(f"{name}: worker set changed during the run; CPU figures left out")
        return
    cpu = sum(after[p]["cpu_s"] - before[p]["cpu_s"] for p in pids)
    server.add("cpu", cpu / int(total.group(1)) * 1e6)
    dropped = sum((after[p]["dropped"] or 0) - (before[p]["dropped"] or 0) for p in pids)
    if dropped:
        note(f"{name}: the exporter queue dropped {dropped} spans")
    if VARIANTS[server.variant] and all(after[p]["export_cpu_s"] is not None for p in pids):
        export = sum(after[p]["export_cpu_s"] - (before[p]["export_cpu_s"] or 0.0)
                     for p in pids)
        server.add("share", 100.0 * export / cpu if cpu > 0 else 0.0)


def _results(servers: list[_Server]) -> list[Result]:
    metrics = (("req/s", "http req/s", "req/s"), ("p50", "http p50 latency", "ms"),
               ("p99", "http p99 latency", "ms"), ("cpu", "http server CPU per request", "us"),
               ("share", "exporter CPU share at 100% sampling", "%"))
    results = []
    for kind in dict.fromkeys(s.kind for s in servers):
        for key, title, unit in metrics:
            for server in servers:
                if server.kind == kind and server.samples.get(key):
                    results.append(Result.of(f"{title} ({kind}, json app)", server.variant,
                                             unit, server.samples[key]))
    return results


def run(sink: Sink, quick: bool) -> list[Result]:
    wrk = find_wrk()
    if wrk is None:
        return []
    starters = [_start_threaded]
    if importlib.util.find_spec("gunicorn") is not None:
        starters.append(_start_gunicorn)
    else:
        note("http: gunicorn variant skipped: gunicorn is not installed "
             "(pip install -r bench/requirements.txt)")
    servers: list[_Server] = []
    try:
        for start in starters:
            for variant in VARIANTS:
                servers.append(start(variant, sink))
        for server in servers:
            _stats(server)
            _warm_up(server)
        # Many short rounds rather than a few long ones: this VM's speed drifts by tens
        # of percent over minutes, and a median of ten interleaved 3 s rounds follows
        # that drift where one of three 10 s rounds took whatever it hit.
        rounds, seconds = (1, 3) if quick else (10, 3)
        for index in range(rounds):
            for server in servers if index % 2 == 0 else reversed(servers):
                _round(server, wrk, seconds)
    finally:
        for server in servers:
            server.proc.terminate()
        for server in servers:
            try:
                server.proc.wait(15)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()
    return _results(servers)
