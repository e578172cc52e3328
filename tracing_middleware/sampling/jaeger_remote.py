"""``jaeger_remote``: policy from a Jaeger sampling endpoint, or a strategies file.

``sampler_arg`` takes OpenTelemetry Java's keys:
``endpoint=http://host:5778/sampling,pollingIntervalMs=60000,initialSamplingRate=0.001``
(``endpoint=file:///path/strategies.json`` reads Jaeger's strategies-file format and picks
up edits). One daemon thread polls; ``should_sample`` only reads the current immutable
policy. Until the first good answer the initial rate applies; after any failure the last
good policy stays, and only changes of state (ok -> failing -> ok) are logged.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.parse
import urllib.request
import weakref
from collections.abc import Mapping
from typing import Any

from tracing_middleware.sampling.base import DROP, RECORD_AND_SAMPLE, Sampler, SamplingResult
from tracing_middleware.sampling.strategies import (
    Policy,
    PolicyState,
    parse_response,
    response_for_service,
)
from tracing_middleware.spancontext import SpanContext

__all__ = ["JaegerRemoteSampler", "parse_sampler_arg"]

LOG = logging.getLogger(__name__)
_KEYS = ("endpoint", "pollingIntervalMs", "initialSamplingRate")
_MAX_BODY = 1 << 20


def parse_sampler_arg(arg: str | None) -> dict[str, str]:
    """``k=v,k=v`` -> dict; ``ValueError`` naming an unknown key or a malformed item."""
    values: dict[str, str] = {}
    for item in (arg or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"sampler_arg item {item.strip()!r} is not key=value")
        if key not in _KEYS:
            raise ValueError(f"sampler_arg key {key!r} is unknown; expected "
                             f"{', '.join(_KEYS)}")
        values[key] = value.strip()
    return values


class JaegerRemoteSampler(Sampler):
    def __init__(self, endpoint: str, service_name: str, interval_s: float = 60.0,
                 initial_rate: float = 0.001, timeout_s: float | None = None,
                 start: bool = True) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme not in ("http", "https", "file") or (
                parts.scheme != "file" and not parts.netloc):
            raise ValueError(f"endpoint {endpoint!r} must be an http(s):// or file:// URL")
        if interval_s <= 0:
            raise ValueError("pollingIntervalMs must be > 0")
        if not 0.0 <= initial_rate <= 1.0:
            raise ValueError(f"initialSamplingRate {initial_rate} is not in [0, 1]")
        self.endpoint = endpoint
        self.service_name = service_name
        self.interval_s = interval_s
        self.timeout_s = timeout_s if timeout_s is not None else min(5.0, interval_s)
        self._state = PolicyState(Policy("probabilistic", initial_rate, source="initial"))
        self._failing = False
        self._stop = threading.Event()
        self.polled = threading.Event()  # set after every poll (tests, `sampling show`)
        self._thread: threading.Thread | None = None
        self._mtime: float | None = None
        if start:
            self._start()
            ref = weakref.WeakMethod(self.after_fork)

            def child() -> None:
                method = ref()
                if method is not None:
                    method()
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=child)

    @classmethod
    def from_arg(cls, arg: str | None, service_name: str) -> JaegerRemoteSampler:
        values = parse_sampler_arg(arg)
        endpoint = values.get("endpoint", "http://localhost:5778/sampling")
        try:
            interval = float(values.get("pollingIntervalMs", "60000")) / 1000.0
            initial = float(values.get("initialSamplingRate", "0.001"))
        except ValueError as exc:
            raise ValueError(f"sampler_arg has a value that is not a number: {exc}")
        return cls(endpoint, service_name, interval, initial)

    @property
    def policy(self) -> Policy:
        return self._state.policy

    # -- polling ----------------------------------------------------------------------

    def _start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="os-tracing-sampling",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval_s)

    def _fetch(self) -> Any:
        parts = urllib.parse.urlsplit(self.endpoint)
        if parts.scheme == "file":
            path = urllib.parse.unquote(parts.path)
            mtime = os.stat(path).st_mtime
            if mtime == self._mtime and self._state.policy.source != "initial":
                return None
            with open(path, "rb") as f:
                strategies = json.loads(f.read(_MAX_BODY))
            self._mtime = mtime
            return response_for_service(strategies, self.service_name)
        query = urllib.parse.urlencode({"service": self.service_name})
        url = f"{self.endpoint}{'&' if parts.query else '?'}{query}"
        with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            return json.loads(response.read(_MAX_BODY))

    def poll_once(self) -> bool:
        """Fetch and apply the policy once; ``True`` when the answer was usable."""
        try:
            body = self._fetch()
            if body is not None:
                policy = parse_response(body, source=self.endpoint)
                if policy != self._state.policy:
                    self._state = PolicyState(policy)
            ok = True
        except Exception as exc:  # down, slow, bad JSON, wrong shape: keep the last good
            ok = False
            if not self._failing:
                self._failing = True
                LOG.warning("os-tracing: sampling policy from %s unavailable (%s); keeping "
                            "%s", self.endpoint, exc, self._state.policy.describe())
        if ok and self._failing:
            self._failing = False
            LOG.info("os-tracing: sampling policy from %s available again", self.endpoint)
        self.polled.set()
        return ok

    # -- sampling ---------------------------------------------------------------------

    def should_sample(self, parent: SpanContext | None, trace_id: int, name: str,
                      kind: str | None = None,
                      attributes: Mapping[str, Any] | None = None) -> SamplingResult:
        if parent is not None and parent.forced:
            return RECORD_AND_SAMPLE
        return RECORD_AND_SAMPLE if self._state.sample(trace_id, name) else DROP

    def get_description(self) -> str:
        return (f"JaegerRemoteSampler{{endpoint={self.endpoint}, "
                f"policy={self._state.policy.describe()}}}")

    def shutdown(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout_s + 1)

    def after_fork(self) -> None:
        # NOTE(os-tracing): threads do not survive fork(); each worker polls on its own.
        if self._thread is not None and not self._stop.is_set():
            self._start()


