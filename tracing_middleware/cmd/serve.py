"""``os-tracing serve``: a small local web UI over the span store.

Server-rendered HTML from the standard library's HTTP server: no CDN, no build step, no
JavaScript framework; the trace page embeds the same self-contained waterfall as
``trace show --format html``. It binds to 127.0.0.1 by default because traces can hold
internal URLs and ids; expose it deliberately or not at all.
"""

from __future__ import annotations

import argparse
import contextvars
import html
import http.server
import re
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

from tracing_middleware.cmd.deps import dependency_report
from tracing_middleware.export.store_url import resolve_store_url
from tracing_middleware.metrics import report
from tracing_middleware.metrics.store import MetricStore
from tracing_middleware.views import analysis, breakdown_html, diff_html, graph_svg, metrics_html
from tracing_middleware.views.remote_store import open_store

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
    parser.add_argument("--store", help="store URL: sqlite:///path, jaeger+http://host:16686 "
                        "or tempo+http://host:3200 (default: $OS_TRACING_STORE, else the "
                        "default store)")
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


_NAV_STYLE = """nav{display:flex;flex-wrap:wrap;align-items:center;gap:1em;
padding-bottom:.5em;border-bottom:1px solid #ddd}nav form{margin:0}nav a.here{font-weight:600}
"""

#: The path and query of the request being answered, so the header can say where the
#: reader is and what to compare (set by :meth:`UIServer.route`, one per request thread).
_REQUEST: contextvars.ContextVar[tuple[str, dict[str, list[str]]]] = contextvars.ContextVar(
    "os_tracing_ui_request", default=("", {}))


def _nav() -> str:
    """Links to each page and the compare form: on a trace's page it compares that trace
    with the one typed, on ``/diff`` it holds the two being compared."""
    path, query = _REQUEST.get()
    esc = html.escape
    a = b = ""
    if path.startswith("/trace/"):
        a = path[len("/trace/"):]
    elif path == "/diff":
        a, b = ((query.get(name) or [""])[0] for name in ("a", "b"))
    links = []
    for href, text, here in (("/", "traces", path in ("/", "/search")),
                             ("/deps", "dependencies", path == "/deps"),
                             ("/metrics", "metrics", path == "/metrics")):
        links.append(f"<a href='{href}'{' class=here' if here else ''}>{text}</a>")
    placeholder = "compare with\u2026 (trace id)" if a else "trace B"
    return ("<nav>" + "".join(links) +
            "<form id='compare' method='get' action='/diff'>"
            f"<input name='a' placeholder='trace A' size='34' value='{esc(a[:64])}'>"
            f"<input name='b' placeholder='{placeholder}' size='34' value='{esc(b[:64])}'>"
            "<button type='submit'>Compare</button></form></nav>")


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>{_STYLE}{_NAV_STYLE}</style></head><body>"
            f"{_nav()}<h1><a href='/'>os-tracing</a> · {html.escape(title)}</h1>{body}"
            "</body></html>").encode()


