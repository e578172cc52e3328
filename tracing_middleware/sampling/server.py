"""``os-tracing sampling serve``: Jaeger's ``/sampling?service=`` from a strategies file.

A small cloud gets central, per-service and per-operation policy without running Jaeger
or a collector. The file is re-read when its modification time changes; a file that
fails to parse keeps the last good content (and the error is logged once).
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import threading
import urllib.parse
from typing import Any

from tracing_middleware.sampling.strategies import response_for_service

__all__ = ["SamplingServer"]

LOG = logging.getLogger(__name__)


class SamplingServer:
    def __init__(self, strategies_path: str, host: str = "127.0.0.1", port: int = 5778
                 ) -> None:
        self.path = strategies_path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._strategies: Any = None
        self._load()  # fail fast at start on a missing or broken file
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                status, body = server.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._http = http.server.ThreadingHTTPServer((host, port), Handler)
        self._http.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}/sampling"

    def _load(self) -> Any:
        mtime = os.stat(self.path).st_mtime
        with self._lock:
            if mtime == self._mtime and self._strategies is not None:
                return self._strategies
            with open(self.path) as f:
                strategies = json.load(f)
            response_for_service(strategies, "validate")  # shape check before use
            self._strategies, self._mtime = strategies, mtime
            return strategies

    def answer(self, raw_path: str) -> tuple[int, Any]:
        parsed = urllib.parse.urlsplit(raw_path)
        if parsed.path not in ("/", "/sampling", "/api/sampling"):
            return 404, {"error": "not found"}
        service = (urllib.parse.parse_qs(parsed.query).get("service") or [""])[0]
        if not service:
            return 400, {"error": "missing service parameter"}
        try:
            strategies = self._load()
        except (OSError, ValueError) as exc:
            LOG.warning("os-tracing: %s unusable (%s); serving the last good policy",
                        self.path, exc)
            strategies = self._strategies
        return 200, response_for_service(strategies, service)

    def start(self) -> SamplingServer:
        self._thread = threading.Thread(target=self._http.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._http.serve_forever()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(5)
