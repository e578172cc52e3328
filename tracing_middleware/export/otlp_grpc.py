"""OTLP/gRPC sender for the native engine (``os-tracing[grpc]``).

The request bytes are the same ``ExportTraceServiceRequest`` the HTTP sender posts, so
the call is made with identity serialisers on a generic channel method: no generated
stubs and no second encoding.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tracing_middleware.config import otlp_env, parse_key_values

__all__ = ["OTLPGrpcSender"]

LOG = logging.getLogger(__name__)

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _identity(value: bytes) -> bytes:
    return value


class OTLPGrpcSender:
    def __init__(self, target: str, timeout_s: float,
                 environ: Mapping[str, str] | None = None, method: str = METHOD) -> None:
        try:
            import grpc
        except ImportError as exc:
            raise ValueError("[tracing] exporters = otlp+grpc://... needs grpcio: "
                             "pip install 'os-tracing[grpc]'") from exc
        self._grpc: Any = grpc
        # Plain gRPC, as the SDK engine's exporter is configured: collectors usually
        # listen on loopback or inside the cluster network.
        self._channel = grpc.insecure_channel(target)
        self._call = self._channel.unary_unary(method, request_serializer=_identity,
                                               response_deserializer=_identity)
        self._metadata = tuple((k.lower(), v) for k, v in
                               parse_key_values(otlp_env("HEADERS", environ)).items())
        self._compression = (grpc.Compression.Gzip
                             if otlp_env("COMPRESSION", environ).lower() == "gzip" else None)
        self._timeout = timeout_s
        self._target = target

    def send(self, body: bytes) -> bool:
        grpc = self._grpc
        try:
            self._call(body, timeout=self._timeout, metadata=self._metadata or None,
                       compression=self._compression)
            return True
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            LOG.debug("os-tracing: OTLP/gRPC export to %s failed: %s", self._target, code)
            retryable = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                         grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED,
                         grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN}
            return code not in retryable

    def close(self) -> None:
        self._channel.close()
