"""The metrics exporter: every interval, collect the recorder and hand the points to each
sink (an OTLP collector, the embedded store) on a daemon thread of its own.

A request never waits for it: the recorder is all the request threads touch. Each
interval is collected once: the deltas and, when a sink is cumulative, the recorder's
totals from the same drain, so a cumulative collector and the delta rows of the
embedded store both see every count. A sink that fails keeps
what it could not send within a bound (a cumulative collector needs only the latest
snapshot, since it carries every count so far; a delta one keeps the last ``max_pending``
intervals and counts the older ones it drops), so a collector that is down or
black-holed costs memory that does not grow, and a log line.

``shutdown()`` sends the last interval within its deadline, whatever a collector does:
local sinks (the store) first and on the calling thread, remote ones on daemon threads
that are given up on at the deadline; a send stuck on a black-holed collector never holds
up the collection. It runs at exit and on SIGTERM (through the process lifecycle). In a
forked child ``after_fork()`` starts a new stream, since the parent's counts, its
connections and what it had pending are the parent's.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from tracing_middleware._guard import log_once
from tracing_middleware.export.store import StoreError
from tracing_middleware.metrics import otlp
from tracing_middleware.metrics.points import SeriesPoint
from tracing_middleware.metrics.store import MetricStore

__all__ = ["MetricsExporter", "OTLPSink", "Sink", "Source", "StoreSink", "resource_for"]

LOG = logging.getLogger(__name__)


class Source(Protocol):
    """What the exporter collects from: the recorder."""

    def collect(self, delta: bool) -> list[SeriesPoint]: ...

    def collect_both(self) -> tuple[list[SeriesPoint], list[SeriesPoint]]: ...


class Sink(Protocol):
    """Where points go. ``cumulative`` picks the points it is handed; a ``local`` sink
    (no network) is written first and synchronously at shutdown."""

    cumulative: bool
    local: bool

    def send(self, points: Sequence[SeriesPoint], resource: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def resource_for(service: str, environ: Mapping[str, str] | None = None
                 ) -> dict[str, Any]:
    """The resource of this process's stream: a new ``service.instance.id`` per process,
    so the workers of one uwsgi or gunicorn server are distinct streams (OpenTelemetry
    requires one writer per stream)."""
    return {"service.name": service, "service.instance.id": str(uuid.uuid4()),
            "process.pid": os.getpid(), "host.name": socket.gethostname(),
            "telemetry.sdk.name": "os-tracing"}


class OTLPSink:
    """Posts each collection to a collector; keeps what failed, within a bound. Not
    thread-safe: the exporter sends to one sink from one thread at a time."""

    local = False

    def __init__(self, sender: Any, cumulative: bool, max_pending: int = 10) -> None:
        self.sender = sender
        self.cumulative = cumulative
        self.max_pending = max_pending
        self._pending: list[bytes] = []
        #: Intervals given up on (delta only): sent never, logged once.
        self.dropped = 0

    def send(self, points: Sequence[SeriesPoint], resource: Mapping[str, Any]) -> None:
        if points:  # an idle process (a preforking master) has nothing to say
            body = otlp.encode(points, resource, self.cumulative)
            if self.cumulative:
                self._pending = [body]  # the newest snapshot holds every count so far
            else:
                self._pending.append(body)
                if len(self._pending) > self.max_pending:
                    self.dropped += len(self._pending) - self.max_pending
                    del self._pending[:-self.max_pending]
                    log_once(LOG, "os-tracing: the metrics collector has not taken the "
                             "last %d intervals; older ones are dropped (%d so far)",
                             self.max_pending, self.dropped,
                             key=f"metrics-dropped:{id(self)}")
        while self._pending:
            if not self.sender.send(self._pending[0]):
                return  # the collector is down: try again next interval
            self._pending.pop(0)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        self.sender.close()


class StoreSink:
    """Writes each collection's deltas into the embedded store."""

    cumulative = False
    local = True
    pending = 0

    def __init__(self, store: MetricStore) -> None:
        self.store = store
        self.instance = f"{socket.gethostname()}:{os.getpid()}"

    def send(self, points: Sequence[SeriesPoint], resource: Mapping[str, Any]) -> None:
        try:
            self.store.write(points, str(resource.get("service.instance.id", self.instance)))
        except StoreError as exc:
            log_once(LOG, "os-tracing: metrics not stored: %s", exc,
                     key=f"metrics-store:{self.store.path}")

    def close(self) -> None:
        return None


