"""The local collector: answers OTLP/HTTP POSTs with 200 and drains a UDP port (Jaeger
agent's ``emitBatch``), run as a separate process so its CPU is not charged to the variant
being measured.

Prints the HTTP port, then the UDP port, one per line. HTTP/1.1 with keep-alive, like a
real collector: an HTTP/1.0 sink would charge every exporter a TCP connect per batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

__all__ = ["Sink", "running"]


@dataclasses.dataclass(frozen=True)
class Sink:
    """Where every tracer under test exports: one collector for all, so all pay alike."""

    http_port: int
    udp_port: int

    @property
    def otlp(self) -> str:
        """os-tracing's ``[tracing] exporters`` URL."""
        return f"otlp+http://127.0.0.1:{self.http_port}"

    @property
    def traces_url(self) -> str:
        """The OTLP/HTTP endpoint, as the SDK's exporter takes it."""
        return f"http://127.0.0.1:{self.http_port}/v1/traces"

    @property
    def jaeger_udp(self) -> str:
        return f"jaeger+udp://127.0.0.1:{self.udp_port}"


@contextlib.contextmanager
def running() -> Iterator[Sink]:
    """Start the collector in a child process; stop it on exit."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.receiver"],
                            stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        assert proc.stdout is not None
        yield Sink(int(proc.stdout.readline()), int(proc.stdout.readline()))
    finally:
        proc.terminate()
        proc.wait(10)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _drain(sock: socket.socket) -> None:
    while True:
        sock.recv(65536)


def main() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(("127.0.0.1", 0))
    threading.Thread(target=_drain, args=(udp,), daemon=True).start()
    print(server.server_address[1], flush=True)
    print(udp.getsockname()[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
