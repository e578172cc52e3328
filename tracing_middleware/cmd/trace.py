"""``os-tracing trace list|find|show|import|critical-path|breakdown|diff``: the span
store from the terminal.

Every subcommand takes ``--store URL``; without it ``$OS_TRACING_STORE``, else the XDG
default (see ``tracing_middleware.export.store_url``). Results go to stdout, problems to
stderr with exit status 1 (2 for usage errors, as argparse does), so the commands compose
in shell pipelines.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from tracing_middleware.views import FORMATS

__all__ = ["parse_duration_ns", "parse_since_ns", "register"]

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h|d)?\s*")


def parse_duration_ns(text: str) -> int:
    """``5ms``, ``1.5s``, ``250us``, ``2m``; a bare number is milliseconds."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (e.g. 5ms, 1.5s, 250us)")
    return int(float(match.group(1)) * _UNITS[match.group(2) or "ms"])


def parse_since_ns(text: str, now_ns: Callable[[], int] = time.time_ns) -> int:
    """``10m``/``2h``/``1d`` ago (a bare number is minutes), or an ISO 8601 time.

    An ISO time without a zone is local time, as a person typing it means.
    """
    match = _DURATION.fullmatch(text)
    if match:
        return now_ns() - int(float(match.group(1)) * _UNITS[match.group(2) or "m"])
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (e.g. 10m, 2h, 2026-11-24T10:00:00Z)")
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def register(subparsers: Any) -> None:
    """Add ``trace`` with ``list``, ``show`` and ``import``; each sets ``func``."""
    parser = subparsers.add_parser(
        "trace", help="list, find, show, analyse and import stored traces",
        description="Look at the traces in the embedded span store.")
    sub = parser.add_subparsers(dest="trace_command", metavar="SUBCOMMAND")
    sub.required = True
    store_help = ("store URL: sqlite:///relative or sqlite:////absolute, or traces in "
                  "jaeger+http://host:16686 or tempo+http://host:3200 (default: "
                  "$OS_TRACING_STORE, else ~/.local/share/os-tracing/traces.db)")

    listing = sub.add_parser("list", help="traces, newest first")
    listing.add_argument("--store", help=store_help)
    _add_filters(listing)
    listing.add_argument("--format", "-f", default="table", choices=("table", "json"),
                         help="a table, or a JSON array (the same objects trace find prints)")
    listing.add_argument("--json", action="store_const", dest="format", const="json",
                         help="the same as --format json")
    listing.set_defaults(func=_list)

    show = sub.add_parser("show", help="one trace")
    show.add_argument("trace_id", help="trace id, a unique prefix of 8+ hex digits, or "
                      "an osprofiler base id (UUID)")
    show.add_argument("--store", help=store_help)
    show.add_argument("--format", "-f", default="tree", choices=list(FORMATS),
                      help="tree (default), json, html, dot, chrome (Perfetto), otlp-json")
    show.add_argument("--output", "-o", help="write to this file instead of stdout")
    show.set_defaults(func=_show)

    imp = sub.add_parser("import", help="load OTLP/JSON or osprofiler JSON into the store")
    imp.add_argument("file", help="the file ('-' for stdin): OTLP/JSON (one request, or "
                     "one per line as the collector's file exporter writes) or "
                     "`osprofiler trace show --json` output")
    imp.add_argument("--store", help=store_help)
    imp.set_defaults(func=_import)
    _register_analyses(sub, store_help)
    _register_find(sub, store_help)


def _error(message: str) -> int:
    print(f"os-tracing trace: {message}", file=sys.stderr)
    return 1


def _open(url_arg: str | None) -> Any:
    """The store named by ``--store`` > ``$OS_TRACING_STORE`` > default; ValueError if bad."""
    from tracing_middleware.export.store_url import resolve_store_url
    from tracing_middleware.views.remote_store import open_store

    return open_store(resolve_store_url(url_arg))


