"""OTLP/HTTP (protobuf) sender for the native engine: one keep-alive connection, no retries.

Retrying is the batch processor's job (it keeps a failed batch while it has room), so a
send here is one attempt bounded by ``export_timeout_ms``; it runs on the exporter
thread only. Headers, compression and a CA bundle come from OpenTelemetry's standard
environment variables (``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``, ``..._COMPRESSION``,
``..._CERTIFICATE``) so a collector behind auth works as it does for every SDK.
Header values are never logged: they usually carry credentials.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import ssl
import urllib.parse
from collections.abc import Mapping

from tracing_middleware._guard import log_once
from tracing_middleware.config import otlp_env, parse_key_values

__all__ = ["OTLPHTTPSender"]

LOG = logging.getLogger(__name__)

#: Status codes after which the same batch may succeed later (OTLP/HTTP spec, "Retryable
#: Response Codes"); any other failure status means the batch itself is refused.
RETRYABLE = frozenset({429, 502, 503, 504})


class OTLPHTTPSender:
    """POSTs encoded ``ExportTraceServiceRequest`` bodies to one OTLP/HTTP endpoint."""

    def __init__(self, url: str, timeout_s: float,
                 environ: Mapping[str, str] | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/v1/traces") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout_s
        self._headers = {"Content-Type": "application/x-protobuf",
                         "User-Agent": "os-tracing"}
        self._headers.update(parse_key_values(otlp_env("HEADERS", environ)))
        self._gzip = otlp_env("COMPRESSION", environ).lower() == "gzip"
        if self._gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._context: ssl.SSLContext | None = None
        if self._https:
            cafile = otlp_env("CERTIFICATE", environ) or None
            self._context = ssl.create_default_context(cafile=cafile)
        self._conn: http.client.HTTPConnection | None = None
        #: Spans the collector refused outright (4xx other than 429): never retried.
        self.rejected_batches = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=self._context)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port,
                                                        timeout=self._timeout)
        return self._conn

    def send(self, body: bytes) -> bool:
        """``True`` when the batch is done with (accepted, or refused for good)."""
        if self._gzip:
            body = gzip.compress(body, compresslevel=5)
        try:
            conn = self._connection()
            conn.request("POST", self._path, body, self._headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            LOG.debug("os-tracing: OTLP/HTTP send to %s:%s failed: %s", self._host,
                      self._port, exc)
            return False
        if 200 <= status < 300:
            return True
        if status in RETRYABLE or status >= 500:
            return False
        self.rejected_batches += 1
        log_once(LOG, "os-tracing: the collector at %s:%s refused a batch with HTTP %d; "
                 "such batches are dropped", self._host, self._port, status,
                 key=f"otlp-refused:{self._host}:{self._port}:{status}")
        return True

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a broken socket must not fail the exporter
                LOG.debug("os-tracing: closing the OTLP connection failed", exc_info=True)
