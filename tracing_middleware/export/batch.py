"""Our batch span processor: bounded, never blocking, counting and resuming.

Used instead of the OpenTelemetry SDK's ``BatchSpanProcessor`` because a guest in every
API process must (a) never log per dropped span — the SDK warns on every drop, on the
request thread — but count drops and report them at most once a minute, (b) keep a batch
that failed to export when there is room, so spans still queued survive a collector
restart, and (c) bound ``force_flush`` and ``shutdown`` by a deadline.

When the queue is full the *newest* span is dropped: the queue keeps the spans that have
waited longest, whose traces are the most likely to be complete already.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["BatchProcessor"]

LOG = logging.getLogger(__name__)

#: Drops are summarised in one WARNING per this many seconds at most.
DROP_LOG_INTERVAL_S = 60.0


class BatchProcessor:
    """Queue items on the caller's thread; export them in batches on one daemon thread.

    ``export(batch) -> bool`` runs on the worker thread only; ``False`` or an exception
    means the batch failed. Generic over the item type so both engines can share it.
    """

    def __init__(self, export: Callable[[Sequence[Any]], bool], *, name: str,
                 max_queue_size: int = 2048, max_batch_size: int = 512,
                 interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 on_shutdown: Callable[[], None] | None = None) -> None:
        if max_queue_size < 1 or max_batch_size < 1 or interval_s <= 0:
            raise ValueError("queue size, batch size and interval must be positive")
        self._export = export
        self._name = name
        self._max_queue = max_queue_size
        self._max_batch = min(max_batch_size, max_queue_size)
        self._interval = interval_s
        self._clock = clock
        self._on_shutdown = on_shutdown
        self._queue: collections.deque[Any] = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._kick = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._exporting = False
        self._shutdown = False
        self.dropped = 0
        self.exported = 0
        self.failed_batches = 0
        #: CPU seconds the worker thread spent exporting (encoding and sending): the
        #: figure that tells an operator what tracing costs beyond the request path.
        self.export_cpu_s = 0.0
        self._emits = 0
        self._dropped_reported = 0
        self._last_drop_log = -DROP_LOG_INTERVAL_S
        self._failing = False
        self._start_worker()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._after_fork)

            def after_in_child() -> None:
                method = ref()
                if method is not None:
                    method()
            os.register_at_fork(after_in_child=after_in_child)

    def _start_worker(self) -> None:
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name=f"os-tracing-{self._name}",
                                        daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        # NOTE(os-tracing): what the parent had queued is the parent's to export; a child
        # that exported it too would send every such span twice.
        self._reset_in_child()
        self._queue.clear()

    def _reset_in_child(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._kick = threading.Event()
        self._exporting = False
        if not self._shutdown:
            self._start_worker()

    def check_fork(self) -> None:
        """Restart in a child forked without Python's fork hooks (a server's C fork)."""
        if self._pid != os.getpid() and not self._shutdown:
            self._reset_in_child()

    # -- caller side (request threads): O(1), never blocks on I/O, never logs per item --

    def emit(self, item: Any) -> None:
        if self._shutdown:
            return
        # Forks that ran os.register_at_fork hooks were handled there. One that did not
        # is caught here before the first span the child queues (its queue is empty, as
        # a preforking master's is, so it is checked) and in any case within 64 spans:
        # getpid() is a system call, so it is not paid on every span of a busy process,
        # whose worker empties the queue only once per interval.
        # NOTE(os-tracing): the child cannot tell the parent's leftovers from its own
        # spans, so it keeps them all: a span the parent still had queued at the fork
        # may be exported twice, but none the child queued is ever lost. A preforking
        # master serves no request, so there is nothing left over to send twice.
        self._emits += 1
        if (not self._queue or not self._emits & 0x3F) and self._pid != os.getpid():
            self._reset_in_child()
        with self._lock:
            if len(self._queue) >= self._max_queue:
                self.dropped += 1
                return
            self._queue.append(item)
            size = len(self._queue)
        if size >= self._max_batch and not self._failing and not self._wake.is_set():
            self._wake.set()  # Event.set takes a lock: once per batch, not per span

    # -- worker thread ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._shutdown:
            # NOTE(os-tracing): while export fails, a full queue must not wake the worker
            # on every span (a busy retry loop against a dead collector); it retries once
            # per interval, or when force_flush/shutdown kick it.
            (self._kick if self._failing else self._wake).wait(self._interval)
            self._wake.clear()
            self._kick.clear()
            self._drain()
        self._drain()

    def _drain(self, deadline: float | None = None) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                batch = [self._queue.popleft()
                         for _ in range(min(self._max_batch, len(self._queue)))]
                self._exporting = True
            ok = False
            cpu = time.thread_time()
            try:
                ok = bool(self._export(batch))
            except Exception:
                LOG.debug("os-tracing: %s export raised", self._name, exc_info=True)
            self.export_cpu_s += time.thread_time() - cpu
            with self._lock:
                self._exporting = False
                if ok:
                    self.exported += len(batch)
                else:
                    self.failed_batches += 1
                    room = self._max_queue - len(self._queue)
                    keep = batch[:max(room, 0)]
                    self._queue.extendleft(reversed(keep))
                    self.dropped += len(batch) - len(keep)
                self._idle.notify_all()
            self._report(ok)
            if not ok:
                return  # retry at the next interval, not in a tight loop
            if deadline is not None and self._clock() > deadline:
                return

    def _report(self, ok: bool) -> None:
        if ok and self._failing:
            self._failing = False
            LOG.info("os-tracing: %s export recovered", self._name)
        elif not ok and not self._failing:
            self._failing = True
            LOG.warning("os-tracing: %s export failing; spans stay queued (at most %d) and "
                        "are retried", self._name, self._max_queue)
        now = self._clock()
        new_drops = self.dropped - self._dropped_reported
        if new_drops and now - self._last_drop_log >= DROP_LOG_INTERVAL_S:
            self._last_drop_log = now
            self._dropped_reported = self.dropped
            LOG.warning("os-tracing: %s dropped %d spans (queue full: collector slow or "
                        "down); %d dropped since start", self._name, new_drops, self.dropped)

    # -- lifecycle ----------------------------------------------------------------------

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        """Export everything queued now; ``False`` if it did not all leave in time."""
        if self._shutdown:
            return False
        deadline = self._clock() + timeout_s
        while True:
            with self._lock:
                if not self._queue and not self._exporting:
                    return True
            if self._clock() > deadline:
                return False
            self._wake.set()
            self._kick.set()
            with self._lock:
                self._idle.wait(min(0.05, max(0.0, deadline - self._clock())))
            with self._lock:
                if self._queue and not self._exporting and self._failing:
                    return False

    def shutdown(self, timeout_s: float = 5.0) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        self._wake.set()
        self._kick.set()
        if self._pid == os.getpid():
            self._thread.join(timeout_s)
        if self._on_shutdown is not None:
            try:
                self._on_shutdown()
            except Exception:
                LOG.debug("os-tracing: %s exporter shutdown failed", self._name, exc_info=True)

    @property
    def queued(self) -> int:
        return len(self._queue)