def _list(args: argparse.Namespace) -> int:
    return _print_summaries(args, lambda store: store.list_traces(
        service=args.service, operation=args.operation, since_ns=args.since,
        min_duration_ns=args.min_duration, errors_only=args.errors, limit=args.limit),
        lambda path: f"no traces in {path}")


def _print_summaries(args: argparse.Namespace, query: Callable[[Any], Sequence[Any]],
                     empty: Callable[[str], str]) -> int:
    """``trace list`` and ``trace find``: run ``query`` on the store (never creating one
    that is not there), print the traces as a table or JSON, and ``empty(store path)``
    on stderr when there are none."""
    from tracing_middleware.export.store import StoreError

    try:
        store = _open(args.store)
    except ValueError as exc:
        return _error(str(exc))
    summaries: Sequence[Any] = []
    if store.exists():
        try:
            summaries = query(store)
        except StoreError as exc:
            return _error(str(exc))
        finally:
            store.close()
    if args.format == "json":
        print(json.dumps([s.to_json() for s in summaries], indent=2))
    else:
        _print_table(_summary_rows(summaries), right={4, 5})
    if not summaries:
        print(empty(store.path), file=sys.stderr)
    return 0


def _print_table(rows: Sequence[Sequence[str]], right: set[int]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.rjust(w) if i in right else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())


def _show(args: argparse.Namespace) -> int:
    from tracing_middleware.export.store import StoreError
    from tracing_middleware.views import analysis, tree

    try:
        store = _open(args.store)
    except ValueError as exc:
        return _error(str(exc))
    if not store.exists():
        return _error(f"trace {args.trace_id} not found: store {store.path} does not exist")
    try:
        trace = store.get_trace(args.trace_id)
        matches = [] if trace is not None else store.find_trace_ids(
            args.trace_id.replace("-", ""), limit=5)
    except StoreError as exc:
        return _error(str(exc))
    finally:
        store.close()
    if trace is None:
        if len(matches) > 1 and len(args.trace_id) >= 8:
            return _error(f"trace id prefix {args.trace_id} is ambiguous: "
                          f"{', '.join(matches)}{', ...' if len(matches) == 5 else ''}")
        return _error(f"trace {args.trace_id} not found in {store.path}")
    if args.format == "tree":
        color = (args.output is None and sys.stdout.isatty()
                 and not os.environ.get("NO_COLOR"))
        path = analysis.critical_path(trace)["path"]
        text = tree.render(trace, color=color,
                           critical={step["span_id"]: step["contribution_ns"] for step in path})
    else:
        text = FORMATS[args.format](trace)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        except OSError as exc:
            return _error(f"cannot write {args.output}: {exc}")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def _parse_import(text: str) -> list[Any]:
    """Records from OTLP/JSON (one document or JSON lines) or osprofiler JSON."""
    from tracing_middleware.views.osprofiler_import import import_osprofiler_json
    from tracing_middleware.views.otlp_json import import_otlp_json

    try:
        doc = json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise ValueError("empty input") from None
        try:
            return [r for line in lines for r in import_otlp_json(line)]
        except ValueError as exc:
            raise ValueError(f"neither JSON nor OTLP/JSON lines: {exc}") from None
    if isinstance(doc, dict) and "resourceSpans" in doc:
        return import_otlp_json(text)
    if isinstance(doc, dict) and "children" in doc:
        return import_osprofiler_json(doc)
    raise ValueError("not OTLP/JSON (no resourceSpans) nor osprofiler JSON (no children)")


def _import(args: argparse.Namespace) -> int:
    from tracing_middleware.export.store import StoreError

    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
    except OSError as exc:
        return _error(f"cannot read {args.file}: {exc}")
    try:
        records = _parse_import(text)
    except ValueError as exc:
        return _error(f"{args.file}: {exc}")
    try:
        store = _open(args.store)
    except ValueError as exc:
        return _error(str(exc))
    if not hasattr(store, "write"):
        return _error(f"{store.path}: traces are imported into the embedded store only; "
                      "send them to Jaeger or Tempo over OTLP")
    try:
        written = store.write(records)
    except StoreError as exc:
        return _error(str(exc))
    finally:
        store.close()
    traces = sorted({r.trace_id for r in records})
    print(f"imported {written} spans ({len(records) - written} already stored) in "
          f"{len(traces)} trace(s): {', '.join(traces)}")
    return 0


