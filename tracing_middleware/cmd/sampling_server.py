"""``os-tracing sampling serve``: Jaeger's ``GET /sampling?service=`` from a strategies file.

A small cloud gets central per-service and per-operation policy without running Jaeger or
a collector. Answers use the encoding every client we know accepts: camelCase fields and
``strategyType`` as the enum *name* (jaeger-client Python compares with
``"PROBABILISTIC"``/``"RATE_LIMITING"``; OpenTelemetry JS compares with
``StrategyType.PROBABILISTIC == "PROBABILISTIC"``; OTel Java/Go and our own sampler accept
it too). Numbers or an omitted ``strategyType`` would break the first two.

The file is checked on each request (a ``stat``) and re-read when it changed; every
service's answer is computed and validated at load, so a request is a dictionary lookup.
A file that fails to load keeps the last good answers, logged once per change of state.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import threading
import urllib.parse
from typing import Any

from tracing_middleware.sampling.strategies import build_responses, read_strategies_file

__all__ = ["SamplingServer"]

LOG = logging.getLogger(__name__)

_PATHS = ("/sampling", "/")  # "/" is jaeger-agent's legacy alias


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class SamplingServer:
    """Serve a Jaeger strategies file; ``start()`` in a thread or ``serve_forever()``."""

    def __init__(self, strategies_path: str, host: str = "127.0.0.1", port: int = 5778
                 ) -> None:
        self.path = strategies_path
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._bad_signature: tuple[int, int, int] | None = None
        self._answers: tuple[dict[str, Any], dict[str, dict[str, Any]]] | None = None
        self._failing = False
        self._reload(initial=True)  # a missing or broken file fails the command at start
        handler = self._handler_class()
        server_class = _HTTPServer6 if ":" in host else _HTTPServer
        self._http = server_class((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        raw = self._http.server_address[0]
        host = raw.decode() if isinstance(raw, bytes) else str(raw)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/sampling"

    def _reload(self, initial: bool = False) -> None:
        with self._lock:
            try:
                st = os.stat(self.path)
                key = (st.st_mtime_ns, st.st_size, st.st_ino)
                if key in (self._signature, self._bad_signature):
                    return  # unchanged (good or bad): no need to read it again
                self._bad_signature = key  # until it proves good
                signature, strategies = read_strategies_file(self.path)
                answers = build_responses(strategies)
            except (OSError, ValueError, RecursionError) as exc:
                if initial:
                    raise ValueError(f"strategies file {self.path}: {exc}") from exc
                if not self._failing:
                    self._failing = True
                    LOG.warning("os-tracing: strategies file %s unusable (%s); serving the "
                                "last good policy", self.path, exc)
                return
            self._signature, self._answers = signature, answers
            self._bad_signature = None
            if self._failing:
                self._failing = False
                LOG.info("os-tracing: strategies file %s usable again", self.path)
            elif not initial:
                LOG.info("os-tracing: reloaded strategies file %s", self.path)

    def answer(self, raw_path: str) -> tuple[int, Any]:
        """``(status, body)`` for a request path; a JSON object for 200, text otherwise."""
        parsed = urllib.parse.urlsplit(raw_path)
        if parsed.path not in _PATHS:
            return 404, "not found; use /sampling?service=NAME\n"
        services = urllib.parse.parse_qs(parsed.query).get("service") or []
        if len(services) != 1 or not services[0]:
            return 400, "'service' parameter must be provided once\n"
        self._reload()
        assert self._answers is not None
        default, per_service = self._answers
        return 200, per_service.get(services[0], default)

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            server_version = "os-tracing-sampling"

            def log_message(self, format: str, *args: Any) -> None:
                LOG.debug("os-tracing sampling serve: " + format, *args)

            def do_GET(self) -> None:
                status, body = server.answer(self.path)
                if status == 200:
                    data, kind = json.dumps(body).encode(), "application/json"
                else:
                    data, kind = str(body).encode(), "text/plain; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def start(self) -> SamplingServer:
        """Serve from a daemon thread (tests, the demo); returns ``self``."""
        self._thread = threading.Thread(target=self._http.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="os-tracing-sampling-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._http.serve_forever()

    def shutdown(self) -> None:
        """Stop serving and close the socket; idempotent."""
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join(5)
            self._thread = None
        self._http.server_close()
