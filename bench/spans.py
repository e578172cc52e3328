"""Case 4: µs of CPU per span, without and with its export.

Both cases build the same variants, each with its export pipeline (batch processor and
exporter to the local collector) in place; they differ in what the timed window holds:

``span start+finish``
    Queues, batches and timers are set so that nothing is exported inside the window;
    each round's spans are flushed after the timing. What is left is the cost on the
    caller's thread plus any hand-off a tracer does on a thread of its own.
``span start+finish+export``
    Default settings (a round of 1000 spans fits the default queues of 2048; only
    jaeger-client's queue of 100 is raised); each round ends with a flush *inside* the
    window, so every span's encoding and sending is charged to the variant that made it.
    The collector is another process: its CPU is not charged.

Every variant exports to the same local collector: OTLP/HTTP, except the jaeger engine
and jaeger-client, which send Thrift ``emitBatch`` datagrams to its UDP port (the only
network export either has). A round whose spans were dropped would look cheaper; every
variant counts drops after each round and the report names any.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from bench import peers
from bench.emit import emit_rows
from bench.harness import Result, Variant, measure, note
from bench.receiver import Sink

__all__ = ["case_span"]

#: Larger than anything a run queues: "never export by size" for os-tracing and the SDK.
_HUGE = 1_000_000
#: An export interval (ms) no run reaches: "never export by time".
_NEVER_MS = 3_600_000
#: osprofiler's OTLP driver hard-codes the SDK's BatchSpanProcessor defaults (batch 512,
#: queue 2048, 5 s delay) and offers no option to change them, so a start+finish round
#: stays below one batch (no export by size inside it), and an export round below one
#: queue (no drops; every queue is empty when a round starts).
_START_FINISH_OPS = 500
_EXPORT_OPS = 1000


def _os_tracing(name: str, sink: Sink, export: bool, ops: int,
                **extra: str) -> Variant | None:
    """os-tracing, engine as named by ``extra`` (``tracer=...``), exporting to the sink."""
    exporter = sink.jaeger_udp if extra.get("tracer") == "jaeger" else sink.otlp
    options = {} if export else {"max_queue_size": str(_HUGE),
                                 "export_batch_size": str(_HUGE),
                                 "export_interval_ms": str(_NEVER_MS)}
    try:
        engine = peers.os_tracing(exporter, sampled=True, register=False, **options,
                                  **extra)
    except Exception as exc:
        note(f"{name}: skipped, setup failed: {exc}")
        return None
    dropped = [peers.os_tracing_dropped(engine)]

    def op() -> None:
        engine.start_span("op", parent=None).finish()

    def flush() -> None:
        if not engine.force_flush(30.0):
            note(f"{name}: force_flush did not finish")

    def check() -> None:
        if not export:
            flush()
        now = peers.os_tracing_dropped(engine)
        if now > dropped[0]:
            note(f"{name}: {now - dropped[0]} spans dropped in one round")
        dropped[0] = now

    return Variant(name, lambda: op, teardown=check, finish=flush if export else None,
                   close=engine.shutdown)


def _otel_sdk(sink: Sink, export: bool, drops: peers.SdkDropCounter) -> Variant:
    """The SDK as its users set it up; in start+finish, queue, batch size and delay are
    raised to keep export out of the window."""
    bsp: dict[str, Any] = {} if export else {"max_queue_size": _HUGE,
                                             "max_export_batch_size": _HUGE,
                                             "schedule_delay_millis": _NEVER_MS}
    provider = peers.otel_provider(sink.traces_url, **bsp)
    tracer = provider.get_tracer("bench")

    def op() -> None:
        tracer.start_span("op").end()

    return _sdk_variant("otel-sdk", op, provider.force_flush, export, drops)


def _osprofiler(sink: Sink, export: bool, drops: peers.SdkDropCounter) -> Variant:
    traced: Callable[[], Any] = peers.osprofiler_trace(sink.http_port)

    def setup() -> Callable[[], Any]:
        from osprofiler import profiler

        profiler.clean()
        profiler.init(peers.OSPROFILER_KEY)
        return traced

    variant = _sdk_variant("osprofiler @trace", traced, peers.osprofiler_flush, export,
                           drops)
    variant.setup = setup
    return variant


def _sdk_variant(name: str, op: Callable[[], Any], flush: Callable[[], Any], export: bool,
                 drops: peers.SdkDropCounter) -> Variant:
    seen = [drops.count]

    def teardown() -> None:
        if not export:
            flush()
        # NOTE(bench): the SDK warns on the thread that drops, i.e. inside this variant's
        # round, so a new warning belongs to this variant.
        if drops.count > seen[0]:
            note(f"{name}: the SDK's queue overflowed (spans dropped)")
        seen[0] = drops.count

    return Variant(name, lambda: op, teardown=teardown, finish=flush if export else None)


def _settle(io_loop: Any) -> None:
    """Wait until the IOLoop ran every callback queued so far (two hops: the span's
    hand-off callback, then the queue's wake-up of the consumer)."""
    done = threading.Event()
    io_loop.add_callback(lambda: io_loop.add_callback(done.set))
    done.wait(10.0)


def _jaeger_client(sink: Sink, export: bool, ops: int) -> Variant:
    """jaeger-client hands each finished span to a tornado IOLoop thread that batches and
    sends; its only flush is ``close()``, which ends the reporter. Instead the bench counts
    what the reporter submitted (its metrics) and waits for that.

    start+finish: the batch is bigger than the run and the flush interval an hour, so
    spans pile up in the reporter unsent (never closed: the pile would not fit one UDP
    datagram); the window ends once the IOLoop has taken this round's spans, so the
    hand-off, which runs on that thread, is charged. start+finish+export: default batch
    (10 spans) and interval, the queue holds a round (rounds are multiples of 10, so no
    partial batch waits for the interval); the window ends when all were sent.
    """
    counts = peers.JaegerReporterCounts()
    reporter: dict[str, Any] = (
        {"reporter_queue_size": 4 * ops} if export else
        {"reporter_queue_size": _HUGE, "reporter_batch_size": _HUGE,
         "reporter_flush_interval": _NEVER_MS / 1000})
    tracer = peers.jaeger_tracer(sink.udp_port, counts, **reporter)
    io_loop = tracer.reporter.io_loop
    started, seen = [0], [0]

    def setup() -> Callable[[], Any]:
        started[0] += ops
        return op

    def op() -> None:
        tracer.start_span("op").finish()

    def sent() -> None:
        if not counts.wait_for(started[0]):
            note("jaeger-client: the reporter did not send a round within 30 s")

    def check() -> None:
        lost = counts.counts["dropped"] + counts.counts["err"]
        if lost > seen[0]:
            note(f"jaeger-client: {lost - seen[0]} spans dropped or failed in one round")
        seen[0] = lost

    return Variant("jaeger-client", setup, teardown=check,
                   finish=sent if export else lambda: _settle(io_loop),
                   close=tracer.close if export else None)


def _variants(sink: Sink, export: bool, ops: int,
              drops: peers.SdkDropCounter) -> list[Variant]:
    built = [
        _os_tracing("os-tracing", sink, export, ops),
        # NOTE(bench): named "opentelemetry" before the engine rework; skipped (with a
        # note) where this name is not registered yet.
        _os_tracing("os-tracing (opentelemetry-sdk engine)", sink, export, ops,
                    tracer="opentelemetry-sdk"),
        _os_tracing("os-tracing (jaeger engine)", sink, export, ops, tracer="jaeger"),
        _otel_sdk(sink, export, drops),
        _jaeger_client(sink, export, ops),
        _osprofiler(sink, export, drops),
    ]
    return [v for v in built if v is not None]


def case_span(sink: Sink, quick: bool) -> list[Result]:
    """Both span cases; see the module docstring."""
    results: list[Result] = []
    peers.flush_all()  # nothing left over from earlier cases may export in a window
    with peers.SdkDropCounter() as drops:
        variants = _variants(sink, False, _START_FINISH_OPS, drops)
        results += measure("span start+finish", variants, _START_FINISH_OPS,
                           7 if quick else 31)
        variants = _variants(sink, True, _EXPORT_OPS, drops)
        results += measure("span start+finish+export", variants, _EXPORT_OPS,
                           5 if quick else 15)
    peers.flush_all()
    results += emit_rows(quick)
    return results
