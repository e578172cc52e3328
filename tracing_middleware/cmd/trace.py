"""``os-tracing trace list|show``: the embedded store from the terminal."""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import time
from typing import Any

__all__ = ["parse_duration_ns", "parse_since_ns", "register"]

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}


def parse_duration_ns(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 5ms, 1.5s, 10m)")
    return int(float(match.group(1)) * _UNITS[match.group(2) or "ms"])


def parse_since_ns(text: str) -> int:
    try:
        return time.time_ns() - parse_duration_ns(text if re.search(r"[a-z]$", text)
                                                  else text + "m")
    except argparse.ArgumentTypeError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (e.g. 10m, 2h, 2026-11-24T10:00)")
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return int(moment.timestamp() * 1e9)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("trace", help="list and show stored traces")
    sub = parser.add_subparsers(dest="trace_command", metavar="SUBCOMMAND")
    sub.required = True
    listing = sub.add_parser("list", help="newest traces first")
    listing.add_argument("--store", help="store URL (default: OS_TRACING_STORE or the "
                         "embedded store)")
    listing.add_argument("--service")
    listing.add_argument("--operation")
    listing.add_argument("--since", type=parse_since_ns, help="e.g. 10m, 2h or ISO 8601")
    listing.add_argument("--min-duration", type=parse_duration_ns, help="e.g. 5ms, 1.5s")
    listing.add_argument("--errors", action="store_true", help="only traces with errors")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=_list)
    show = sub.add_parser("show", help="one trace")
    show.add_argument("trace_id", help="trace id (or a unique prefix of 8+ digits)")
    show.add_argument("--store")
    show.add_argument("--format", default="tree", help="tree, json, html, dot, chrome, "
                      "otlp-json")
    show.add_argument("--output", "-o", help="write to this file instead of stdout")
    show.set_defaults(func=_show)
    imp = sub.add_parser("import", help="load OTLP JSON or osprofiler JSON into the store")
    imp.add_argument("file")
    imp.add_argument("--store")
    imp.set_defaults(func=_import)


def _store(url: str | None) -> Any:
    from tracing_middleware.config import default_store_url
    from tracing_middleware.export.store import SpanStore

    return SpanStore.from_url(url or default_store_url())


def _list(args: argparse.Namespace) -> int:
    store = _store(args.store)
    try:
        summaries = store.list_traces(args.service, args.operation, args.since,
                                      args.min_duration, args.errors, args.limit)
    finally:
        store.close()
    if args.json:
        print(json.dumps([{"trace_id": s.trace_id, "root": s.root_name,
                           "service": s.root_service, "services": sorted(s.services),
                           "spans": s.span_count, "start_time_unix_nano": s.start_ns,
                           "duration_ns": s.duration_ns, "error": s.error}
                          for s in summaries], indent=2))
        return 0
    rows = [("START", "TRACE ID", "ROOT OPERATION", "SERVICES", "SPANS", "DURATION", "")]
    for s in summaries:
        rows.append((time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.start_ns / 1e9)),
                     s.trace_id, s.root_name, ",".join(sorted(s.services)),
                     str(s.span_count), f"{s.duration_ns / 1e6:.3f} ms",
                     "ERROR" if s.error else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _show(args: argparse.Namespace) -> int:
    from tracing_middleware.views import FORMATS

    if args.format not in FORMATS:
        print(f"unknown format {args.format!r}; expected one of {', '.join(FORMATS)}",
              file=sys.stderr)
        return 2
    store = _store(args.store)
    try:
        trace = store.get_trace(args.trace_id)
    finally:
        store.close()
    if trace is None:
        print(f"trace {args.trace_id} not found", file=sys.stderr)
        return 1
    text = FORMATS[args.format](trace)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


def _import(args: argparse.Namespace) -> int:
    from tracing_middleware.views.osprofiler_import import import_osprofiler_json
    from tracing_middleware.views.otlp_json import import_otlp_json

    with open(args.file) as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError as exc:
        print(f"{args.file}: not JSON: {exc}", file=sys.stderr)
        return 1
    records = (import_otlp_json(text) if isinstance(doc, dict) and "resourceSpans" in doc
               else import_osprofiler_json(doc))
    store = _store(args.store)
    try:
        written = store.write(records)
    finally:
        store.close()
    traces = sorted({r.trace_id for r in records})
    print(f"imported {written} spans ({len(records) - written} already stored) in "
          f"{len(traces)} trace(s): {', '.join(traces)}")
    return 0
