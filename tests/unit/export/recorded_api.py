"""Jaeger's and Tempo's HTTP APIs played back from recorded answers (``data/``).

Neither store runs where the tests run, so a real HTTP server on 127.0.0.1 answers the
recorded bodies at the paths the two APIs document, and keeps every request it got
(path and query), so that tests assert what the readers ask as well as what they make
of the answers. It can also misbehave: answer late, stall mid-body, or claim a size.
"""

from __future__ import annotations

import dataclasses
import http.server
import pathlib
import threading
import time
import urllib.parse

__all__ = ["DATA", "RecordedAPI", "Reply"]

DATA = pathlib.Path(__file__).parent / "data"


@dataclasses.dataclass
class Reply:
    """One answer: status and body, and how to misbehave while sending it."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    #: Seconds to wait before answering at all.
    delay_s: float = 0.0
    #: Send the first half of the body, then wait this long before the rest.
    stall_s: float = 0.0
    #: Send the body a byte at a time, this many seconds apart: each read gets data in
    #: time, the whole answer does not.
    drip_s: float = 0.0
    #: A Content-Length to claim instead of the body's; ``-1``: send none and close
    #: the connection at the end of the body, as HTTP/1.0 servers do.
    length: int | None = None


class RecordedAPI:
    """A real HTTP server on 127.0.0.1 answering recorded replies by path."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.headers: list[dict[str, str]] = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                api.requests.append((parsed.path, urllib.parse.parse_qs(parsed.query)))
                api.headers.append(dict(self.headers.items()))
                # Go's mux answers an unknown path so.
                reply = api.routes.get(parsed.path, Reply(
                    404, b"404 page not found\n", "text/plain; charset=utf-8"))
                time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    length = len(reply.body) if reply.length is None else reply.length
                    if length >= 0:
                        self.send_header("Content-Length", str(length))
                    else:
                        self.close_connection = True
                    self.end_headers()
                    if reply.drip_s:
                        for i in range(len(reply.body)):
                            self.wfile.write(reply.body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(reply.drip_s)
                        return
                    half = len(reply.body) // 2 if reply.stall_s else len(reply.body)
                    self.wfile.write(reply.body[:half])
                    self.wfile.flush()
                    time.sleep(reply.stall_s)
                    self.wfile.write(reply.body[half:])
                except OSError:  # the reader gave up first: what the test wanted
                    self.close_connection = True

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, scheme: str) -> str:
        """The store URL of this server: ``jaeger+http://127.0.0.1:PORT`` or tempo's."""
        return f"{scheme}+http://127.0.0.1:{self.port}"

    def serve(self, path: str, body: str | bytes, status: int = 200, **misbehaviour
              ) -> None:
        """Answer ``path`` with the file ``data/<body>`` (a str) or these bytes."""
        data = body if isinstance(body, bytes) else (DATA / body).read_bytes()
        self.routes[path] = Reply(status, data, **misbehaviour)

    def asked(self, path: str) -> list[dict[str, list[str]]]:
        """The query of every request made for ``path``, in order."""
        return [query for got, query in self.requests if got == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
