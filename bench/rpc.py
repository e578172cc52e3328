"""Case 3: RPC ``call`` and ``cast`` through the plain and the ``traced+`` driver.

Measured as the CPU a message costs on its path, not process-wide: the client's send
(its thread's CPU inside ``call``/``cast``), the listener thread handing the message over
(the callback the inner driver's listener calls, which runs ``traced+``'s envelope
handling), the executor thread processing it (``_process_incoming``: dispatch, endpoint,
reply, and the receive span) and, for a sampled trace, the exporter's CPU for its spans
(flushed inside the round). The process-wide clock the other cases use is swamped here:
the fake bus's listeners poll every 50 ms and RabbitMQ's keep heartbeats, so a cast
charged with the idle CPU of its wait moved by ±30 % from round to round.

Rows: ``no active span`` is the common case in a service (tracing configured, a periodic
task or service code sending outside any trace); ``unsampled`` and ``sampled`` send from
inside an active (un)sampled request span, whose context the envelope carries.

The peer is oslo.messaging's own OpenTelemetry tracing (18.3 and later; the rows are left
out, with a note, before that): the plain driver with ``[oslo_messaging_tracing]
tracing_enabled``, sending from inside an (un)sampled OpenTelemetry request span. It
starts a span per send and per receive with the SDK and carries the context in the
request context.

``rpc cast (fake, one thread)`` runs the same path with no thread in between: the cast,
the fake listener's poll, the hand-over and the server's ``_process_incoming``, one after
the other in the measuring thread. It is not how a server runs, but it has no hand-off
between threads and no 50 ms idle polls, so it moves by a few percent where the threaded
rows move by ten, and it is the one to profile. It also has a reference row,
:mod:`bench.carrier_floor`: the least any carrier of a context inside the message adds.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from bench import carrier_floor, peers
from bench.harness import Result, Variant, measure, note
from bench.receiver import Sink

__all__ = ["MessagePathClock", "case_rpc", "one_thread_variants"]

#: (row, traced+ driver, what is active when the client sends, oslo.messaging's tracing)
VARIANTS = (("plain driver", False, None, False),
            ("traced+ no active span", True, None, False),
            ("traced+ unsampled", True, False, False),
            ("traced+ unsampled + metrics", True, False, False),
            ("traced+ sampled", True, True, False),
            ("oslo.messaging OTel unsampled", False, False, True),
            ("oslo.messaging OTel sampled", False, True, True))

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"

#: A row whose label ends so counts RED metrics on the engine of the row without it.
METRICS = " + metrics"
#: The metrics rows' buffer: small, so the counting (which the exporter's thread does
#: in a service) happens inside the rows' timing, charged to the messages. Set
#: ``BENCH_METRICS_BUFFER`` to a billion for what the request threads alone pay.
METRICS_BUFFER = int(os.environ.get("BENCH_METRICS_BUFFER", "256"))

#: Casts go out in bursts, the round waiting for each burst to be handled: a message
#: that arrives after the fake bus's 50 ms of idle polling finds every cache cold and
#: costs several times what it costs on a server that is busy, which is where the cost
#: of tracing matters. Calls wait for their reply, so they stay one at a time.
CAST_BURST = 25


class MessagePathClock:
    """Nanoseconds of CPU spent inside the windows :meth:`timed` opens, in any thread,
    plus the export CPU of the batch processors :meth:`charge_exports` was given.

    Each window's own cost (two ``thread_time_ns`` calls) is measured once and taken
    off, so the clock adds nothing to a variant with more windows.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0
        self._inflight = 0
        self._processors: list[Any] = []
        pairs = []
        for _ in range(2000):
            start = time.thread_time_ns()
            pairs.append(time.thread_time_ns() - start)
        self._overhead = int(statistics.median(pairs))

    def timed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with its CPU (in the thread that calls it) charged to the clock."""
        def window(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._inflight += 1
            start = time.thread_time_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.thread_time_ns() - start
                with self._lock:
                    self._inflight -= 1
                    self._total += max(0, elapsed - self._overhead)
        return window

    def charge_exports(self, processors: list[Any]) -> None:
        self._processors.extend(processors)

    def settle(self, timeout_s: float = 10.0) -> None:
        """Wait (without charging it) until no window is open: a worker may still be
        ending the last message's span after the endpoint let the round go on."""
        deadline = time.monotonic() + timeout_s
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.0005)

    def __call__(self) -> int:
        exported = sum(getattr(p, "export_cpu_s", 0.0) for p in self._processors)
        return self._total + int(exported * 1e9)


