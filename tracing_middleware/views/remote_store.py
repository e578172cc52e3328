"""Traces kept in Jaeger or Tempo, read through the same methods as the embedded store.

A cloud that outgrows one machine sends its spans over OTLP to Jaeger or Tempo, and an
operator still wants ``os-tracing trace find|show|critical-path|breakdown|diff``, ``deps``
and ``serve`` on them. :func:`open_store` picks the reader from the URL:

* ``jaeger+http://host:16686`` (or ``+https``): Jaeger's query API v3 over HTTP (the
  grpc-gateway of ``jaeger.api_v3.QueryService``; jaeger-idl ``proto/api_v3``). A trace
  is ``GET /api/v3/traces/{id}``; a search ``GET /api/v3/traces`` with
  ``query.service_name`` (required by Jaeger, so a search without a service asks each
  service of ``GET /api/v3/services``), ``query.operation_name``,
  ``query.start_time_min``/``max`` (RFC 3339), ``query.duration_min`` (a Go duration),
  ``query.search_depth`` and ``query.attributes`` (a JSON object). Answers are OTLP/JSON
  wrapped as ``{"result": {"resourceSpans": [...]}}``, one object per streamed chunk;
  "nothing found" is a 404 with ``{"error": {...}}``.
* ``tempo+http://host:3200``: Tempo's HTTP API. A trace is ``GET /api/traces/{id}``
  (OTLP/JSON, the list named ``batches`` or ``resourceSpans``; ``/api/v2/traces/{id}``
  wraps it in ``{"trace": ...}``, also read); a search ``GET /api/search`` with a
  TraceQL ``q``, ``start``/``end`` in Unix seconds and ``limit``, answering
  ``{"traces": [{"traceID", "rootServiceName", "rootTraceName", "startTimeUnixNano",
  "durationMs"}]}``.

Neither can answer a trace id prefix: ids must be whole (32 hex digits, or the UUID
form). A reply is capped in size and every request has a timeout; anything unexpected
raises :class:`StoreError` with one line, which the commands print.
"""

from __future__ import annotations

import datetime
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore, StoreError, Trace, TraceSummary
from tracing_middleware.export.store_url import path_from_url
from tracing_middleware.request_ids import REQUEST_ID_ATTRIBUTES
from tracing_middleware.views.otlp_json import records_of

__all__ = ["JaegerStore", "MAX_REPLY_BYTES", "TempoStore", "open_store", "summarize"]

#: The largest answer read from a remote store (a trace of 100,000 spans is about this).
MAX_REPLY_BYTES = 64 * 1024 * 1024
#: Seconds a request to a remote store may take.
TIMEOUT_S = 30.0
#: Traces a search without a limit asks for (the remote stores cap it anyway).
UNLIMITED = 1000
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_DECODER = json.JSONDecoder()


def _trace_id(text: str) -> str | None:
    wanted = text.strip().lower().replace("-", "")
    return wanted if _TRACE_ID.fullmatch(wanted) else None


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


def _matches(spans: Sequence[SpanRecord], service: str | None, operation: str | None,
             attribute: tuple[str, str] | None, request_id: str | None = None) -> bool:
    """One span matches every filter given (as ``SpanStore.find_traces`` requires), and
    a span carries the request id: checked here too, since a query service may ignore
    attribute filters it does not support."""
    if request_id is not None and not any(
            span.attributes.get(key) == request_id
            for span in spans for key in REQUEST_ID_ATTRIBUTES):
        return False
    for span in spans:
        if service is not None and span.service != service:
            continue
        if operation is not None and span.name != operation:
            continue
        if attribute is not None:
            key, value = attribute
            if key not in span.attributes:
                continue
            have = span.attributes[key]
            if not (have == value or json.dumps(have) == value):
                continue
        return True
    return False


