"""Traces kept in Jaeger or Tempo, read through the same methods as the embedded store.

A cloud that outgrows one machine sends its spans over OTLP to Jaeger or Tempo, and an
operator still wants ``os-tracing trace list|find|show|critical-path|breakdown|diff``,
``deps`` and ``serve`` on them. :func:`open_store` picks the reader from the URL; every
reader has the methods of :class:`TraceReader`, which :class:`SpanStore` has too.

* ``jaeger+http://host:16686`` (or ``+https``): Jaeger's query API v3 over HTTP
  (``cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/http_gateway.go`` and
  ``query_parser.go``). A trace is ``GET /api/v3/traces/{id}``; a search is ``GET
  /api/v3/traces`` with ``query.service_name`` (Jaeger needs one, so a search without a
  service asks each service of ``GET /api/v3/services``), ``query.operation_name``,
  ``query.start_time_min``/``max`` (RFC 3339, both required), ``query.duration_min``
  (a Go duration), ``query.num_traces`` and ``query.attributes`` (a JSON object; Jaeger
  2.19 and later, older ones ignore it). These snake_case names are the ones every
  version reads (newer ones also take camelCase). An answer is OTLP/JSON wrapped as
  ``{"result": {"resourceSpans": [...]}}``: one object from Jaeger 2, one per streamed
  chunk from Jaeger 1.x's grpc-gateway (a bare ``{"resourceSpans"}`` is read too);
  "nothing found" is a 404 with ``{"error": {...}}``. With a request id, only it is
  asked of Jaeger, whose filters all hold for one span.
* ``tempo+http://host:3200``: Tempo's HTTP API (``docs/sources/tempo/api_docs``). A
  trace is ``GET /api/v2/traces/{id}`` (``{"trace": {"resourceSpans": ...}, "status":
  "PARTIAL"?}``, Tempo 2.6 and later), else ``GET /api/traces/{id}`` (``{"batches":
  ...}``); a search is ``GET /api/search`` with a TraceQL ``q``, ``start``/``end`` in
  Unix seconds (without them Tempo searches only its most recent data) and ``limit``,
  answering ``{"traces": [{"traceID", "rootServiceName", "startTimeUnixNano",
  "durationMs", ...}]}``. Each trace found is then read whole, for its span count, its
  services and its errors.

The remote search narrows; the filters of :meth:`SpanStore.find_traces` are then applied
here to the whole traces, so a trace is found by the same rule on every store. Neither
store answers a trace id prefix: ids must be whole (32 hex digits or the UUID form).
A request has a deadline and an answer a size cap; anything unexpected is a
:class:`StoreError` of one line, which the commands print. A malformed span in an
answer is left out with one log line.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import datetime
import http.client
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore, StoreError, Trace, TraceSummary
from tracing_middleware.request_ids import REQUEST_ID_ATTRIBUTES
from tracing_middleware.views.otlp_json import records_of

__all__ = ["JaegerStore", "MAX_REPLY_BYTES", "TIMEOUT_S", "TempoStore", "TraceReader",
           "WINDOW_CAP", "open_store", "summarize"]

LOG = logging.getLogger(__name__)

#: The largest answer read from a remote store (a trace of 100,000 spans is about this).
MAX_REPLY_BYTES = 64 * 1024 * 1024
#: Seconds one request may take, connecting and reading included; ``?timeout=`` in the
#: store URL changes it.
TIMEOUT_S = 30.0
#: The most traces a search without a limit reads (``deps`` over its window).
WINDOW_CAP = 500
#: How deep a search goes when a filter may be left to this side (an error filter, or
#: attributes a Jaeger before 2.19 ignores): deeper than the limit, so that some traces
#: remain once the others are filtered out.
FILTERED_DEPTH = 100
#: The window searched without ``--since``: a week, which is also Tempo's default
#: longest search (``query_frontend.search.max_duration``).
DEFAULT_WINDOW_NS = 7 * 86400 * 10**9
#: How long a trace read by a search is reused by ``get_trace`` (``deps`` and the web UI
#: read the traces a search has just read).
CACHE_TTL_S = 60.0
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SHORT_TRACE_ID = re.compile(r"[0-9a-f]{1,32}")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DECODER = json.JSONDecoder()
_READ_CHUNK = 1 << 20
_FETCHERS = 4


class TraceReader(Protocol):
    """What the commands and the web UI call on a store: the embedded one or a remote."""

    #: What messages name the store by: the embedded store's file, a remote's URL.
    path: str

    def exists(self) -> bool: ...

    def get_trace(self, trace_id: str) -> Trace | None: ...

    def find_trace_ids(self, prefix: str, limit: int = 10) -> list[str]: ...

    def find_traces(self, request_id: str | None = None, service: str | None = None,
                    operation: str | None = None, since_ns: int | None = None,
                    until_ns: int | None = None, errors: bool = False,
                    min_duration_ns: int | None = None,
                    attribute: tuple[str, str] | None = None, limit: int | None = 20
                    ) -> list[TraceSummary]: ...

    def list_traces(self, service: str | None = None, operation: str | None = None,
                    since_ns: int | None = None, min_duration_ns: int | None = None,
                    errors_only: bool = False, limit: int | None = 20
                    ) -> list[TraceSummary]: ...

    def close(self) -> None: ...


def open_store(url: str) -> TraceReader:
    """The store a URL names: the embedded SQLite store (``sqlite://``), Jaeger
    (``jaeger+http://``) or Tempo (``tempo+http://``), also ``+https``. ValueError,
    naming the URL, for anything else."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("jaeger+http", "jaeger+https"):
        return JaegerStore(url)
    if scheme in ("tempo+http", "tempo+https"):
        return TempoStore(url)
    if scheme == "sqlite":
        return SpanStore.from_url(url)
    raise ValueError(f"not a store URL: {url!r}; expected sqlite:///relative/path, "
                     "sqlite:////absolute/path, jaeger+http(s)://host:port or "
                     "tempo+http(s)://host:port")


def summarize(trace_id: str, spans: Sequence[SpanRecord]) -> TraceSummary:
    """A trace's summary from its spans, by the rule the embedded store uses (the root
    is the earliest span without a parent, else the earliest whose parent is missing)."""
    ordered = sorted(spans, key=lambda s: (s.start_time_unix_nano, s.span_id))
    known = {s.span_id for s in ordered}
    root = (next((s for s in ordered if s.parent_span_id is None), None)
            or next((s for s in ordered if s.parent_span_id not in known), None)
            or ordered[0])
    start = ordered[0].start_time_unix_nano
    end = max(s.end_time_unix_nano for s in ordered)
    return TraceSummary(trace_id, root.name, root.service,
                        frozenset(s.service for s in ordered), len(ordered), start,
                        end - start, any(s.status == "error" for s in ordered))


@dataclasses.dataclass(frozen=True)
class _Query:
    """The filters of :meth:`SpanStore.find_traces`."""

    request_id: str | None
    service: str | None
    operation: str | None
    since_ns: int | None
    until_ns: int | None
    errors: bool
    min_duration_ns: int | None
    attribute: tuple[str, str] | None

    def matches(self, spans: Sequence[SpanRecord]) -> bool:
        """The embedded store's rule: a span carries the request id; one span has the
        service, the name and the attribute given; a span has an error; the trace
        started in the window and lasted long enough."""
        summary = summarize(spans[0].trace_id, spans)
        if self.since_ns is not None and summary.start_ns < self.since_ns:
            return False
        if self.until_ns is not None and summary.start_ns >= self.until_ns:
            return False
        if self.min_duration_ns is not None and summary.duration_ns < self.min_duration_ns:
            return False
        if self.errors and not summary.error:
            return False
        if self.request_id is not None and not any(
                span.attributes.get(key) == self.request_id.strip()
                for span in spans for key in REQUEST_ID_ATTRIBUTES):
            return False
        return any(self._span_matches(span) for span in spans)

    def _span_matches(self, span: SpanRecord) -> bool:
        if self.service is not None and span.service != self.service:
            return False
        if self.operation is not None and span.name != self.operation:
            return False
        if self.attribute is not None:
            key, value = self.attribute
            if key not in span.attributes:
                return False
            have = span.attributes[key]
            return have == value or json.dumps(have) == value
        return True


def _one_line(text: str, limit: int = 200) -> str:
    """Text from a remote answer fit for a one-line message: no control characters."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _rfc3339(ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"


class _RemoteStore:
    """What both readers share: the HTTP requests, the trace cache and ``find_traces``
    over whole traces."""

    scheme = ""
    #: The store's name in messages.
    name = ""

    def __init__(self, url: str, timeout_s: float | None = None,
                 max_reply_bytes: int = MAX_REPLY_BYTES) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme.lower() not in (f"{self.scheme}+http", f"{self.scheme}+https") \
                or not parsed.hostname:
            raise ValueError(f"{url!r} is not a {self.scheme}+http(s)://host:port URL")
        options = urllib.parse.parse_qs(parsed.query)
        unknown = sorted(set(options) - {"timeout"})
        if unknown:
            raise ValueError(f"store URL {url!r}: unknown option {unknown[0]!r}; "
                             "only timeout=<seconds> is known")
        if timeout_s is None:
            try:
                timeout_s = float(options.get("timeout", [TIMEOUT_S])[-1])
            except ValueError:
                timeout_s = -1.0
            if not 0 < timeout_s <= 3600:
                raise ValueError(f"store URL {url!r}: timeout must be seconds in (0, 3600]")
        try:
            port = f":{parsed.port}" if parsed.port else ""
        except ValueError as exc:
            raise ValueError(f"store URL {url!r}: {exc}") from None
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
        http = parsed.scheme.lower().split("+", 1)[1]
        self.base = f"{http}://{host}{port}{parsed.path.rstrip('/')}"
        self._headers = {"Accept": "application/json", "User-Agent": "os-tracing"}
        if parsed.username is not None:  # Tempo or Jaeger behind a proxy asking for it
            user = urllib.parse.unquote(parsed.username)
            password = urllib.parse.unquote(parsed.password or "")
            self._headers["Authorization"] = "Basic " + base64.b64encode(
                f"{user}:{password}".encode()).decode()
        shown = f"{parsed.username}:***@" if parsed.password is not None else (
            f"{parsed.username}@" if parsed.username is not None else "")
        #: The URL as messages show it: without a password.
        self.url = urllib.parse.urlunsplit(
            (parsed.scheme, shown + parsed.netloc.rpartition("@")[2], parsed.path,
             parsed.query, ""))
        #: What messages name the store by (the embedded store's is its file).
        self.path = self.url
        self.timeout_s = timeout_s
        self.max_reply_bytes = max_reply_bytes
        #: How many traces the last search without a limit stopped at, when there were
        #: more (:data:`WINDOW_CAP`); ``None`` when it read them all.
        self.capped_at: int | None = None
        self._cache: dict[str, tuple[float, list[SpanRecord]]] = {}
        self._lock = threading.Lock()

    # -- HTTP ---------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None,
             missing_ok: bool = False) -> bytes | None:
        """The body of ``GET path?params``; ``None`` for a 404 when ``missing_ok``."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(f"{self.base}{path}{query}",
                                         headers=self._headers)
        deadline = time.monotonic() + self.timeout_s
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                length = reply.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > self.max_reply_bytes:
                    raise self._too_big(path)
                chunks: list[bytes] = []
                size = 0
                while True:
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    chunk = reply.read1(min(_READ_CHUNK, self.max_reply_bytes + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.max_reply_bytes:
                        raise self._too_big(path)
                return b"".join(chunks)
        except urllib.error.HTTPError as exc:
            try:
                if exc.code == 404 and missing_ok:
                    return None
                detail = self._error_detail(exc)
            finally:
                exc.close()  # its connection, which the error holds open
            raise StoreError(f"{self.url}: GET {path} answered HTTP {exc.code}"
                             f"{': ' + detail if detail else ''}") from None
        except (TimeoutError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
                raise StoreError(f"{self.url}: GET {path} got no whole answer within "
                                 f"{self.timeout_s:g}s") from None
            raise StoreError(f"{self.url}: cannot reach {self.base}: "
                             f"{_one_line(str(reason))}") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise StoreError(f"{self.url}: GET {path} failed: "
                             f"{_one_line(str(exc) or type(exc).__name__)}") from None

    def _too_big(self, path: str) -> StoreError:
        return StoreError(f"{self.url}: GET {path} answered more than "
                          f"{self.max_reply_bytes:,} bytes")

    @staticmethod
    def _error_detail(exc: urllib.error.HTTPError) -> str:
        """What an error answer says: Jaeger's ``{"error": {"message"}}``, Tempo's text;
        nothing from an HTML page (a proxy's)."""
        try:
            text = exc.read(4096).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException, ValueError):
            return ""
        try:
            doc = json.loads(text)
        except ValueError:
            return "" if text.startswith("<") else _one_line(text)
        error = doc.get("error") if isinstance(doc, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        return _one_line(str(message if message is not None else doc))

    def _json(self, path: str, params: dict[str, Any] | None = None,
              missing_ok: bool = False) -> list[Any] | None:
        """The JSON documents of an answer: one, or several in a row (a stream)."""
        body = self._get(path, params, missing_ok)
        if body is None:
            return None
        try:
            text = body.decode("utf-8")
            docs, index = [], 0
            while True:
                while index < len(text) and text[index].isspace():
                    index += 1
                if index == len(text):
                    break
                doc, index = _DECODER.raw_decode(text, index)
                docs.append(doc)
        except ValueError as exc:
            raise StoreError(f"{self.url}: GET {path} answered something that is not "
                             f"JSON ({_one_line(str(exc))})") from None
        if not docs:
            raise StoreError(f"{self.url}: GET {path} answered nothing")
        return docs

    def _spans(self, doc: Any, path: str) -> list[SpanRecord]:
        """The spans of an OTLP/JSON document; one without any is an empty trace."""
        if not isinstance(doc, dict):
            raise StoreError(f"{self.url}: GET {path} answered {type(doc).__name__}, "
                             "not an OTLP/JSON object")
        if not doc.get("resourceSpans") and not doc.get("batches"):
            return []
        skipped: list[str] = []
        try:
            spans = records_of(doc, skipped)
        except ValueError as exc:
            raise StoreError(f"{self.url}: GET {path}: {_one_line(str(exc))}") from None
        if skipped:
            LOG.warning("%s: GET %s: left out %d malformed span(s), the first: %s",
                        self.url, path, len(skipped), _one_line(skipped[0]))
        return spans

    # -- the trace cache ----------------------------------------------------------------

    def _remember(self, trace_id: str, spans: list[SpanRecord]) -> None:
        with self._lock:
            if len(self._cache) >= WINDOW_CAP + 1:
                now = time.monotonic()
                self._cache = {k: v for k, v in self._cache.items()
                               if now - v[0] < CACHE_TTL_S}
                while len(self._cache) >= WINDOW_CAP + 1:
                    del self._cache[next(iter(self._cache))]
            self._cache[trace_id] = (time.monotonic(), spans)

    def _trace(self, trace_id: str) -> list[SpanRecord]:
        """The spans of a trace (none if unknown), from the cache while fresh."""
        with self._lock:
            cached = self._cache.get(trace_id)
        if cached is not None and time.monotonic() - cached[0] < CACHE_TTL_S:
            return cached[1]
        spans = [s for s in self._trace_spans(trace_id) if s.trace_id == trace_id]
        self._remember(trace_id, spans)
        return spans

    # -- the embedded store's reading methods -------------------------------------------

    def exists(self) -> bool:
        """A remote store is asked, not looked for: its answers say what it holds."""
        return True

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with this whole id (32 hex digits or the UUID form), or ``None``."""
        wanted = trace_id.strip().lower().replace("-", "")
        if not _TRACE_ID.fullmatch(wanted):
            return None
        spans = self._trace(wanted)
        if not spans:
            return None
        return Trace(wanted, sorted(spans, key=lambda s: (s.start_time_unix_nano,
                                                          s.span_id)))

    def find_trace_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """A whole id if the store holds it; a prefix is a StoreError saying why."""
        wanted = prefix.strip().lower().replace("-", "")
        if not _TRACE_ID.fullmatch(wanted):
            raise StoreError(f"{self.url}: {_one_line(prefix, 40)!r} is not a whole trace "
                             f"id; {self.name} looks traces up by all 32 hex digits (id "
                             "prefixes work in the embedded store only)")
        return [wanted] if self.get_trace(wanted) is not None else []

    #: ``find_traces`` without a request id, as on the embedded store.
    list_traces = SpanStore.list_traces

    def find_traces(self, request_id: str | None = None, service: str | None = None,
                    operation: str | None = None, since_ns: int | None = None,
                    until_ns: int | None = None, errors: bool = False,
                    min_duration_ns: int | None = None,
                    attribute: tuple[str, str] | None = None, limit: int | None = 20
                    ) -> list[TraceSummary]:
        """``SpanStore.find_traces`` on the remote store, newest first; ``limit=None``
        reads at most :data:`WINDOW_CAP` traces and sets :attr:`capped_at` if there
        were more. The request id is two attribute searches (``openstack.request_id``,
        ``openstack.global_request_id``), merged."""
        self.capped_at = None
        if limit is not None and limit <= 0:
            return []
        wanted = WINDOW_CAP if limit is None else limit
        query = _Query(request_id, service, operation, since_ns, until_ns, errors,
                       min_duration_ns, attribute)
        found: dict[str, TraceSummary] = {}
        for trace_id, spans in self._search(query, wanted + 1 if limit is None else wanted):
            if trace_id not in found and spans and query.matches(spans):
                found[trace_id] = summarize(trace_id, spans)
        ordered = sorted(found.values(), key=lambda s: (-s.start_ns, s.trace_id))
        if limit is None and len(ordered) > wanted:
            self.capped_at = wanted
        return ordered[:wanted]

    def close(self) -> None:
        """Nothing is held open between requests; the cache is let go."""
        with self._lock:
            self._cache.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- what each remote store does its own way ----------------------------------------

    def _trace_spans(self, trace_id: str) -> list[SpanRecord]:
        raise NotImplementedError

    def _search(self, query: _Query, depth: int) -> Iterable[tuple[str, list[SpanRecord]]]:
        """(trace id, all its spans) of the traces the remote search finds."""
        raise NotImplementedError

    def _window(self, query: _Query) -> tuple[int, int]:
        """The start window of a search, in ns: ``--since``/``--until``, else the last
        :data:`DEFAULT_WINDOW_NS` up to a minute from now (clocks differ)."""
        end = query.until_ns if query.until_ns is not None else time.time_ns() + 60 * 10**9
        start = query.since_ns if query.since_ns is not None else end - DEFAULT_WINDOW_NS
        return start, end


class JaegerStore(_RemoteStore):
    """Jaeger's query API v3 (``jaeger+http://host:16686``)."""

    scheme = "jaeger"
    name = "Jaeger"

    def _answer_spans(self, docs: Sequence[Any], path: str) -> list[SpanRecord]:
        """The spans of the chunks of an answer: ``{"result": TracesData}`` each (or the
        bare ``TracesData`` of Jaeger 1.x); a chunk ``{"error": ...}`` with code 404
        (HTTP) or 5 (gRPC NOT_FOUND) means nothing more was found."""
        spans: list[SpanRecord] = []
        for doc in docs:
            if isinstance(doc, dict) and "error" in doc and "result" not in doc:
                error = doc["error"] if isinstance(doc["error"], dict) else {}
                codes = {error.get(key) for key in ("httpCode", "http_code", "grpcCode",
                                                     "grpc_code", "code")}
                if codes & {404, 5}:
                    continue
                message = error.get("message", doc["error"])
                raise StoreError(f"{self.url}: GET {path}: {_one_line(str(message))}")
            result = doc.get("result") if isinstance(doc, dict) else None
            spans += self._spans(result if result is not None else doc, path)
        return spans

    def _trace_spans(self, trace_id: str) -> list[SpanRecord]:
        path = f"/api/v3/traces/{trace_id}"
        docs = self._json(path, missing_ok=True)
        return self._answer_spans(docs, path) if docs else []

    def services(self) -> list[str]:
        """``GET /api/v3/services``: ``{"services": [...]}``."""
        docs = self._json("/api/v3/services") or [{}]
        names = docs[0].get("services", []) if isinstance(docs[0], dict) else None
        if not isinstance(names, list):
            raise StoreError(f"{self.url}: GET /api/v3/services answered no services list")
        return sorted({str(name) for name in names if isinstance(name, str) and name})

    def _search(self, query: _Query, depth: int) -> Iterator[tuple[str, list[SpanRecord]]]:
        start, end = self._window(query)
        params: dict[str, Any] = {"query.start_time_min": _rfc3339(start),
                                  "query.start_time_max": _rfc3339(end)}
        # Jaeger's filters all hold for one span of the service searched. The request id
        # may be on any span, so with one, only it is asked, of every service; the other
        # filters are applied here, to the few traces it is on.
        wanted: list[dict[str, str]] = [{}]
        if query.request_id is not None:
            wanted = [{key: query.request_id.strip()} for key in REQUEST_ID_ATTRIBUTES]
        else:
            if query.operation is not None:
                params["query.operation_name"] = query.operation
            if query.min_duration_ns is not None:
                params["query.duration_min"] = f"{query.min_duration_ns}ns"
            if query.attribute is not None:
                wanted = [{query.attribute[0]: query.attribute[1]}]
        if query.errors or any(wanted):
            depth = max(depth, FILTERED_DEPTH)
        # query.num_traces: the name every version reads (search_depth is newer).
        params["query.num_traces"] = str(depth)
        services = [query.service] if query.service is not None and (
            query.request_id is None) else self.services()
        for service in services:
            for attributes in wanted:
                ask = {**params, "query.service_name": service}
                if attributes:
                    ask["query.attributes"] = json.dumps(attributes, sort_keys=True)
                docs = self._json("/api/v3/traces", ask, missing_ok=True)
                by_trace: dict[str, list[SpanRecord]] = {}
                for span in self._answer_spans(docs or [], "/api/v3/traces"):
                    by_trace.setdefault(span.trace_id, []).append(span)
                # A search answers whole traces: get_trace needs no second request.
                for trace_id, spans in by_trace.items():
                    self._remember(trace_id, spans)
                    yield trace_id, spans


def _traceql_string(value: str) -> str:
    """A TraceQL string literal; only ``\\"`` and ``\\\\`` are escapes TraceQL knows."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _traceql_attribute(key: str, value: str) -> str:
    """A span attribute equal to ``value``, as the embedded store matches it: the
    string, or the number or boolean it spells (``500``, ``true``)."""
    name = f"span.{_traceql_string(key)}"
    same = [f"{name} = {_traceql_string(value)}"]
    if _NUMBER.fullmatch(value) or value in ("true", "false"):
        same.append(f"{name} = {value}")
    return same[0] if len(same) == 1 else "(" + " || ".join(same) + ")"


def traceql(request_id: str | None = None, service: str | None = None,
            operation: str | None = None, errors: bool = False,
            min_duration_ns: int | None = None,
            attribute: tuple[str, str] | None = None) -> str:
    """The TraceQL query of a search: a spanset per condition a different span may meet
    (the request id, an error, the duration), one for the conditions a single span must
    meet together (service, name, attribute), joined by ``&&`` (same trace)."""
    spansets = []
    if request_id is not None:
        spansets.append("{ " + " || ".join(
            f"span.{_traceql_string(key)} = {_traceql_string(request_id.strip())}"
            for key in REQUEST_ID_ATTRIBUTES) + " }")
    same_span = []
    if service is not None:
        same_span.append(f"resource.service.name = {_traceql_string(service)}")
    if operation is not None:
        same_span.append(f"name = {_traceql_string(operation)}")
    if attribute is not None:
        same_span.append(_traceql_attribute(*attribute))
    if same_span:
        spansets.append("{ " + " && ".join(same_span) + " }")
    if errors:
        spansets.append("{ status = error }")
    if min_duration_ns is not None:
        spansets.append(f"{{ traceDuration >= {int(min_duration_ns)}ns }}")
    return " && ".join(spansets) if spansets else "{ }"


class TempoStore(_RemoteStore):
    """Tempo's HTTP API (``tempo+http://host:3200``)."""

    scheme = "tempo"
    name = "Tempo"

    def __init__(self, url: str, timeout_s: float | None = None,
                 max_reply_bytes: int = MAX_REPLY_BYTES) -> None:
        super().__init__(url, timeout_s, max_reply_bytes)
        #: Whether ``/api/v2/traces`` exists (Tempo 2.6+); ``None`` until an answer says.
        self._v2: bool | None = None

    def _trace_spans(self, trace_id: str) -> list[SpanRecord]:
        if self._v2 is not False:
            path = f"/api/v2/traces/{trace_id}"
            docs = self._json(path, missing_ok=True)
            if docs is not None:
                self._v2 = True
                return self._v2_spans(docs[0], path, trace_id)
            if self._v2:
                return []
        # Not found by v2, or a Tempo before 2.6 that has no v2: ask the older path.
        path = f"/api/traces/{trace_id}"
        docs = self._json(path, missing_ok=True)
        if docs is None:
            return []
        self._v2 = False  # v2 did not know a trace v1 has: this Tempo has no v2
        return self._spans(docs[0], path)

    def _v2_spans(self, doc: Any, path: str, trace_id: str) -> list[SpanRecord]:
        """``{"trace": {...}, "status": "PARTIAL", "message": ...}``: a trace larger than
        Tempo's limit comes partial, which is said once on the log."""
        if not isinstance(doc, dict) or not isinstance(doc.get("trace", {}), dict):
            raise StoreError(f"{self.url}: GET {path} answered no trace object")
        if doc.get("status") in ("PARTIAL", 1):
            LOG.warning("%s: trace %s is partial: %s", self.url, trace_id,
                        _one_line(str(doc.get("message", ""))))
        return self._spans(doc.get("trace", {}), path)

    def _search(self, query: _Query, depth: int) -> Iterator[tuple[str, list[SpanRecord]]]:
        start, end = self._window(query)
        end_s = -(-end // 10**9)
        # Whole seconds, the default window no longer than Tempo's longest search.
        start_s = start // 10**9 if query.since_ns is not None else (
            end_s - DEFAULT_WINDOW_NS // 10**9)
        params = {"q": traceql(query.request_id, query.service, query.operation,
                               query.errors, query.min_duration_ns, query.attribute),
                  "start": str(start_s), "end": str(end_s), "limit": str(depth)}
        docs = self._json("/api/search", params) or [{}]
        traces = docs[0].get("traces", []) if isinstance(docs[0], dict) else None
        if not isinstance(traces, list):
            raise StoreError(f"{self.url}: GET /api/search answered no traces list")
        trace_ids = []
        for entry in traces:
            trace_id = str(entry.get("traceID", "")).lower() if isinstance(
                entry, dict) else ""
            if not _SHORT_TRACE_ID.fullmatch(trace_id):
                LOG.warning("%s: GET /api/search: left out an entry without a trace id: "
                            "%s", self.url, _one_line(json.dumps(entry), 80))
                continue
            trace_ids.append(trace_id.rjust(32, "0"))  # Tempo drops leading zeros
        # The search answers the root and timing only: the traces are read whole, a few
        # at a time.
        pool = concurrent.futures.ThreadPoolExecutor(_FETCHERS)
        try:
            yield from zip(trace_ids, pool.map(self._trace, trace_ids), strict=True)
        finally:  # after a failure, the reads not yet started are not made
            pool.shutdown(wait=True, cancel_futures=True)
