"""``os-tracing serve``: a small local web UI over the span store.

Server-rendered HTML from the standard library's HTTP server: no CDN, no build step, no
JavaScript framework; the trace page embeds the same self-contained waterfall as
``trace show --format html``. It binds to 127.0.0.1 by default because traces can hold
internal URLs and ids; expose it deliberately or not at all.
"""

from __future__ import annotations

import argparse
import html
import http.server
import re
import threading
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

from tracing_middleware.export.store_url import resolve_store_url

__all__ = ["UIServer", "register", "serve_forever"]

_TRACE_ID = re.compile(r"^[0-9a-f]{8,32}$")
_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #ddd;
text-align:left}tr.error td{background:#fde8e8}form{margin-bottom:1em}
input,select{margin-right:.5em}.muted{color:#777}pre{background:#f6f6f6;padding:.5em;
overflow:auto}a{color:#0b5ed7}
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="local web UI for the span store",
                                   description=__doc__)
    parser.add_argument("--store", help="span store URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=16686)
    parser.add_argument("--log-file", action="append", default=[],
                        help="log file whose lines mention trace ids (repeatable); shown on "
                        "each trace's page")
    parser.set_defaults(func=_run)


def _parse_duration_ms(text: str) -> int | None:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|us)?\s*", text or "")
    if not match:
        return None
    value = float(match.group(1))
    unit = match.group(2) or "ms"
    return int(value * {"us": 1e3, "ms": 1e6, "s": 1e9}[unit])


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1><a href='/'>os-tracing</a> · {html.escape(title)}</h1>{body}"
            "</body></html>").encode()


