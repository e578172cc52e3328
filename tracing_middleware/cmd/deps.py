"""``os-tracing deps``: which service calls which, over the traces of a time window.

Reads the traces that started in the window from the embedded store (``--store`` as for
``os-tracing trace``), joining each sender to its receivers in SQL, and prints
:func:`tracing_middleware.views.analysis.dependencies`:
a table, its JSON, or Graphviz DOT (``os-tracing deps -f dot | dot -Tsvg > deps.svg``).
Exit status 1 when the store cannot be read, 2 for usage errors; a store that does not
exist yet has no edges.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tracing_middleware.cmd.trace import parse_since_ns
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import StoreError
from tracing_middleware.export.store_url import resolve_store_url
from tracing_middleware.views import analysis, analysis_text, dot
from tracing_middleware.views.remote_store import open_store

__all__ = ["register"]

_RENDER = {"table": analysis_text.dependencies, "dot": dot.render_dependencies}


def register(subparsers: Any) -> None:
    """Add ``deps``; it sets ``func``."""
    parser = subparsers.add_parser(
        "deps", help="service dependencies seen in stored traces",
        description="Edges from the service of a CLIENT or PRODUCER span to the service "
                    "of its SERVER or CONSUMER child, by protocol, with calls, errors and "
                    "latency percentiles, over the traces that started in a time window.")
    parser.add_argument("--store", help="store URL, as for `os-tracing trace` (default: "
                        "$OS_TRACING_STORE, else the default store)")
    parser.add_argument("--since", type=parse_since_ns, default="1h",
                        help="traces started after: 10m, 2h, 1d ago or an ISO 8601 time "
                        "(default 1h)")
    parser.add_argument("--service", help="only edges from or to this service")
    parser.add_argument("--format", "-f", default="table", choices=("table", "json", "dot"),
                        help="table (default), json, or dot for Graphviz")
    parser.set_defaults(func=_deps)


def _error(message: str) -> int:
    print(f"os-tracing deps: {message}", file=sys.stderr)
    return 1


def window_spans(store: Any, since_ns: int, service: str | None = None
                 ) -> list[SpanRecord]:
    """Every span of the traces that started at or after ``since_ns`` (and, with
    ``service``, have a span of it): whole traces, since an edge needs the receiver's
    span, which may belong to another service. For stores that cannot join senders to
    receivers themselves."""
    spans: list[SpanRecord] = []
    for summary in store.list_traces(service=service, since_ns=since_ns, limit=None):
        trace = store.get_trace(summary.trace_id)
        if trace is not None:
            spans.extend(trace.spans)
    return spans


def dependency_report(store: Any, since_ns: int, service: str | None = None
                      ) -> dict[str, Any]:
    """The dependency graph of the traces that started at or after ``since_ns``: the
    document ``deps --format json`` prints and the web UI draws. The embedded store
    joins senders to receivers in SQL; any other store hands over whole traces."""
    if hasattr(store, "sender_receiver_pairs"):
        pairs = store.sender_receiver_pairs(analysis.DEPENDENCY_ATTRIBUTES, since_ns,
                                            service)
        return analysis.dependency_edges(pairs, service)
    return analysis.dependencies(window_spans(store, since_ns, service), service=service)


def _deps(args: argparse.Namespace) -> int:
    try:
        store = open_store(resolve_store_url(args.store))
    except ValueError as exc:
        return _error(str(exc))
    report: dict[str, Any] = {"edges": []}
    if store.exists():  # reading must not create an empty store
        try:
            report = dependency_report(store, args.since, args.service)
        except StoreError as exc:
            return _error(str(exc))
        finally:
            store.close()
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(_RENDER[args.format](report))
    capped_at = getattr(store, "capped_at", None)  # a remote store reads a bounded window
    if capped_at:
        print(f"os-tracing deps: note: only the newest {capped_at} traces of the window "
              f"were read from {store.path}; narrow it with --since or --service",
              file=sys.stderr)
    if not report["edges"]:
        print(f"no dependencies in the traces of {store.path} in that window",
              file=sys.stderr)
    return 0