def case_rpc(sink: Sink, quick: bool) -> list[Result]:
    """Fake driver and, when it answers on 127.0.0.1:5672, RabbitMQ.

    The fake bus hands a message over only when its listener next polls (every 50 ms),
    so it runs in full mode, or in quick mode only (with a few operations) when RabbitMQ
    is not there.
    """
    from tracing_middleware import tracer

    urls = [] if quick else ["fake://"]
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5672), 1):
        urls.append(RABBIT)
    if not urls:
        urls.append("fake://")
    variants = VARIANTS
    if not peers.OsloMessagingTracing.available():
        note("rpc: this oslo.messaging has no tracing of its own (18.3 added it): no peer rows")
        variants = tuple(v for v in VARIANTS if not v[3])
    results: list[Result] = []
    # At most 800 casts (1,600 sampled spans) a round: the export queue holds 2,048.
    ops, rounds = (200, 3) if quick else (800, 15)
    results += measure("rpc cast (fake, one thread)", one_thread_variants(sink, variants),
                       ops, rounds)
    for base_url in urls:
        for kind in ("call", "cast"):
            clock = MessagePathClock()
            closing: list[threading.Thread] = []
            built = [_variant(label, ("traced+" if traced else "") + base_url, active, peer,
                              kind, sink, clock, closing)
                     for label, traced, active, peer in variants]
            # Casts take about a second a round: fifteen rounds, as the threaded path
            # moves by ten percent from round to round. Fake calls wait for a 50 ms poll
            # each, so they keep nine.
            if kind == "cast":
                ops, warmup, rounds = (2 * CAST_BURST, 0, 3) if quick else \
                    (20 * CAST_BURST, 1, 15)
            elif base_url == RABBIT:
                ops, warmup, rounds = (40, 1, 3) if quick else (300, 1, 9)
            else:
                ops, warmup, rounds = (5, 0, 3) if quick else (50, 1, 9)
            results += measure(f"rpc {kind} ({base_url.split(':')[0]})", built, ops,
                               rounds, warmup=warmup, clock=clock)
            for thread in closing:
                thread.join(30)
    peers.flush_all()
    tracer.reset()
    return results


def one_thread_variants(sink: Sink, variants: tuple[tuple[str, bool, bool | None, bool], ...]
                        = VARIANTS) -> list[Variant]:
    """The rows of ``rpc cast (fake, one thread)``: ``variants`` and the carrier floor.
    Nothing is built until a row's first ``setup``."""
    return [_loop_variant(label, ("traced+" if traced else "") + "fake://", active, peer,
                          sink) for label, traced, active, peer in variants] + [
        _loop_variant(carrier_floor.LABEL, "fake://", None, False, sink,
                      carrier=carrier_floor.install)]


class _Endpoint:
    def ping(self, ctxt: dict[str, Any], n: int) -> int:
        return n


def _loop_variant(label: str, url: str, active: bool | None, peer: bool, sink: Sink,
                  carrier: Callable[[Any], Callable[[list[Any]], list[Any]]] | None = None
                  ) -> Variant:
    """One cast's whole path in the calling thread (see the module docstring); the
    process-wide clock is right here, as the only other thread is the exporter's.
    ``carrier`` installs itself on a plain transport and returns its hand-over."""
    import oslo_messaging

    from messaging_driver.incoming import TracedListener
    from tracing_middleware import tracer

    state: dict[str, Any] = {}

    def build() -> None:
        conf = _conf(sink, bool(active), peer)
        _peer_in(state, sink, active, peer)
        transport = oslo_messaging.get_rpc_transport(conf, url)
        target = oslo_messaging.Target(topic=f"bench-loop-{time.monotonic_ns()}", server="s")
        server = oslo_messaging.get_rpc_server(transport, target, [_Endpoint()])
        listener = transport._listen(target, 1, None)  # never started: polled below
        traced = listener if isinstance(listener, TracedListener) else None
        poll = (traced.inner if traced else listener)._poll_style_listener.poll
        hand_over = traced.wrap if traced else \
            carrier(transport) if carrier else (lambda incoming: incoming)
        client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(
            topic=target.topic))
        process = server._process_incoming

        def op() -> None:
            client.cast({}, "ping", n=1)
            process(hand_over(poll(timeout=0)))
        state.update(transport=transport, op=op,
                     tracing=tracer.from_config(conf) if traced else None)

    def setup() -> Callable[[], None]:
        if not state:
            build()
        _metrics_on(state, label)
        _enter_request(state, active)
        return state["op"]

    def finish() -> None:
        if active:
            _flush(state)

    def close() -> None:
        if state:
            state["transport"].cleanup()

    return Variant(label, setup, teardown=functools.partial(_leave_request, state),
                   close=close, finish=finish)


def _metrics_on(state: dict[str, Any], label: str) -> None:
    """A metrics row shares its engine with the row without metrics (a second engine
    would change every row's bookkeeping): the recorder is set for its rounds only, and
    :func:`_leave_request` takes it off."""
    from tracing_middleware.metrics.recorder import Recorder

    tracing = state.get("tracing")
    if label.endswith(METRICS) and tracing is not None:
        tracing.metrics = Recorder(buffer_limit=METRICS_BUFFER)
        state["metrics"] = tracing