# -- critical-path, breakdown, diff: the analyses of views.analysis ---------------------

_TRACE_ID_HELP = ("trace id, a unique prefix of 8+ hex digits, or an osprofiler base id "
                  "(UUID)")


def _register_analyses(sub: Any, store_help: str) -> None:
    """Add ``critical-path``, ``breakdown`` and ``diff``. Each prints text, or with
    ``--format json`` the document its analysis in
    :mod:`tracing_middleware.views.analysis` defines, and finds traces as ``show``
    does."""
    critical = sub.add_parser("critical-path", help="the spans that set a trace's latency")
    critical.add_argument("trace_id", help=_TRACE_ID_HELP)
    critical.add_argument("--store", help=store_help)
    critical.add_argument("--format", "-f", default="tree", choices=("tree", "json"),
                          help="tree (default): the path indented, with each span's "
                          "share of the latency; json")
    critical.set_defaults(func=_one_trace_report, report="critical_path")

    split = sub.add_parser("breakdown", help="a trace's time by service and by kind")
    split.add_argument("trace_id", help=_TRACE_ID_HELP)
    split.add_argument("--store", help=store_help)
    split.add_argument("--format", "-f", default="table", choices=("table", "json"),
                       help="table (default) or json")
    split.set_defaults(func=_one_trace_report, report="breakdown")

    compare = sub.add_parser("diff", help="two traces of one operation, span by span")
    compare.add_argument("trace_a", help=_TRACE_ID_HELP)
    compare.add_argument("trace_b", help="the trace to compare with, the same way")
    compare.add_argument("--store", help=store_help)
    compare.add_argument("--min-change", type=parse_duration_ns, default=0,
                         help="list a changed span only if its duration changed by more "
                         "than this: 1ms, 500us (default: any change)")
    compare.add_argument("--format", "-f", default="table", choices=("table", "json"),
                         help="table (default) or json")
    compare.set_defaults(func=_diff)


def _load_traces(url_arg: str | None, trace_ids: Sequence[str]
                 ) -> tuple[list[Any], str | None]:
    """The traces named (as ``show`` finds them), or the message for the first missing:
    no store, not found, or an ambiguous prefix with its candidates."""
    from tracing_middleware.export.store import StoreError

    try:
        store = _open(url_arg)
    except ValueError as exc:
        return [], str(exc)
    if not store.exists():
        return [], f"trace {trace_ids[0]} not found: store {store.path} does not exist"
    traces = []
    try:
        for trace_id in trace_ids:
            trace = store.get_trace(trace_id)
            if trace is None:
                matches = store.find_trace_ids(trace_id.replace("-", ""), limit=5)
                if len(matches) > 1 and len(trace_id) >= 8:
                    return [], (f"trace id prefix {trace_id} is ambiguous: "
                                f"{', '.join(matches)}{', ...' if len(matches) == 5 else ''}")
                return [], f"trace {trace_id} not found in {store.path}"
            traces.append(trace)
    except StoreError as exc:
        return [], str(exc)
    finally:
        store.close()
    return traces, None


def _print_report(report: Any, as_json: bool, text: Callable[[Any], str]) -> int:
    print(json.dumps(report, indent=2, default=str) if as_json else text(report))
    return 0