class _RemoteStore:
    """What both readers share: the HTTP fetch, and ``find_traces`` over whole traces."""

    scheme = ""

    def __init__(self, url: str, timeout_s: float = TIMEOUT_S) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in (f"{self.scheme}+http", f"{self.scheme}+https") \
                or not parsed.netloc:
            raise ValueError(f"{url!r} is not a {self.scheme}+http(s)://host:port URL")
        base_path = parsed.path.rstrip("/")
        self.base = f"{parsed.scheme.split('+', 1)[1]}://{parsed.netloc}{base_path}"
        self.url = url
        #: What messages name the store by (the embedded store's is its file).
        self.path = url
        self.timeout_s = timeout_s

    def _get(self, path: str, params: dict[str, Any] | None = None,
             missing_ok: bool = False) -> bytes | None:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        url = f"{self.base}{path}{query}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                body = reply.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return None
            raise StoreError(f"{self.url}: {path} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreError(f"{self.url}: cannot reach {self.base}: {reason}") from exc
        if len(body) > MAX_REPLY_BYTES:
            raise StoreError(f"{self.url}: {path} answered more than "
                             f"{MAX_REPLY_BYTES // 2**20} MiB")
        return body

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
            raise StoreError(f"{self.url}: {path} answered something that is not JSON "
                             f"({exc})") from exc
        if not docs:
            raise StoreError(f"{self.url}: {path} answered nothing")
        return docs

    def _records(self, doc: Any, path: str) -> list[SpanRecord]:
        try:
            return records_of(doc)
        except ValueError as exc:
            raise StoreError(f"{self.url}: {path}: {exc}") from exc

    # -- the embedded store's reading methods ---------------------------------------

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with this whole id (32 hex digits or the UUID form), or ``None``."""
        wanted = _trace_id(trace_id)
        if wanted is None:
            return None
        spans = [s for s in self._trace_spans(wanted) if s.trace_id == wanted]
        if not spans:
            return None
        spans.sort(key=lambda s: (s.start_time_unix_nano, s.span_id))
        return Trace(wanted, spans)

    def find_trace_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Only a whole id can be looked up remotely: it, if stored."""
        wanted = _trace_id(prefix)
        return [wanted] if wanted and self.get_trace(wanted) is not None else []

    #: ``find_traces`` without a request id, as on the embedded store.
    list_traces = SpanStore.list_traces

    def find_traces(self, request_id: str | None = None, service: str | None = None,
                    operation: str | None = None, since_ns: int | None = None,
                    until_ns: int | None = None, errors: bool = False,
                    min_duration_ns: int | None = None,
                    attribute: tuple[str, str] | None = None, limit: int | None = 20
                    ) -> list[TraceSummary]:
        """``SpanStore.find_traces`` on the remote store: the remote search narrows, and
        the filters it cannot express are applied here to the traces it returns."""
        if limit is not None and limit <= 0:
            return []
        wanted = limit if limit is not None else UNLIMITED
        found: dict[str, TraceSummary] = {}
        for summary in self._search(request_id, service, operation, since_ns, until_ns,
                                    errors, min_duration_ns, attribute, wanted):
            if summary.trace_id in found:
                continue
            if since_ns is not None and summary.start_ns < since_ns:
                continue
            if until_ns is not None and summary.start_ns >= until_ns:
                continue
            if min_duration_ns is not None and summary.duration_ns < min_duration_ns:
                continue
            if errors and not summary.error:
                continue
            found[summary.trace_id] = summary
        ordered = sorted(found.values(), key=lambda s: (-s.start_ns, s.trace_id))
        return ordered[:wanted]

    def exists(self) -> bool:
        """A remote store is asked, not looked for: its answers say what it holds."""
        return True

    def close(self) -> None:
        """Nothing is held open between requests."""

    # -- what each remote store does its own way ------------------------------------

    def _trace_spans(self, trace_id: str) -> list[SpanRecord]:
        raise NotImplementedError

    def _search(self, request_id: str | None, service: str | None, operation: str | None,
                since_ns: int | None, until_ns: int | None, errors: bool,
                min_duration_ns: int | None, attribute: tuple[str, str] | None,
                limit: int) -> Iterable[TraceSummary]:
        raise NotImplementedError


def _rfc3339(ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"


class JaegerStore(_RemoteStore):
    """Jaeger's query API v3 (``jaeger+http://host:16686``)."""

    scheme = "jaeger"

    def _spans_of(self, docs: Sequence[Any], path: str) -> list[SpanRecord]:
        spans: list[SpanRecord] = []
        for doc in docs:
            if isinstance(doc, dict) and "error" in doc and "result" not in doc:
                error = doc["error"] if isinstance(doc["error"], dict) else {}
                if error.get("httpCode", error.get("code")) in (404, 5):
                    continue  # the gateway's "not found" as a stream chunk
                raise StoreError(f"{self.url}: {path}: {error.get('message', doc)}")
            result = doc.get("result") if isinstance(doc, dict) else None
            spans += self._records(result if result is not None else doc, path)
        return spans

    def _trace_spans(self, trace_id: str) -> list[SpanRecord]:
        path = f"/api/v3/traces/{trace_id}"
        docs = self._json(path, missing_ok=True)
        return self._spans_of(docs, path) if docs else []

    def services(self) -> list[str]:
        docs = self._json("/api/v3/services") or [{}]
        names = docs[0].get("services") if isinstance(docs[0], dict) else None
        if not isinstance(names, list):
            raise StoreError(f"{self.url}: /api/v3/services answered no services list")
        return sorted(str(name) for name in names)

    def _search(self, request_id: str | None, service: str | None, operation: str | None,
                since_ns: int | None, until_ns: int | None, errors: bool,
                min_duration_ns: int | None, attribute: tuple[str, str] | None,
                limit: int) -> Iterable[TraceSummary]:
        now = datetime.datetime.now(datetime.timezone.utc).timestamp()
        params: dict[str, Any] = {
            # Jaeger wants a window: without --since, the last week.
            "query.start_time_min": _rfc3339(since_ns if since_ns is not None
                                             else int((now - 7 * 86400) * 10**9)),
            "query.start_time_max": _rfc3339(until_ns if until_ns is not None
                                             else int((now + 60) * 10**9)),
            "query.search_depth": str(limit)}
        if operation is not None:
            params["query.operation_name"] = operation
        if min_duration_ns is not None:
            params["query.duration_min"] = f"{min_duration_ns}ns"
        filters = [{}] if request_id is None else [
            {key: request_id} for key in REQUEST_ID_ATTRIBUTES]
        if attribute is not None:
            for wanted in filters:
                wanted[attribute[0]] = attribute[1]
        for name in [service] if service is not None else self.services():
            for wanted in filters:
                query = {**params, "query.service_name": name}
                if wanted:
                    query["query.attributes"] = json.dumps(wanted, sort_keys=True)
                docs = self._json("/api/v3/traces", query, missing_ok=True)
                by_trace: dict[str, list[SpanRecord]] = {}
                for span in self._spans_of(docs or [], "/api/v3/traces"):
                    by_trace.setdefault(span.trace_id, []).append(span)
                for trace_id, spans in by_trace.items():
                    if _matches(spans, service, operation, attribute, request_id):
                        yield summarize(trace_id, spans)


def _traceql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class TempoStore(_RemoteStore):
    """Tempo's HTTP API (``tempo+http://host:3200``)."""

    scheme = "tempo"

    def _trace_spans(self, trace_id: str) -> list[SpanRecord]:
        path = f"/api/traces/{trace_id}"
        docs = self._json(path, missing_ok=True)
        if not docs:
            return []
        doc = docs[0]
        if isinstance(doc, dict) and isinstance(doc.get("trace"), dict):
            doc = doc["trace"]  # /api/v2/traces/{id}
        return self._records(doc, path)

    def _search(self, request_id: str | None, service: str | None, operation: str | None,
                since_ns: int | None, until_ns: int | None, errors: bool,
                min_duration_ns: int | None, attribute: tuple[str, str] | None,
                limit: int) -> Iterable[TraceSummary]:
        conditions = []
        if request_id is not None:
            conditions.append("(" + " || ".join(
                f"span.{_traceql_string(key)} = {_traceql_string(request_id)}"
                for key in REQUEST_ID_ATTRIBUTES) + ")")
        if service is not None:
            conditions.append(f"resource.service.name = {_traceql_string(service)}")
        if operation is not None:
            conditions.append(f"name = {_traceql_string(operation)}")
        if attribute is not None:
            conditions.append(f"span.{_traceql_string(attribute[0])} = "
                              f"{_traceql_string(attribute[1])}")
        if errors:
            conditions.append("status = error")
        if min_duration_ns is not None:
            conditions.append(f"traceDuration >= {min_duration_ns}ns")
        query = "{ " + " && ".join(conditions) + " }" if conditions else "{}"
        params: dict[str, Any] = {"q": query, "limit": str(limit)}
        if since_ns is not None or until_ns is not None:
            now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
            params["start"] = str((since_ns or 0) // 10**9)
            params["end"] = str(until_ns // 10**9 + 1 if until_ns is not None else now + 60)
        docs = self._json("/api/search", params) or [{}]
        traces = docs[0].get("traces") if isinstance(docs[0], dict) else None
        if not isinstance(traces, list):
            raise StoreError(f"{self.url}: /api/search answered no traces list")
        for entry in traces:
            try:
                trace_id = str(entry["traceID"]).lower().rjust(32, "0")
                start = int(entry.get("startTimeUnixNano", 0))
                duration = int(entry.get("durationMs", 0)) * 10**6
                root_service = str(entry.get("rootServiceName", ""))
                root_name = str(entry.get("rootTraceName", ""))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise StoreError(f"{self.url}: /api/search: a malformed trace entry "
                                 f"({exc})") from exc
            # Tempo's search answers the root and the timing only; the span count, the
            # services and the error mark need the trace itself.
            spans = self._trace_spans(trace_id)
            yield (summarize(trace_id, spans) if spans else TraceSummary(
                trace_id, root_name, root_service, frozenset({root_service}), 0, start,
                duration, errors))


_READERS = {"jaeger": JaegerStore, "tempo": TempoStore}


def open_store(url: str) -> Any:
    """The store a URL names: the embedded SQLite store (``sqlite://``), or Jaeger or
    Tempo (``jaeger+http://``, ``tempo+http://``, also ``+https``). ValueError, naming
    the URL, for anything else."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    reader = _READERS.get(scheme.split("+", 1)[0]) if "+" in scheme else None
    if reader is not None:
        return reader(url)
    path_from_url(url)  # raises ValueError naming the URL
    return SpanStore.from_url(url)