def _peer_in(state: dict[str, Any], sink: Sink, active: bool | None, peer: bool) -> None:
    """For a peer row: build oslo.messaging's tracing, and make it the one in use (before
    the first message: it would build its own from the options otherwise)."""
    if peer:
        state["peer"] = peers.OsloMessagingTracing(sink.traces_url, bool(active))
        state["peer"].install()


def _flush(state: dict[str, Any]) -> None:
    """Export the round's spans (charged to it), whichever tracer made them."""
    if state.get("tracing") is not None:
        state["tracing"].force_flush()
    if "peer" in state:
        state["peer"].provider.force_flush()


def _enter_request(state: dict[str, Any], active: bool | None) -> None:
    """Open the (un)sampled request span a round's sends run inside, when ``active`` asks
    for one and the variant has a tracer."""
    tracing = state.get("tracing")
    if active is None:
        return
    if "peer" in state:
        state["peer"].install()  # oslo.messaging keeps one tracer per process
        state["leave"] = state["peer"].enter_request()
    elif tracing is not None:
        state["leave"] = tracing.activate(
            tracing.start_span("bench request", parent=None, kind="server"),
            finish_on_close=True).close


def _leave_request(state: dict[str, Any]) -> None:
    leave = state.pop("leave", None)
    if leave is not None:
        leave()
    tracing = state.pop("metrics", None)
    if tracing is not None:
        tracing.metrics = None


def _conf(sink: Sink, sampled: bool, peer: bool = False) -> Any:
    from oslo_config import cfg

    from messaging_driver.compat import register_oslo_messaging_opts
    from tracing_middleware import opts

    conf = cfg.ConfigOpts()
    conf([], project="bench")
    opts.register_opts(conf)
    register_oslo_messaging_opts(conf)
    for name, value in peers.os_tracing_options(sink.otlp, sampled).items():
        conf.set_override(name, value, group="tracing")
    if peer:
        conf.set_override("tracing_enabled", True, group="oslo_messaging_tracing")
    return conf


def _variant(label: str, url: str, active: bool | None, peer: bool, kind: str, sink: Sink,
             clock: MessagePathClock, closing: list[threading.Thread]) -> Variant:
    """Server, transport and client are built (and used once) at the first round and kept
    for all, so a round measures messages, not connection set-up; the span is activated
    per round. Stopping a server takes a poll interval: ``close`` does it in ``closing``."""
    import oslo_messaging

    from tracing_middleware import tracer

    state: dict[str, Any] = {}
    done = threading.Semaphore(0)

    class Endpoint:
        def ping(self, ctxt: dict[str, Any], n: int) -> int:
            done.release()
            return n

    def build() -> None:
        conf = _conf(sink, bool(active), peer)
        _peer_in(state, sink, active, peer)
        if peer and active:
            clock.charge_exports([state["peer"].exporter])
        transport = oslo_messaging.get_rpc_transport(conf, url)
        topic = f"bench-{time.monotonic_ns()}"
        server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic=topic, server="s"), [Endpoint()])
        server._process_incoming = clock.timed(server._process_incoming)
        server.start()
        # The callback the inner driver's listener calls: traced+'s own (envelope, proxy)
        # or, for the plain driver, the server's.
        adapter = getattr(server.listener, "inner", server.listener)
        if hasattr(adapter, "on_incoming_callback"):
            adapter.on_incoming_callback = clock.timed(adapter.on_incoming_callback)
        else:
            note(f"rpc: {type(adapter).__name__} hands messages over unmeasured")
        client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=topic),
                                               timeout=30)
        # The engine the traced driver uses (same settings, so the same engine).
        tracing = tracer.from_config(conf) if url.startswith("traced+") else None
        if tracing is not None and active:
            clock.charge_exports(peers.os_tracing_processors(tracing))
        state.update(transport=transport, server=server, client=client, tracing=tracing)
        client.call({}, "ping", n=0)  # the reply queue and connections, before any timing
        done.acquire(timeout=30)

    def setup() -> Callable[[], None]:
        if not state:
            build()
        client = state["client"]
        send = clock.timed(client.call if kind == "call" else client.cast)
        _metrics_on(state, label)
        _enter_request(state, active)

        def op() -> None:
            send({}, "ping", n=1)
            if kind == "cast":
                state["pending"] = pending = state.get("pending", 0) + 1
                if pending == CAST_BURST:
                    drain()
        return op

    def drain() -> None:
        for _ in range(state.pop("pending", 0)):
            done.acquire(timeout=30)

    def finish() -> None:
        drain()
        clock.settle()
        if active:
            _flush(state)

    def stop() -> None:
        state["server"].stop()
        state["server"].wait()
        state["transport"].cleanup()

    def close() -> None:
        if state:
            closing.append(threading.Thread(target=stop, daemon=True))
            closing[-1].start()

    return Variant(label, setup, teardown=functools.partial(_leave_request, state),
                   close=close, finish=finish)
