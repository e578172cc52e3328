"""The paste filter: continue or start a trace at the API edge, end it when the body closes.

Only the edge work lives here: extract the caller's context, start a SERVER span named
after the route, make it current while the application runs, end it when the server
closes the response body (so a streamed Glance or Swift download gets its true
duration). Everything else is the shared core in :mod:`tracing_middleware.tracer`.

With RED metrics on (``tracing.metrics``), every request is also counted, sampled or not.
Its duration runs from the filter's entry until the body is complete: when the
application returns a list, the body exists in full (and the status is known) as it
returns, so the request is counted there; any other body (a generator, a streamed
download) is counted when the server closes it. The same rule holds for sampled and
unsampled requests, so the two are counted alike; only streamed unsampled responses pay
for a body wrapper.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import opentracing
from oslo_middleware import base

from tracing_middleware import _guard, opts, request_ids, tracer
from tracing_middleware.httputil import redact_query, route_template
from tracing_middleware.metrics.recorder import Recorder
from tracing_middleware.propagation.tracecontext import format_traceparent

__all__ = ["TracingFilter"]

LOG = logging.getLogger(__name__)

_OPT_NAMES = frozenset(o.dest for o in opts.OPTS)

StartResponse = Callable[..., Any]

_now = time.perf_counter_ns


class _WrappedBody:
    """A response body passed through, whose end is noticed: ``_ended(exc)`` is called
    once the server closes it (``exc`` ``None``) or its iteration raises; the wrapped
    body's own ``close()`` is always called first."""

    __slots__ = ("_body",)

    def _ended(self, exc: BaseException | None) -> None:
        raise NotImplementedError

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except BaseException as exc:
            self._ended(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._ended(None)


class _CountedBody(_WrappedBody):
    """A streamed body of an unsampled request: counted when the server closes it, as
    a sampled one's span ends then. Iteration errors count as a server error."""

    __slots__ = ("_done", "_failed", "_metrics", "_operation", "_service", "_start",
                 "_status")

    def __init__(self, body: Iterable[bytes], metrics: Recorder, service: str,
                 operation: tuple[str, str], start: int, status: list[Any]) -> None:
        self._body = body
        self._metrics = metrics
        self._service = service
        self._operation = operation
        self._start = start
        self._status = status
        self._failed = False
        self._done = False

    def _ended(self, exc: BaseException | None) -> None:
        if exc is not None:
            self._failed = True  # counted when the server closes the body
            return
        if not self._done:
            self._done = True
            self._metrics.record(self._service, "server", self._operation,
                                 "5xx" if self._failed else self._status[0],
                                 _now() - self._start)


class _TracedResponse(_WrappedBody):
    """One sampled request: sees the status and headers go by, wraps the body, and ends
    the span on ``close()`` (which PEP 3333 guarantees) or when the app or body raises.

    One object per request instead of closures over a state dict: the sampled path runs
    for every request at 100% sampling. ``close()`` of the wrapped body is
    always called, even if ending the span fails.
    """

    __slots__ = ("_done", "_environ", "_filter", "_metrics", "_span", "_start",
                 "_start_response", "_tracing", "headers", "status")

    def __init__(self, owner: TracingFilter, tracing: tracer.Tracing, span: opentracing.Span,
                 environ: dict[str, Any], start_response: StartResponse) -> None:
        self._filter = owner
        self._tracing = tracing
        self._span = span
        self._environ = environ
        self._start_response = start_response
        self._body: Iterable[bytes] = ()
        self._done = False
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self._metrics: Recorder | None = None
        self._start = 0

    def count(self, exc: BaseException | None) -> None:
        """Count the request in the RED metrics, once; the span names the exemplar."""
        metrics, self._metrics = self._metrics, None
        if metrics is None:
            return
        try:
            span = self._span
            environ = self._environ
            path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
            metrics.record(self._filter._service, "server",
                           (environ.get("REQUEST_METHOD", "GET"), path),
                           "5xx" if exc is not None else self.status, _now() - self._start,
                           span.context if self._tracing.is_recording(span) else None)
        except Exception:
            _guard.swallow("counting a request")

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Any:
        self.status = status
        self.headers = headers
        if self._filter._traceresponse:
            try:
                context = self._tracing.span_context_of(self._span)
                if context is not None:
                    headers.append(("traceresponse", format_traceparent(context)))
            except Exception:
                _guard.swallow("adding traceresponse")
        if exc_info is None:
            return self._start_response(status, headers)
        return self._start_response(status, headers, exc_info)

    def finish(self, exc: BaseException | None) -> None:
        if self._done:
            return
        self._done = True
        if self._metrics is not None:
            self.count(exc)
        try:
            self._filter._end_span(self._tracing, self._span, self._environ, self.status,
                                   self.headers, exc)
        except Exception:
            _guard.swallow("ending the server span")

    _ended = finish


class TracingFilter(base.ConfigurableMiddleware):
    """``[filter:tracing] use = egg:os-tracing#tracing``; any ``[tracing]`` option may be
    set in that section and overrides the configuration file for this pipeline."""

    def __init__(self, application: Any, conf: Any = None) -> None:
        super().__init__(application, conf)
        local = {k: v for k, v in self.conf.items() if k in _OPT_NAMES}
        self._settings, self._tracing = tracer.configure(self.oslo_conf, local)
        settings = self._settings
        self._excluded = settings.excluded_paths if settings else ()
        self._traceresponse = settings.traceresponse if settings else False
        self._sensitive = settings.sensitive_query_keys if settings else frozenset()
        self._service = settings.service_name if settings else ""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        tracing = self._tracing
        if tracing is None:
            return self.application(environ, start_response)
        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
        for pattern in self._excluded:
            if pattern.search(path):
                return self.application(environ, start_response)
        metrics = tracing.metrics
        start = _now() if metrics is not None else 0
        try:
            span = self._start_span(tracing, environ, path)
            scope = tracing.activate(span)
            recording = self._traceresponse or tracing.is_recording(span)
        except Exception:
            _guard.swallow("starting the server span")
            return self.application(environ, start_response)
        if not recording:
            if metrics is None:
                # Unsampled: the context is current while the app runs (so its calls carry
                # the decision on) and nothing else is needed: no wrappers, nothing to end.
                try:
                    return self.application(environ, start_response)
                finally:
                    try:
                        scope.close()
                        span.finish()
                    except Exception:
                        _guard.swallow("leaving an unsampled request")
            # Unsampled, counted: as above, plus the status seen through a closure and the
            # request counted (see the module docstring). Inline, as every call here is
            # paid on every request.
            status: list[Any] = [None]

            def counting_start_response(line: str, headers: list[tuple[str, str]],
                                        exc_info: Any = None) -> Any:
                status[0] = line
                if exc_info is None:
                    return start_response(line, headers)
                return start_response(line, headers, exc_info)

            operation = (environ.get("REQUEST_METHOD", "GET"), path)
            try:
                body = self.application(environ, counting_start_response)
            except BaseException:
                metrics.record(self._service, "server", operation, "5xx", _now() - start)
                raise
            finally:
                try:
                    scope.close()
                    span.finish()
                except Exception:
                    _guard.swallow("leaving an unsampled request")
            if type(body) is not list:
                return _CountedBody(body, metrics, self._service, operation, start, status)
            buffer = metrics.buffer  # Recorder.record, inline
            buffer.append((self._service, "server", operation, status[0], _now() - start,
                           None))
            if len(buffer) > metrics.buffer_limit:
                metrics.overflow()
            return body
        return self._call_traced(tracing, span, scope, environ, start_response, metrics,
                                 start)

    def _start_span(self, tracing: tracer.Tracing, environ: dict[str, Any],
                    path: str) -> opentracing.Span:
        parent = tracing.extract_environ(environ)
        if not self._traceresponse:  # which would name the caller's span as ours
            # An unsampled caller the sampler follows: carried on as it came, with no
            # name to build (see Tracing.continue_unsampled).
            span = tracing.continue_unsampled(parent, "server")
            if span is not None:
                return span
        method = environ.get("REQUEST_METHOD", "GET")
        route = route_template(path)
        span = tracing.start_span(f"{method} {route}", parent=parent, kind="server")
        if tracing.is_recording(span):  # attributes only for spans that will be exported
            tracing.set_tags(span, self._attributes(environ, method, path, route))
        return span

    def _attributes(self, environ: dict[str, Any], method: str, path: str, route: str
                    ) -> dict[str, Any]:
        tags: dict[str, Any] = {
            "http.request.method": method,
            "url.path": path,
            "url.scheme": environ.get("wsgi.url_scheme", "http"),
            "http.route": route,
        }
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME")
        if host:
            name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
            tags["server.address"] = name or host
            port = port or environ.get("SERVER_PORT")
            if port and str(port).isdigit():
                tags["server.port"] = int(port)
        query = environ.get("QUERY_STRING")
        if query:
            tags["url.query"] = redact_query(query, self._sensitive)
        client = environ.get("REMOTE_ADDR")
        if client:
            tags["client.address"] = client
        agent = environ.get("HTTP_USER_AGENT")
        if agent:
            tags["user_agent.original"] = agent[:256]
        return tags

    def _call_traced(self, tracing: tracer.Tracing, span: opentracing.Span,
                     scope: opentracing.Scope | None, environ: dict[str, Any],
                     start_response: StartResponse, metrics: Recorder | None = None,
                     start: int = 0) -> Any:
        response = _TracedResponse(self, tracing, span, environ, start_response)
        response._metrics = metrics
        response._start = start
        try:
            response._body = self.application(environ, response.start_response)
        except BaseException as exc:
            response.finish(exc)
            raise
        finally:
            if scope is not None:
                scope.close()
        if metrics is not None and type(response._body) is list:
            response.count(None)  # complete as it returns: counted alike when unsampled
        return response

    def _end_span(self, tracing: tracer.Tracing, span: opentracing.Span,
                  environ: dict[str, Any], status: str | None,
                  headers: list[tuple[str, str]], exc: BaseException | None) -> None:
        if not tracing.is_recording(span):
            span.finish()
            return
        code = None
        if status:
            head = status.split(" ", 1)[0]
            if head.isdigit():
                code = int(head)
                span.set_tag("http.response.status_code", code)
        for name, value in headers:
            if name.lower() == "x-openstack-request-id":
                local = request_ids.request_id(value)
                break
        else:
            local = request_ids.request_id(environ.get("openstack.request_id"))
        if local is not None:
            span.set_tag(request_ids.REQUEST_ID, local)
        # oslo.middleware's RequestId, inside this filter, leaves the caller's id checked
        # in the environ; without it in the pipeline, the incoming header is read the same.
        shared = request_ids.global_request_id(
            environ.get("openstack.global_request_id")
            or environ.get("HTTP_X_OPENSTACK_REQUEST_ID"))
        if shared is not None:
            span.set_tag(request_ids.GLOBAL_REQUEST_ID, shared)
        project = environ.get("HTTP_X_PROJECT_ID")
        if isinstance(project, str) and project:
            span.set_tag("openstack.project_id", project[:64])
        if exc is not None:
            tracing.set_error(span, exc)
        elif code is not None and code >= 500:
            tracing.set_error(span, description=status, error_type=str(code))
        span.finish()