class MetricsExporter:
    """Collects ``source`` every ``interval_s`` into ``sinks``.

    ``source_factory`` and ``sinks_factory`` give a forked child its own recorder and
    its own connections (a parent's keep-alive socket or gRPC channel is not the
    child's to use).
    """

    def __init__(self, source: Source, sinks: Sequence[Any], interval_s: float,
                 service: str, source_factory: Callable[[], Source] | None = None,
                 sinks_factory: Callable[[], Sequence[Any]] | None = None) -> None:
        self.source = source
        self.interval_s = interval_s
        self.service = service
        self._source_factory = source_factory
        self._sinks_factory = sinks_factory
        self._set_sinks(sinks)
        self._new_stream()
        self._start_thread()

    def _set_sinks(self, sinks: Sequence[Any]) -> None:
        # Local sinks first: a collector that hangs must not keep the store waiting.
        self.sinks = sorted(sinks, key=lambda s: not getattr(s, "local", False))
        self._sink_locks = [threading.Lock() for _ in self.sinks]

    def _new_stream(self) -> None:
        self.resource = resource_for(self.service)
        self._collect_lock = threading.Lock()
        self._closed = False

    def _start_thread(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="os-tracing-metrics",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.interval_s):
            self.flush()

    def _collect(self) -> tuple[list[SeriesPoint], list[SeriesPoint]]:
        """This interval's deltas and the totals so far, from one collection of the
        source, so a count reaches every sink exactly once."""
        with self._collect_lock:
            if any(sink.cumulative for sink in self.sinks):
                return self.source.collect_both()
            return self.source.collect(True), []

    def _send(self, index: int, points: Sequence[SeriesPoint],
              resource: Mapping[str, Any], deadline: float | None = None) -> None:
        lock = self._sink_locks[index]
        if deadline is None:
            lock.acquire()
        elif not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            # Still busy with an earlier send past the deadline: this one is given up,
            # so no thread waits behind a collector that never answers.
            LOG.debug("os-tracing: a metrics sink is still sending; interval not sent")
            return
        try:
            self.sinks[index].send(points, resource)
        except Exception:
            LOG.debug("os-tracing: a metrics sink failed", exc_info=True)
        finally:
            lock.release()

    def flush(self, deadline: float | None = None) -> None:
        """One collection into every sink, now. Never raises. With a ``deadline``
        (``time.monotonic()``), remote sinks are sent on daemon threads and given up on
        when it passes."""
        try:
            delta, cumulative = self._collect()
        except Exception:
            LOG.debug("os-tracing: collecting metrics failed", exc_info=True)
            return
        resource = self.resource
        waiting = []
        for index, sink in enumerate(self.sinks):
            points = cumulative if sink.cumulative else delta
            if deadline is None or getattr(sink, "local", False):
                # The store: local, bounded by its busy timeout, and what must not lose
                # the last interval.
                self._send(index, points, resource)
                continue
            thread = threading.Thread(target=self._send,
                                      args=(index, points, resource, deadline),
                                      name="os-tracing-metrics-flush", daemon=True)
            thread.start()
            waiting.append(thread)
        until = deadline if deadline is not None else 0.0
        for thread in waiting:
            thread.join(max(0.0, until - time.monotonic()))

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop the timer and send the last interval, within ``timeout_s`` whatever the
        collectors do. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.flush(time.monotonic() + timeout_s)
        for index, sink in enumerate(self.sinks):
            lock = self._sink_locks[index]
            if not lock.acquire(blocking=False):
                continue  # still sending past the deadline: left to the daemon thread
            try:
                sink.close()
            except Exception:
                LOG.debug("os-tracing: closing a metrics sink failed", exc_info=True)
            finally:
                lock.release()

    def after_fork(self) -> None:
        """In a forked child: a new stream (new instance id, fresh counts, no pending
        intervals, new connections) and a new thread, since the parent's thread does not
        exist here."""
        if self._source_factory is not None:
            self.source = self._source_factory()
        if self._sinks_factory is not None:
            try:
                self._set_sinks(self._sinks_factory())
            except Exception:
                LOG.debug("os-tracing: metrics sinks not rebuilt after fork",
                          exc_info=True)
                self._set_sinks([s for s in self.sinks if getattr(s, "local", False)])
        else:
            self._set_sinks(self.sinks)
        self._new_stream()
        self._start_thread()