class UIServer:
    """The web UI; ``start()`` serves in a thread (tests), ``serve_forever()`` blocks."""

    def __init__(self, store_url: str, host: str = "127.0.0.1", port: int = 16686,
                 log_files: Sequence[str] = ()) -> None:
        self.store = open_store(store_url)
        #: RED metrics live in the embedded store only.
        self.metric_store = MetricStore.from_url(store_url) \
            if store_url.startswith("sqlite:") else None
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
        token = _REQUEST.set((parsed.path, query))
        try:
            return self._route(parsed, query)
        finally:
            _REQUEST.reset(token)

    def _route(self, parsed: urllib.parse.SplitResult, query: dict[str, list[str]]
               ) -> tuple[int, str, bytes]:
        if parsed.path == "/diff":
            return self.diff_page(query)
        if parsed.path == "/deps":
            return 200, "text/html", self.deps_page(query)
        if parsed.path == "/metrics":
            return 200, "text/html", self.metrics_page(query)
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

    def metrics_page(self, query: dict[str, list[str]]) -> bytes:
        """Rate, errors and latency per operation of the last ``since`` minutes (60 when
        absent), per service, with a latency chart per operation; ``service`` keeps one."""
        since_text = (query.get("since") or [""])[0].strip()
        minutes = min(int(since_text), 10**7) if since_text.isdigit() else 60
        service = (query.get("service") or [""])[0].strip() or None
        window_ns = minutes * 60 * 10**9
        points = self.metric_store.read(since_ns=time.time_ns() - window_ns,
                                        service=service) if self.metric_store else []
        rows = report.operations(points, window_ns=window_ns)
        timelines = {(r["service"], r["kind"], r["operation"]): report.timeline(
            points, r["service"], r["kind"], r["operation"]) for r in rows}
        form = ("<form method='get' action='/metrics'><input name='service' "
                f"placeholder='service' value='{html.escape(service or '')}'><input "
                f"name='since' placeholder='last N minutes' value='{minutes}'>"
                "<button type='submit'>Show</button></form>")
        return _page("metrics", form + metrics_html.render(rows, timelines))

    def search_page(self, query: dict[str, list[str]]) -> bytes:
        def one(name: str) -> str:
            return (query.get(name) or [""])[0]

        since_minutes = one("since")
        since_ns = None
        if since_minutes.isdigit():
            since_ns = time.time_ns() - int(since_minutes) * 60 * 10**9
        min_duration = _parse_duration_ms(one("min_duration")) if one("min_duration") else None
        limit = int(one("limit")) if one("limit").isdigit() else 50
        key, equals, value = one("attribute").partition("=")
        attribute = (key.strip(), value.strip()) if equals and key.strip() else None
        summaries = self.store.find_traces(
            request_id=one("request_id").strip() or None,
            service=one("service") or None, operation=one("operation") or None,
            since_ns=since_ns, min_duration_ns=min_duration,
            errors=one("errors") == "1", attribute=attribute, limit=min(limit, 1000))
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
            f"<input name='attribute' placeholder='attribute key=value' "
            f"value='{esc(one('attribute'))}'>"
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

    def diff_page(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        """Traces ``a`` and ``b`` side by side; a missing or unknown id is a 404 saying
        which, never an error page."""
        traces = []
        for name in ("a", "b"):
            wanted = (query.get(name) or [""])[0].strip()
            trace = self.store.get_trace(wanted) if 0 < len(wanted) <= 64 else None
            if trace is None:
                said = f"trace {html.escape(wanted[:64])}" if wanted else "no trace id"
                return 404, "text/html", _page("not found", (
                    f"<p id='not-found'>Compare: {said} for {name.upper()} "
                    "(give two stored trace ids).</p>"))
            traces.append(trace)
        min_change = (query.get("min_change") or [""])[0]
        min_change_ns = _parse_duration_ms(min_change) if min_change else None
        body = diff_html.render(traces[0], traces[1], min_change_ns=min_change_ns or 0,
                                link=lambda trace_id: f"/trace/{trace_id}")
        a, b = traces
        return 200, "text/html", _page(
            f"compare {a.trace_id[:8]} with {b.trace_id[:8]}", body)

    def deps_page(self, query: dict[str, list[str]]) -> bytes:
        """The service graph of the last ``since`` minutes (60 when absent or not a
        number), optionally around one ``service``."""
        since_text = (query.get("since") or [""])[0].strip()
        minutes = min(int(since_text), 10**7) if since_text.isdigit() else 60
        service = (query.get("service") or [""])[0].strip() or None
        report = dependency_report(self.store, time.time_ns() - minutes * 60 * 10**9,
                                   service)
        esc = html.escape
        form = ("<form id='deps-form' method='get' action='/deps'>last "
                f"<input name='since' size='6' value='{minutes}'> minutes "
                f"<input name='service' placeholder='service' value='{esc(service or '')}'>"
                "<button type='submit'>Show</button></form>")
        graph = graph_svg.render(
            report, focus=service,
            node_href=lambda name: "/search?" + urllib.parse.urlencode({"service": name}))
        return _page("dependencies", form + graph)

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
                "</p>" + breakdown_html.render(analysis.breakdown(trace)) +
                "<iframe id='waterfall' title='waterfall' "
                f"src='/trace/{trace.trace_id}?raw=1' style='width:100%;height:85vh;"
                "min-height:480px;border:1px solid #ddd'></iframe>" + logs)
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
    try:
        return serve_forever(resolve_store_url(args.store), args.host, args.port,
                             args.log_file)
    except (ValueError, OSError) as exc:  # a bad URL, a port in use: one line
        print(f"os-tracing serve: {exc}", file=sys.stderr)
        return 1


