"""Case 5: memory per queued span, and peak RSS growth while the collector is down.

Each variant runs in a fresh interpreter (``python -m bench.memory VARIANT COUNT PORT``),
so one variant's heap never holds another's spans. In it:

1. set up the tracer exporting to a port where nothing listens, offer a few spans (the
   first export attempt fails: the collector is down), collect garbage;
2. reset the kernel's peak-RSS mark (``/proc/self/clear_refs``), read ``VmRSS``;
3. offer COUNT spans; ``VmHWM`` minus step 2's ``VmRSS`` is the peak growth;
4. only then turn tracemalloc on (its own tables would inflate step 3's RSS), offer
   ``EXTRA`` more spans and count the bytes still allocated per span.

"Holds all" variants size the queue for COUNT + EXTRA spans, so every span is queued;
"default queue" variants keep the default bound (2048): RSS must stay flat while the
rest is dropped.
"""

from __future__ import annotations

import gc
import json
import os
import re
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench.harness import Result, note
from bench.receiver import Sink

__all__ = ["VARIANTS", "case_memory"]

_EXTRA = 2000
_WARMUP = 600

#: name -> (tracer kind, [tracing] options, queue holds every span offered)
VARIANTS: dict[str, tuple[str, dict[str, str], bool]] = {
    "os-tracing": ("os-tracing", {}, True),
    "os-tracing (opentelemetry-sdk engine)": ("os-tracing", {"tracer": "opentelemetry-sdk"},
                                              True),
    "otel-sdk": ("otel-sdk", {}, True),
    "os-tracing, default queue": ("os-tracing", {}, False),
    "otel-sdk, default queue": ("otel-sdk", {}, False),
}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _sdk_queued(provider: Any) -> int | None:
    # NOTE(bench): the SDK exposes no queue length; these are private and may move.
    processors = getattr(getattr(provider, "_active_span_processor", None),
                         "_span_processors", ())
    for processor in processors:
        queue = getattr(getattr(processor, "_batch_processor", None), "_queue", None)
        if queue is not None:
            return len(queue)
    return None


def _tracer(variant: str, count: int, port: int
            ) -> tuple[Callable[[], Any], Callable[[int], int | None]]:
    """(make one span, spans lost of so many offered) for ``variant``."""
    from bench import peers

    kind, extra, holds_all = VARIANTS[variant]
    queue = count + _EXTRA + _WARMUP
    if kind == "os-tracing":
        options = dict(extra, **({"max_queue_size": str(queue)} if holds_all else {}))
        engine = peers.os_tracing(f"otlp+http://127.0.0.1:{port}", True, register=False,
                                  **options)
        # A failed batch goes back to the queue (if there is room): only drops are lost.
        return (lambda: engine.start_span("op", parent=None, tags={"k": "v"}).finish(),
                lambda offered: peers.os_tracing_dropped(engine))
    bsp: dict[str, Any] = {"max_queue_size": queue} if holds_all else {}
    provider = peers.otel_provider(f"http://127.0.0.1:{port}/v1/traces", **bsp)
    tracer = provider.get_tracer("bench")

    def lost(offered: int) -> int | None:
        # The SDK drops a batch whose export failed: whatever is not queued is lost.
        queued = _sdk_queued(provider)
        return None if queued is None else offered - queued
    return lambda: tracer.start_span("op", attributes={"k": "v"}).end(), lost


def _worker(variant: str, count: int, port: int) -> dict[str, Any]:
    try:
        make, lost = _tracer(variant, count, port)
    except Exception as exc:
        return {"skipped": f"setup failed: {exc}"}
    for _ in range(_WARMUP):
        make()
    gc.collect()
    peak_reset = _reset_peak()
    rss0 = _status_kib("VmRSS")
    for _ in range(count):
        make()
    peak = _status_kib("VmHWM") if peak_reset else _status_kib("VmRSS")
    spans_lost = lost(count + _WARMUP)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(_EXTRA):
        make()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"rss0_kib": rss0, "peak_kib": peak, "peak_reset": peak_reset,
            "lost": spans_lost, "per_span": (after - before) / _EXTRA}


def _run_all(names: list[str], count: int, port: int) -> dict[str, dict[str, Any]]:
    """Run the workers, as many at a time as there are CPUs (memory is not timing)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pending = list(names)
    running: dict[str, subprocess.Popen[str]] = {}
    out: dict[str, dict[str, Any]] = {}
    while pending or running:
        while pending and len(running) < (os.cpu_count() or 1):
            name = pending.pop(0)
            running[name] = subprocess.Popen(
                [sys.executable, "-m", "bench.memory", name, str(count), str(port)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root)
        name, proc = next(iter(running.items()))
        stdout, stderr = proc.communicate(timeout=600)
        del running[name]
        lines = stdout.strip().splitlines()
        if proc.returncode or not lines:
            note(f"memory {name}: worker failed: {stderr.strip()[-500:]}")
            continue
        out[name] = json.loads(lines[-1])
    return out


def case_memory(sink: Sink, quick: bool) -> list[Result]:
    """Bytes per queued span and peak RSS growth for COUNT spans, collector down."""
    count = 100_000  # in --quick too: the figure asked for, and it takes only seconds
    with socket.socket() as dead:  # a port nobody listens on: the collector is down
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
    data = _run_all(list(VARIANTS), count, dead_port)
    per_span, rss, dropped = [], [], []
    for name, (_, _, holds_all) in VARIANTS.items():
        row = data.get(name)
        if row is None:
            continue
        if "skipped" in row:
            note(f"memory {name}: skipped, {row['skipped']}")
            continue
        if not row["peak_reset"]:
            note(f"memory {name}: peak RSS could not be reset; final RSS reported")
        if holds_all:
            per_span.append(Result.of("memory per queued span, collector down", name,
                                      "B/span", [row["per_span"]], _EXTRA))
        rss.append(Result.of(f"peak RSS growth, {count} spans offered, collector down",
                             name, "MiB", [(row["peak_kib"] - row["rss0_kib"]) / 1024],
                             count))
        if row["lost"] is not None:
            offered = count + _WARMUP
            dropped.append(Result.of(f"spans lost of {offered} offered (queue full or "
                                     "failed export)", name, "spans", [row["lost"]],
                                     offered))
    return per_span + rss + dropped


def main(argv: list[str]) -> int:
    variant, count, port = argv[0], int(argv[1]), int(argv[2])
    print(json.dumps(_worker(variant, count, port)), flush=True)
    # NOTE(bench): exit without the tracers' shutdown, which would retry the dead
    # collector for seconds; nothing here needs flushing.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
