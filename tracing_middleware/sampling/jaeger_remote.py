"""``jaeger_remote``: sampling policy from a Jaeger sampling endpoint or strategies file.

``sampler_arg`` takes OpenTelemetry Java's keys:
``endpoint=http://host:5778/sampling,pollingIntervalMs=60000,initialSamplingRate=0.001``.
``endpoint=file:///path/strategies.json`` reads Jaeger's strategies-file format instead
and picks up edits (modification time, size and inode) within one polling interval.

Contract, because tracing is a guest in the service:

* one daemon thread per sampler polls ``GET {endpoint}?service={service_name}``; waits use
  ``Event.wait`` so ``shutdown()`` is immediate; nothing is fetched on the request path;
* ``should_sample`` reads one reference to an immutable :class:`PolicyState` (no lock
  beyond a token bucket's);
* until the first good answer ``initialSamplingRate`` applies; after any failure
  (refused, timeout of ``min(5 s, interval)``, non-200, bad JSON, wrong shape, out-of-range
  value) the last good policy stays, and only changes of state are logged: ok -> failing
  once at WARNING (endpoint and reason), failing -> ok once at INFO;
* after ``fork()`` the child starts its own poller (``os.register_at_fork`` through a
  weak reference, plus ``after_fork()`` for owners that call it; a pid check makes the
  two idempotent).

Only the standard library is used for HTTP (``urllib.request``), which honours the usual
``http_proxy``/``no_proxy`` environment like any other stdlib client.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from tracing_middleware.sampling.base import DROP, RECORD_AND_SAMPLE, SamplingResult
from tracing_middleware.sampling.ratio import randomness_of
from tracing_middleware.sampling.static import PolicySampler
from tracing_middleware.sampling.strategies import (
    MAX_FILE_BYTES,
    PROBABILISTIC,
    Policy,
    PolicyState,
    parse_response,
    read_strategies_file,
    response_for_service,
)
from tracing_middleware.spancontext import SpanContext

__all__ = ["DEFAULT_ENDPOINT", "JAEGER_ARG_KEYS", "JaegerRemoteSampler", "parse_sampler_arg"]

LOG = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "http://localhost:5778/sampling"
JAEGER_ARG_KEYS = ("endpoint", "pollingIntervalMs", "initialSamplingRate")
_MAX_TIMEOUT_S = 5.0


def _check_endpoint(endpoint: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme in ("http", "https") and parts.hostname:
        return parts
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path:
        return parts
    raise ValueError(f"sampler_arg endpoint={endpoint!r} must be an http://, https:// or "
                     f"file:/// URL (e.g. {DEFAULT_ENDPOINT})")


def parse_sampler_arg(arg: str | None) -> dict[str, str]:
    """OpenTelemetry Java's ``k=v,k=v`` -> dict; ``ValueError`` on an item without ``=``,
    an empty key or a repeated key (which one would win is a guess)."""
    values: dict[str, str] = {}
    for item in (arg or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"sampler_arg item {item.strip()!r} is not key=value")
        if key in values:
            raise ValueError(f"sampler_arg key {key!r} is given twice")
        values[key] = value.strip()
    return values


class JaegerRemoteSampler(PolicySampler):
    def __init__(self, endpoint: str, service_name: str, interval_s: float = 60.0,
                 initial_rate: float = 0.001, timeout_s: float | None = None,
                 start: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        self._parts = _check_endpoint(endpoint)
        if not service_name:
            raise ValueError("jaeger_remote needs a service name")
        if not (isinstance(interval_s, (int, float)) and math.isfinite(interval_s)
                and interval_s > 0):
            raise ValueError(f"polling interval {interval_s!r} must be a positive number")
        if not (isinstance(initial_rate, (int, float)) and 0.0 <= initial_rate <= 1.0):
            raise ValueError(f"initialSamplingRate {initial_rate!r} is not in [0, 1]")
        self.endpoint = endpoint
        self.service_name = service_name
        self.interval_s = float(interval_s)
        self.timeout_s = timeout_s if timeout_s is not None else min(_MAX_TIMEOUT_S,
                                                                     self.interval_s)
        self._clock = clock
        self._state = PolicyState(Policy(PROBABILISTIC, float(initial_rate)), clock)
        self._failing: bool | None = None  # None: no answer yet
        self._file_signature: tuple[int, int, int] | None = None
        self._polls = 0
        self._polled = threading.Condition()
        self.polled = threading.Event()  # set after every poll; kept for the demo command
        self._stop = threading.Event()
        self._shut_down = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        if start:
            self._start()
            if hasattr(os, "register_at_fork"):
                ref = weakref.WeakMethod(self.after_fork)

                def _in_child() -> None:
                    method = ref()
                    if method is not None:
                        method()

                os.register_at_fork(after_in_child=_in_child)

    @classmethod
    def from_options(cls, options: Mapping[str, str], service_name: str,
                     start: bool = True) -> JaegerRemoteSampler:
        """From parsed ``sampler_arg`` items; ``ValueError`` naming a bad key or value."""
        unknown = sorted(set(options) - set(JAEGER_ARG_KEYS))
        if unknown:
            raise ValueError(f"sampler_arg key {unknown[0]!r} is unknown for jaeger_remote; "
                             f"accepted keys: {', '.join(JAEGER_ARG_KEYS)}")
        endpoint = options.get("endpoint", DEFAULT_ENDPOINT)
        raw_interval = options.get("pollingIntervalMs", "60000")
        raw_rate = options.get("initialSamplingRate", "0.001")
        try:
            interval_ms = float(raw_interval)
        except ValueError:
            interval_ms = math.nan
        if not (math.isfinite(interval_ms) and interval_ms > 0):
            raise ValueError(f"sampler_arg pollingIntervalMs={raw_interval!r} is not a "
                             f"positive number of milliseconds")
        try:
            rate = float(raw_rate)
        except ValueError:
            rate = math.nan
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"sampler_arg initialSamplingRate={raw_rate!r} is not a "
                             f"number between 0 and 1")
        return cls(endpoint, service_name, interval_ms / 1000.0, rate, start=start)

    @classmethod
    def from_arg(cls, arg: str | None, service_name: str, start: bool = True
                 ) -> JaegerRemoteSampler:
        return cls.from_options(parse_sampler_arg(arg), service_name, start=start)

    @property
    def policy(self) -> Policy:
        return self._state.policy

    @property
    def failing(self) -> bool:
        return bool(self._failing)

    # -- polling ------------------------------------------------------------------------

    def _start(self) -> None:
        self._stop = threading.Event()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="os-tracing-jaeger-sampling",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            self.poll_once()
            stop.wait(self.interval_s)

    def _fetch(self) -> Any:
        """The answer as parsed JSON, or ``None`` when a strategies file is unchanged."""
        if self._parts.scheme == "file":
            path = urllib.request.url2pathname(self._parts.path)
            signature = os.stat(path)
            key = (signature.st_mtime_ns, signature.st_size, signature.st_ino)
            if key == self._file_signature:
                return None
            key, strategies = read_strategies_file(path)
            body = response_for_service(strategies, self.service_name)
            self._file_signature = key
            return body
        query = urllib.parse.urlencode({"service": self.service_name})
        url = f"{self.endpoint}{'&' if self._parts.query else '?'}{query}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            data = response.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"answer larger than {MAX_FILE_BYTES} bytes")
        return json.loads(data)

    @classmethod
    def _reason(cls, exc: Exception) -> str:
        """A short, bounded reason for the log line (the answer itself is not logged)."""
        return cls._describe_error(exc)[:200]

    @staticmethod
    def _describe_error(exc: Exception) -> str:
        if isinstance(exc, urllib.error.HTTPError):
            return f"HTTP {exc.code}"
        if isinstance(exc, urllib.error.URLError):
            exc = exc.reason if isinstance(exc.reason, Exception) else exc
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return "timed out"
        if isinstance(exc, json.JSONDecodeError):
            return f"not JSON ({exc.msg})"
        return str(exc) or type(exc).__name__

    def poll_once(self) -> bool:
        """Fetch and apply the policy once; ``True`` when the answer was usable.

        Runs on the poller thread (or once, from ``os-tracing sampling show``); never on
        the request path.
        """
        try:
            body = self._fetch()
            if body is not None:
                policy = parse_response(body, source=self.endpoint)
                if policy != self._state.policy or self._failing is None:
                    LOG.debug("os-tracing: sampling policy for %s from %s: %s",
                              self.service_name, self.endpoint, policy.describe())
                    if policy != self._state.policy:
                        self._state = PolicyState(policy, self._clock)
            ok = True
        except Exception as exc:  # down, slow, garbage: keep the last good policy
            ok = False
            if self._failing is not True:
                LOG.warning("os-tracing: sampling policy from %s unavailable: %s; keeping "
                            "%s", self.endpoint, self._reason(exc),
                            self._state.policy.describe())
        if ok and self._failing is True:
            LOG.info("os-tracing: sampling policy from %s available again: %s",
                     self.endpoint, self._state.policy.describe())
        self._failing = not ok
        with self._polled:
            self._polls += 1
            self._polled.notify_all()
        self.polled.set()
        return ok

    @property
    def polls(self) -> int:
        """How many polls finished (test and ``show`` hook)."""
        return self._polls

    def wait_for_polls(self, count: int, timeout: float) -> bool:
        """Block until ``count`` polls have finished, at most ``timeout`` seconds."""
        with self._polled:
            return self._polled.wait_for(lambda: self._polls >= count, timeout)

    # -- sampling -----------------------------------------------------------------------

    def _decide(self, parent: SpanContext | None, trace_id: int, name: str,
                kind: str | None, attributes: Mapping[str, Any] | None) -> SamplingResult:
        sampled = self._state.sample(randomness_of(parent, trace_id), name)
        return RECORD_AND_SAMPLE if sampled else DROP

    def get_description(self) -> str:
        return (f"JaegerRemoteSampler{{endpoint={self.endpoint}, "
                f"serviceName={self.service_name}, "
                f"pollingIntervalMs={round(self.interval_s * 1000)}, "
                f"sampler={self._state.policy.sampler_description()}}}")

    # -- lifecycle ------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the poller; idempotent; the last policy keeps applying."""
        self._shut_down = True
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout_s + 1.0)

    def after_fork(self) -> None:
        """Restart the poller in a forked child (threads do not survive ``fork()``)."""
        if self._shut_down or self._thread is None:
            return
        if self._pid == os.getpid() and self._thread.is_alive():
            return  # already restarted (at-fork hook and the tracer both call this)
        # NOTE(os-tracing): locks held by parent threads at fork() stay held in the child;
        # start from fresh ones, keeping the last good policy.
        self._polled = threading.Condition()
        self.polled = threading.Event()
        self._state = PolicyState(self._state.policy, self._clock)
        self._start()