def _one_trace_report(args: argparse.Namespace) -> int:
    """``critical-path`` and ``breakdown``: ``args.report`` names the analysis, which
    has the same name in :mod:`~tracing_middleware.views.analysis` (the JSON) and
    :mod:`~tracing_middleware.views.analysis_text` (the text)."""
    from tracing_middleware.views import analysis, analysis_text

    traces, problem = _load_traces(args.store, [args.trace_id])
    if problem is not None:
        return _error(problem)
    return _print_report(getattr(analysis, args.report)(traces[0]), args.format == "json",
                         getattr(analysis_text, args.report))


def _diff(args: argparse.Namespace) -> int:
    from tracing_middleware.views import analysis, analysis_text

    traces, problem = _load_traces(args.store, [args.trace_a, args.trace_b])
    if problem is not None:
        return _error(problem)
    report = analysis.diff(traces[0], traces[1], min_change_ns=args.min_change)
    return _print_report(report, args.format == "json", analysis_text.diff)


# -- find: the traces of a request id, and every filter of the store's search -----------

def _request_id(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("empty request id")
    return text.strip()


def _attribute(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(
            f"not key=value: {text!r} (e.g. http.response.status_code=500)")
    return key.strip(), value


def _register_find(sub: Any, store_help: str) -> None:
    """Add ``find``: ``list``'s filters plus a request id, an attribute and ``--until``."""
    find = sub.add_parser(
        "find", help="the traces of a request id, newest first",
        description="Find traces by the request id in an error message or a log line: a "
        "trace matches when any of its spans carries the id as openstack.request_id or "
        "openstack.global_request_id. The other filters narrow the search, or search "
        "without an id.")
    find.add_argument("--request-id", type=_request_id,
                      help="a request id or global request id (req-<uuid>)")
    _add_filters(find)
    find.add_argument("--attribute", type=_attribute, metavar="KEY=VALUE",
                      help="traces with a span with this attribute (with --service or "
                      "--operation: that span), e.g. http.response.status_code=500")
    find.add_argument("--until", type=parse_since_ns,
                      help="started before: 10m, 2h, 1d ago or an ISO 8601 time")
    find.add_argument("--format", "-f", default="table", choices=("table", "json"),
                      help="table (default), or json: the objects of trace list --json")
    find.add_argument("--store", help=store_help)
    find.set_defaults(func=_find)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    """The trace filters ``trace list`` and ``trace find`` share."""
    parser.add_argument("--service", help="traces with a span of this service")
    parser.add_argument("--operation", help="traces with a span of this name (with "
                        "--service: a span of that service)")
    parser.add_argument("--since", type=parse_since_ns,
                        help="started at or after: 10m, 2h, 1d ago or an ISO 8601 time")
    parser.add_argument("--min-duration", type=parse_duration_ns,
                        help="lasted at least: 5ms, 1.5s")
    parser.add_argument("--errors", action="store_true", help="only traces with errors")
    parser.add_argument("--limit", type=_positive_int, default=20,
                        help="at most this many (default 20)")


def _find(args: argparse.Namespace) -> int:
    wanted = f" request id {args.request_id}" if args.request_id else ""
    return _print_summaries(args, lambda store: store.find_traces(
        request_id=args.request_id, service=args.service, operation=args.operation,
        since_ns=args.since, until_ns=args.until, errors=args.errors,
        min_duration_ns=args.min_duration, attribute=args.attribute, limit=args.limit),
        lambda path: f"os-tracing trace: no trace matches{wanted} in {path}")


def _summary_rows(summaries: Sequence[Any]) -> list[tuple[str, ...]]:
    """``trace list``'s table: a header, then one row per trace."""
    from tracing_middleware.views._layout import printable

    rows = [("START", "TRACE ID", "ROOT OPERATION", "SERVICES", "SPANS", "DURATION", "")]
    for s in summaries:
        started = datetime.datetime.fromtimestamp(s.start_ns / 1e9).astimezone()
        rows.append((started.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], s.trace_id,
                     printable(s.root_name), printable(",".join(sorted(s.services))),
                     str(s.span_count), f"{s.duration_ns / 1e6:.3f} ms",
                     "ERROR" if s.error else ""))
    return rows
