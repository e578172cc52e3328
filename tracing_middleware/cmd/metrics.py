"""``os-tracing metrics``: per operation, its rate, error share and latency, counted over
every request and message (sampled or not), with a kept trace to open.

Reads the RED metrics the services wrote into the embedded store (``--store`` as for
``os-tracing trace``; ``[tracing] metrics_exporters`` decides whether they write there).
A table by default, ``--format json`` the documented objects. Exit status 1 when the
store cannot be read, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from tracing_middleware.cmd.trace import parse_since_ns
from tracing_middleware.export.store import StoreError
from tracing_middleware.export.store_url import resolve_store_url
from tracing_middleware.metrics import report
from tracing_middleware.metrics.store import MetricStore
from tracing_middleware.views._layout import printable

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``metrics``; it sets ``func``."""
    parser = subparsers.add_parser(
        "metrics", help="rate, errors and latency per operation (RED metrics)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="store URL, as for `os-tracing trace` (default: "
                        "$OS_TRACING_STORE, else the default store)")
    parser.add_argument("--since", type=parse_since_ns, default="1h",
                        help="intervals ended after: 10m, 2h, 1d ago or an ISO 8601 time "
                        "(default 1h)")
    parser.add_argument("--service", help="only this service's operations")
    parser.add_argument("--format", "-f", default="table", choices=("table", "json"))
    parser.set_defaults(func=_metrics)


def _ms(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.1f} ms"


def _table(rows: list[dict[str, Any]]) -> str:
    """Names are untrusted (a route or RPC method a client chose): control characters
    are escaped so they cannot drive the terminal."""
    header = ("SERVICE", "KIND", "OPERATION", "RATE/S", "COUNT", "ERRORS", "P50", "P95",
              "P99", "EXEMPLAR TRACE")
    cells = [header] + [
        (printable(r["service"]), printable(r["kind"]), printable(r["operation"]),
         "-" if r["rate_per_s"] is None else f"{r['rate_per_s']:.2f}", str(r["count"]),
         f"{r['errors']} ({r['error_percent']:.1f}%)", _ms(r["p50_ns"]), _ms(r["p95_ns"]),
         _ms(r["p99_ns"]), printable(r["exemplar_trace_id"] or "-")) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    right = {3, 4, 5, 6, 7, 8}
    return "\n".join("  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                     .rstrip() for row in cells)


def _metrics(args: argparse.Namespace) -> int:
    try:
        url = resolve_store_url(args.store)
        store = MetricStore.from_url(url)
    except ValueError as exc:
        print(f"os-tracing metrics: {exc}", file=sys.stderr)
        return 1
    now = time.time_ns()
    try:
        points = store.read(since_ns=args.since, service=args.service)
    except StoreError as exc:
        print(f"os-tracing metrics: {exc}", file=sys.stderr)
        return 1
    rows = report.operations(points, window_ns=max(now - args.since, 1))
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif rows:
        print(_table(rows))
    if not rows:
        print(f"no metrics in {store.path} in that window (is [tracing] metrics_exporters "
              "writing there?)", file=sys.stderr)
    return 0
