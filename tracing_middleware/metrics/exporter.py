"""The metrics exporter: every interval, collect the recorder and hand the points to each
sink (an OTLP collector, the embedded store) on a daemon thread of its own.

A request never waits for it: the recorder is all the request threads touch. A sink that
fails keeps what it could not send within a bound (a cumulative collector needs only the
latest snapshot, since it carries every count so far; a delta one keeps the last
``max_pending`` intervals and counts the older ones it drops), so a collector that is down
or black-holed costs memory that does not grow, and a log line. ``flush()`` runs one
collection at once: at exit and on SIGTERM (through the process lifecycle) so the last
interval is not lost, and in a forked child ``after_fork()`` starts a new stream, since
the parent's counts are the parent's.
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

__all__ = ["MetricsExporter", "OTLPSink", "Source", "StoreSink", "resource_for"]

LOG = logging.getLogger(__name__)


class Source(Protocol):
    """What the exporter collects from: the recorder."""

    def collect(self, delta: bool) -> list[SeriesPoint]: ...


def resource_for(service: str, environ: Mapping[str, str] | None = None
                 ) -> dict[str, Any]:
    """The resource of this process's stream: a new ``service.instance.id`` per process,
    so the workers of one uwsgi or gunicorn server are distinct streams (OpenTelemetry
    requires one writer per stream)."""
    return {"service.name": service, "service.instance.id": str(uuid.uuid4()),
            "process.pid": os.getpid(), "host.name": socket.gethostname(),
            "telemetry.sdk.name": "os-tracing"}


class OTLPSink:
    """Posts each collection to a collector; keeps what failed, within a bound."""

    def __init__(self, sender: Any, cumulative: bool, max_pending: int = 10) -> None:
        self.sender = sender
        self.cumulative = cumulative
        self.max_pending = max_pending
        self._pending: list[bytes] = []
        #: Intervals given up on (delta only): sent never, logged once.
        self.dropped = 0

    def send(self, points: Sequence[SeriesPoint], resource: Mapping[str, Any]) -> None:
        body = otlp.encode(points, resource, self.cumulative)
        if self.cumulative:
            self._pending = [body]  # the newest snapshot holds every count so far
        else:
            self._pending.append(body)
            if len(self._pending) > self.max_pending:
                self.dropped += len(self._pending) - self.max_pending
                del self._pending[:-self.max_pending]
                log_once(LOG, "os-tracing: the metrics collector has not taken the last "
                         "%d intervals; older ones are dropped", self.max_pending,
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

    def __init__(self, store: MetricStore) -> None:
        self.store = store
        self.instance = f"{socket.gethostname()}:{os.getpid()}"

    def send(self, points: Sequence[SeriesPoint], resource: Mapping[str, Any]) -> None:
        try:
            self.store.write(points, str(resource.get("service.instance.id", self.instance)))
        except StoreError as exc:
            log_once(LOG, "os-tracing: metrics not stored: %s", exc,
                     key=f"metrics-store:{self.store.path}")

    pending = 0

    def close(self) -> None:
        return None


class MetricsExporter:
    """Collects ``source`` every ``interval_s`` into ``sinks``."""

    def __init__(self, source: Source, sinks: Sequence[Any], interval_s: float,
                 service: str, source_factory: Callable[[], Source] | None = None) -> None:
        self.source = source
        self.sinks = list(sinks)
        self.interval_s = interval_s
        self.service = service
        self.resource = resource_for(service)
        self._source_factory = source_factory
        self._lock = threading.Lock()  # one collection at a time: timer, flush, exit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_thread()

    def _start_thread(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="os-tracing-metrics",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.interval_s):
            self.flush()

    def flush(self) -> None:
        """One collection into every sink, now. Never raises."""
        with self._lock:
            try:
                cumulative = delta = None
                for sink in self.sinks:
                    if sink.cumulative:
                        if cumulative is None:
                            cumulative = self.source.collect(False)
                        points = cumulative
                    else:
                        if delta is None:
                            delta = self.source.collect(True)
                        points = delta
                    try:
                        sink.send(points, self.resource)
                    except Exception:
                        LOG.debug("os-tracing: a metrics sink failed", exc_info=True)
            except Exception:
                LOG.debug("os-tracing: collecting metrics failed", exc_info=True)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop the timer and send the last interval (bounded by the senders' timeouts)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(min(timeout_s, 1.0))
        deadline = time.monotonic() + timeout_s
        self.flush()
        for sink in self.sinks:
            if time.monotonic() > deadline:
                break
            try:
                sink.close()
            except Exception:
                LOG.debug("os-tracing: closing a metrics sink failed", exc_info=True)

    def after_fork(self) -> None:
        """In a forked child: a new stream (new instance id, fresh counts) and a new
        thread, since the parent's thread does not exist here."""
        self._lock = threading.Lock()
        if self._source_factory is not None:
            self.source = self._source_factory()
        self.resource = resource_for(self.service)
        self._start_thread()