class UIServer:
    """The web UI; ``start()`` serves in a thread (tests), ``serve_forever()`` blocks."""

    def __init__(self, store_url: str, host: str = "127.0.0.1", port: int = 16686,
                 log_files: Sequence[str] = ()) -> None:
        from tracing_middleware.export.store import SpanStore

        self.store = SpanStore.from_url(store_url)
        self.log_files = list(log_files)
        ui = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                try:
                    status, ctype, body = ui.route(self.path)
                except Exception as exc:  # a bad row must not kill the UI
                    status, ctype, body = 500, "text/html", _page(
                        "error", f"<pre>{html.escape(repr(exc))}</pre>")
                self.send_response(status)
                self.send_header("Content-Type", ctype + "; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy",
                                 "default-src 'none'; frame-src 'self'; style-src 'unsafe-inline'; "
                                 "script-src 'unsafe-inline'; img-src data:")
                self.end_headers()
                self.wfile.write(body)

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, raw_path: str) -> tuple[int, str, bytes]:
        parsed = urllib.parse.urlsplit(raw_path)
        query = urllib.parse.parse_qs(parsed.query)
        if parsed.path in ("/", "/search"):
            return 200, "text/html", self.search_page(query)
        if parsed.path.startswith("/trace/"):
            trace_id = parsed.path[len("/trace/"):].lower()
            return self.trace_page(trace_id, embedded="raw" in query)
        if parsed.path.startswith("/api/traces/"):
            trace_id = parsed.path[len("/api/traces/"):].lower()
            trace = self.store.get_trace(trace_id) if _TRACE_ID.match(trace_id) else None
            if trace is None:
                return 404, "application/json", b'{"error": "not found"}'
            from tracing_middleware.views import FORMATS

            return 200, "application/json", FORMATS["json"](trace).encode()
        return 404, "text/html", _page("not found", "<p>No such page.</p>")

    def search_page(self, query: dict[str, list[str]]) -> bytes:
        def one(name: str) -> str:
            return (query.get(name) or [""])[0]

        since_minutes = one("since")
        since_ns = None
        if since_minutes.isdigit():
            since_ns = time.time_ns() - int(since_minutes) * 60 * 10**9
        min_duration = _parse_duration_ms(one("min_duration")) if one("min_duration") else None
        limit = int(one("limit")) if one("limit").isdigit() else 50
        summaries = self.store.find_traces(
            request_id=one("request_id").strip() or None,
            service=one("service") or None, operation=one("operation") or None,
            since_ns=since_ns, min_duration_ns=min_duration,
            errors=one("errors") == "1", limit=min(limit, 1000))
        esc = html.escape
        form = (
            "<form method='get' action='/search'>"
            f"<input name='request_id' placeholder='request id (req-...)' size='42' "
            f"value='{esc(one('request_id'))}'>"
            f"<input name='service' placeholder='service' value='{esc(one('service'))}'>"
            f"<input name='operation' placeholder='operation' value='{esc(one('operation'))}'>"
            f"<input name='min_duration' placeholder='min duration (e.g. 5ms)' "
            f"value='{esc(one('min_duration'))}'>"
            f"<input name='since' placeholder='last N minutes' value='{esc(since_minutes)}'>"
            "<label><input type='checkbox' name='errors' value='1'"
            f"{' checked' if one('errors') == '1' else ''}>errors only</label> "
            "<button type='submit'>Search</button></form>")
        rows = []
        for s in summaries:
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.start_ns / 1e9))
            rows.append(
                f"<tr class='{'error' if s.error else ''}'><td>{esc(started)}</td>"
                f"<td><a class='trace-link' href='/trace/{esc(s.trace_id)}'>"
                f"{esc(s.root_name)}</a></td><td>{esc(', '.join(sorted(s.services)))}</td>"
                f"<td>{s.span_count}</td><td>{s.duration_ns / 1e6:.2f} ms</td>"
                f"<td>{'ERROR' if s.error else ''}</td>"
                f"<td class='muted'>{esc(s.trace_id)}</td></tr>")
        table = ("<table id='traces'><tr><th>start</th><th>root operation</th>"
                 "<th>services</th><th>spans</th><th>duration</th><th></th><th>trace id</th>"
                 "</tr>" + "".join(rows) + "</table>") if rows else "<p>No traces.</p>"
        return _page("traces", form + table)

    def _log_lines(self, trace_id: str) -> list[str]:
        found: list[str] = []
        for path in self.log_files:
            try:
                with open(path, errors="replace") as f:
                    found.extend(line.rstrip("\n") for line in f if trace_id in line)
            except OSError:
                continue
            if len(found) > 500:
                break
        return found[:500]

    def trace_page(self, trace_id: str, embedded: bool = False) -> tuple[int, str, bytes]:
        from tracing_middleware.views import FORMATS

        trace = self.store.get_trace(trace_id) if _TRACE_ID.match(trace_id) else None
        if trace is None:
            return 404, "text/html", _page("not found", "<p>No such trace.</p>")
        if embedded:
            return 200, "text/html", FORMATS["html"](trace).encode()
        lines = self._log_lines(trace.trace_id)
        logs = ("<h2>Log lines</h2><pre id='logs'>" + html.escape("\n".join(lines))
                + "</pre>") if lines else ""
        body = (f"<p class='muted'>trace {html.escape(trace.trace_id)} · "
                f"{len(trace.spans)} spans · <a href='/api/traces/{trace.trace_id}'>json</a>"
                "</p><iframe id='waterfall' title='waterfall' "
                f"src='/trace/{trace.trace_id}?raw=1' style='width:100%;height:70vh;"
                "border:1px solid #ddd'></iframe>" + logs)
        return 200, "text/html", _page(trace.spans[0].name if trace.spans else "trace", body)

    def start(self) -> UIServer:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.store.close()

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self.store.close()


def serve_forever(store_url: str, host: str, port: int, log_files: Sequence[str] = ()) -> int:
    server = UIServer(store_url, host, port, log_files)
    print(f"os-tracing UI on {server.url} (store {store_url}); Ctrl-C to stop")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _run(args: argparse.Namespace) -> int:
    return serve_forever(resolve_store_url(args.store), args.host, args.port,
                         args.log_file)


