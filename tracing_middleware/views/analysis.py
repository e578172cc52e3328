"""What an operator asks of traces: which spans set the latency, where the time went, what
changed between two runs of an operation, which service calls which.

Pure functions over span records, no I/O: ``os-tracing trace critical-path``,
``breakdown``, ``diff`` and ``os-tracing deps`` print what they return, and what they
return is the documented ``--format json`` shape (JSON-ready dicts, times in integer
nanoseconds).

Stored traces are incomplete (a service that does not export, a dropped batch), imported
ones are untrusted, and the clocks of two hosts disagree, so each analysis says what it
does with a span whose parent is missing, a child that starts before its parent and a
child that ends after it. Common to all of them: a span id seen twice counts once (the
earliest-starting copy) and a negative duration counts as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import Trace
from tracing_middleware.views._layout import children_of

__all__ = ["DEPENDENCY_ATTRIBUTES", "TIME_KINDS", "breakdown", "critical_path",
           "dependencies", "dependency_edges", "diff", "is_messaging_send", "is_rpc_call",
           "self_time_ns", "spans_by_path"]

#: The ``by_kind`` keys of :func:`breakdown`, in display order.
TIME_KINDS = ("processing", "queue_wait", "reply_wait", "database", "http_client")

_RECEIVERS = ("server", "consumer")
_SENDERS = ("client", "producer")
_Interval = tuple[int, int]


# -- what a span is -------------------------------------------------------------------

def _has(span: SpanRecord, *keys: str) -> bool:
    attributes = span.attributes or {}
    return any(attributes.get(key) for key in keys)


def _is_database(span: SpanRecord) -> bool:
    # db.system is the name before OpenTelemetry's semantic conventions 1.26.
    return _has(span, "db.system.name", "db.system")


def is_messaging_send(span: SpanRecord) -> bool:
    return span.kind in _SENDERS and _has(span, "rpc.system", "messaging.system")


def is_rpc_call(span: SpanRecord) -> bool:
    return span.kind == "client" and _has(span, "rpc.system")


def _is_http_client(span: SpanRecord) -> bool:
    # http.method is the name before the stable HTTP conventions (1.21).
    return span.kind == "client" and _has(span, "http.request.method", "http.method")


#: The attributes an edge's protocol is read from (see :func:`dependencies`).
DEPENDENCY_ATTRIBUTES = ("rpc.system", "messaging.system", "http.request.method",
                         "http.method")


def _protocol(span: SpanRecord) -> str | None:
    """How a CLIENT or PRODUCER span reached its receiver, ``None`` if it says nothing we
    know (a database client, a client span without attributes)."""
    rpc = _has(span, "rpc.system")
    if span.kind == "client" and rpc:
        return "rpc_call"
    if span.kind == "producer" and rpc:
        return "rpc_cast"
    if span.kind == "producer" and _has(span, "messaging.system"):
        return "notification"
    if _is_http_client(span):
        return "http"
    return None


# -- shared structure -----------------------------------------------------------------

def _end(span: SpanRecord) -> int:
    return span.start_time_unix_nano + max(0, span.duration_ns)


def _duration(span: SpanRecord) -> int:
    return max(0, span.duration_ns)


def _unique(spans: Iterable[SpanRecord]) -> list[SpanRecord]:
    """Spans by start time, one per span id."""
    seen: set[str] = set()
    result = []
    for span in sorted(spans, key=lambda s: (s.start_time_unix_nano, s.span_id)):
        if span.span_id not in seen:
            seen.add(span.span_id)
            result.append(span)
    return result


def _root(spans: Sequence[SpanRecord]) -> tuple[SpanRecord, list[SpanRecord],
                                                dict[str, list[SpanRecord]]]:
    """The trace's root, the other top-level spans (orphans) it adopts, and children
    by parent id; see :func:`critical_path` for the rule."""
    roots, children = children_of(Trace("", list(spans)))
    if not roots:  # every span is in a parent cycle: start from the earliest
        return spans[0], [], children
    root = next((s for s in roots if not s.parent_span_id), roots[0])
    return root, [s for s in roots if s is not root], children


def _covered(span: SpanRecord, children: Iterable[SpanRecord]) -> list[_Interval]:
    """The children's intervals clipped to ``span``, merged, in time order."""
    lo, hi = span.start_time_unix_nano, _end(span)
    clipped = sorted((max(c.start_time_unix_nano, lo), min(_end(c), hi)) for c in children)
    merged: list[_Interval] = []
    for start, end in clipped:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _self_intervals(span: SpanRecord, children: Iterable[SpanRecord]) -> list[_Interval]:
    """The parts of ``span`` no child covers."""
    free = []
    cursor = span.start_time_unix_nano
    for start, end in _covered(span, children):
        if start > cursor:
            free.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < _end(span):
        free.append((cursor, _end(span)))
    return free


def self_time_ns(span: SpanRecord, children: Iterable[SpanRecord]) -> int:
    """``span``'s duration minus the union of its children's intervals, each clipped to
    ``span``: the time no child explains, whether children overlap each other, start
    before ``span`` (clock skew) or end after it (a cast outliving its sender)."""
    return sum(end - start for start, end in _self_intervals(span, children))


def _overlap(intervals: Iterable[_Interval], regions: Iterable[_Interval]) -> int:
    """How much of the disjoint ``intervals`` lies in the union of ``regions``."""
    merged: list[_Interval] = []
    for start, end in sorted(r for r in regions if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return sum(max(0, min(e, re) - max(s, rs)) for s, e in intervals for rs, re in merged)


# -- critical path --------------------------------------------------------------------

def critical_path(trace: Trace) -> dict[str, Any]:
    """The spans that determined the root's latency, and how much of it each one holds.

    The walk is Jaeger UI's critical path (itself Uber's CRISP, Zhang et al., USENIX ATC
    2022): from the root's end, go back through the child that finished last, then the
    child that finished last before that child started, and so on; inside each child the
    same, recursively. A span's ``contribution_ns`` is the time on the path no chosen child
    of it explains, its self time on the path. Precisely:

    * The root is the earliest-starting span without a parent, failing that the
      earliest-starting span whose parent is not stored (as ``trace list`` names a
      trace's root). Every other top-level span (an orphan, a second parentless span) is
      adopted as a child of the root: its lost parent was somewhere below the root, and
      its work happened during the request all the same, so an orphan that finished
      last is on the path.
    * Children are clipped to their parent's (already clipped) interval before the walk:
      a child that started before its parent (clock skew) is taken from its parent's
      start, one that ends after its parent (an RPC cast's consumer, a notification
      handler) up to its parent's end, and one wholly outside its parent is left out with
      its subtree, as are zero-length children.
    * A CONSUMER child is left out with its subtree: its parent sent a message and went
      on, it did not wait (Jaeger UI leaves out such non-blocking children the same way).
      A PRODUCER child stays: sending the message blocked its parent.
    * "Finished before" is ``<=``: back-to-back children are both on the path. Of
      children ending at the same time the earliest-starting one is taken.

    Hence the contributions add up to exactly the root's ``duration_ns``. Work that went
    on after the root ended (a cast's consumer, the trace's other roots) is not on the
    path, since the root's caller did not wait for it; ``after_root_ns`` says how long
    the trace went on past the root's end, and :func:`breakdown` counts that work.

    Returns::

        {"trace_id": str, "root_span_id": str | None,
         "duration_ns": int,        # the root's duration, the sum of the contributions
         "after_root_ns": int,      # latest end of any span minus the root's end, or 0
         "path": [{"span_id", "parent_span_id", "service", "name", "kind", "status",
                   "depth": int,    # below the root, on the path
                   "orphan": bool,  # adopted by the root
                   "duration_ns": int, "contribution_ns": int}]}

    ``path`` lists each span on the path once, root first, then depth first with
    children in start order (a tree of the path, ready to indent by ``depth``).
    """
    spans = _unique(trace.spans)
    if not spans:
        return {"trace_id": trace.trace_id, "root_span_id": None, "duration_ns": 0,
                "after_root_ns": 0, "path": []}
    root, adopted, children = _root(spans)
    bounds: dict[str, _Interval] = {root.span_id: (root.start_time_unix_nano, _end(root))}
    kids: dict[str, list[SpanRecord]] = {}
    reached = [root]
    for span in reached:  # breadth first; clipping needs the parent's clipped interval
        lo, hi = bounds[span.span_id]
        candidates = children.get(span.span_id, [])
        if span is root:
            candidates = candidates + adopted
        for child in candidates:
            if child.span_id in bounds or child.kind == "consumer":
                continue
            start, end = max(child.start_time_unix_nano, lo), min(_end(child), hi)
            if end <= start:
                continue
            bounds[child.span_id] = (start, end)
            kids.setdefault(span.span_id, []).append(child)
            reached.append(child)
    for siblings in kids.values():
        siblings.sort(key=lambda c: (bounds[c.span_id][1], -bounds[c.span_id][0],
                                     c.span_id))

    # Iterative, so a chain thousands of spans deep cannot hit the recursion limit. A
    # frame is (span id, time still to explain back from, index of the next candidate).
    contribution: dict[str, int] = {}
    stack = [(root.span_id, _end(root), len(kids.get(root.span_id, ())) - 1)]
    while stack:
        span_id, until, index = stack.pop()
        siblings = kids.get(span_id, [])
        while index >= 0 and bounds[siblings[index].span_id][1] > until:
            index -= 1
        if index < 0:
            contribution[span_id] = (contribution.get(span_id, 0) + until
                                     - bounds[span_id][0])
            continue
        child = siblings[index]
        start, end = bounds[child.span_id]
        contribution[span_id] = contribution.get(span_id, 0) + until - end
        stack.append((span_id, start, index - 1))
        stack.append((child.span_id, end, len(kids.get(child.span_id, ())) - 1))

    adopted_ids = {s.span_id for s in adopted}
    path = []
    todo = [(root, 0)]
    while todo:
        span, depth = todo.pop()
        path.append({"span_id": span.span_id, "parent_span_id": span.parent_span_id,
                     "service": span.service, "name": span.name, "kind": span.kind,
                     "status": span.status, "depth": depth,
                     "orphan": span.span_id in adopted_ids,
                     "duration_ns": _duration(span),
                     "contribution_ns": contribution[span.span_id]})
        on_path = [c for c in kids.get(span.span_id, []) if c.span_id in contribution]
        on_path.sort(key=lambda c: (c.start_time_unix_nano, c.span_id), reverse=True)
        todo.extend((c, depth + 1) for c in on_path)
    latest = max(_end(s) for s in spans)
    return {"trace_id": trace.trace_id, "root_span_id": root.span_id,
            "duration_ns": _duration(root), "after_root_ns": max(0, latest - _end(root)),
            "path": path}


# -- breakdown ------------------------------------------------------------------------

def breakdown(trace: Trace) -> dict[str, Any]:
    """Where a trace's time went, by service and by kind of time.

    Every span's *self time* is counted once (:func:`self_time_ns`, children being the
    spans naming it as parent; orphans count in full). ``total_ns`` is their sum: the
    time spent in the spans' own code, which exceeds the trace's wall-clock duration when
    spans ran in parallel. ``by_service`` splits it by the span's service, so
    ``sum(by_service.values()) == total_ns``.

    ``by_kind``: each span falls in the first of these that fits

    * ``database``: has ``db.system.name`` (or the older ``db.system``); its self time.
    * messaging sender: a CLIENT or PRODUCER span with ``rpc.system`` or
      ``messaging.system``. Its self time is the two waits below where they fall inside
      it, and ``processing`` for the rest (a cast's or notification's publishing, a call
      whose server is not traced, since nothing tells the queue from the remote's work).
    * ``http_client``: a CLIENT span with ``http.request.method`` (or ``http.method``);
      its self time: the whole call when the remote is not traced, what the server span
      does not cover (connecting, the network, the server's stack outside its own span)
      when it is.
    * ``processing``: any other span; its self time.

    and the two waits, counted per message rather than from self time:

    * ``queue_wait``: over every SERVER or CONSUMER span whose parent is a messaging
      sender of another service, the receiver's start minus the sender's start (0 if
      negative, which is clock skew): from starting to send to starting to handle.
    * ``reply_wait``: over every RPC call (a CLIENT span with ``rpc.system``) with a
      SERVER child, the call's end minus the end of its latest-ending server (0 if
      negative): from the server finishing to the caller having the reply.

    A wait inside its sender's self time (a call's send and reply, a cast's publishing)
    is that self time; the rest, chiefly a cast's message sitting in the queue after its
    producer span ended, is time no span covers, reported as ``wait_outside_self_ns``.
    So ``sum(by_kind.values()) == total_ns + wait_outside_self_ns``.

    Returns::

        {"trace_id": str, "total_ns": int,
         "by_service": {service: ns}, "by_kind": {kind: ns for kind in TIME_KINDS},
         "wait_outside_self_ns": int,
         "duration_ns": int,    # the root's duration (the critical path's total)
         "span_count": int}
    """
    spans = _unique(trace.spans)
    children = children_of(Trace(trace.trace_id, spans))[1]
    by_service: dict[str, int] = {}
    by_kind = dict.fromkeys(TIME_KINDS, 0)
    waits_in_self = 0
    for span in spans:
        kids = children.get(span.span_id, [])
        free = _self_intervals(span, kids)
        own = sum(end - start for start, end in free)
        by_service[span.service] = by_service.get(span.service, 0) + own
        if _is_database(span):
            by_kind["database"] += own
        elif is_messaging_send(span):
            regions = []
            receivers = [k for k in kids
                         if k.kind in _RECEIVERS and k.service != span.service]
            if receivers:
                by_kind["queue_wait"] += sum(
                    max(0, k.start_time_unix_nano - span.start_time_unix_nano)
                    for k in receivers)
                regions.append((span.start_time_unix_nano,
                                min(k.start_time_unix_nano for k in receivers)))
            servers = [k for k in kids if k.kind == "server"]
            if is_rpc_call(span) and servers:
                replied = max(_end(k) for k in servers)
                by_kind["reply_wait"] += max(0, _end(span) - replied)
                regions.append((replied, _end(span)))
            waiting = _overlap(free, regions)
            waits_in_self += waiting
            by_kind["processing"] += own - waiting
        elif _is_http_client(span):
            by_kind["http_client"] += own
        else:
            by_kind["processing"] += own
    total = sum(by_service.values())
    root_duration = _duration(_root(spans)[0]) if spans else 0
    return {"trace_id": trace.trace_id, "total_ns": total,
            "by_service": dict(sorted(by_service.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_kind": by_kind,
            "wait_outside_self_ns": by_kind["queue_wait"] + by_kind["reply_wait"]
            - waits_in_self,
            "duration_ns": root_duration, "span_count": len(spans)}


# -- diff -----------------------------------------------------------------------------

_Key = tuple[tuple[str, str, int], ...]


def spans_by_path(trace: Trace) -> dict[_Key, SpanRecord]:
    """Each span under its path from the root, in tree order (depth first, start order).

    A path step is (service, name, index), the index counting earlier-starting siblings
    with the same service and name; top-level spans (roots, orphans) are siblings of one
    another. Spans only reachable through a parent cycle are left out.
    """
    spans = _unique(trace.spans)
    roots, children = children_of(Trace(trace.trace_id, spans))
    keyed: dict[_Key, SpanRecord] = {}
    seen: set[str] = set()

    def numbered(siblings: Iterable[SpanRecord], parent: _Key) -> list[tuple[_Key,
                                                                          SpanRecord]]:
        counts: dict[tuple[str, str], int] = {}
        result = []
        for span in siblings:
            index = counts.get((span.service, span.name), 0)
            counts[(span.service, span.name)] = index + 1
            result.append(((*parent, (span.service, span.name, index)), span))
        return result

    todo = numbered(roots, ())[::-1]
    while todo:
        key, span = todo.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        keyed[key] = span
        todo.extend(numbered(children.get(span.span_id, []), key)[::-1])
    return keyed


def _path(key: _Key) -> list[list[Any]]:
    return [list(step) for step in key]


def diff(a: Trace, b: Trace, min_change_ns: int = 0) -> dict[str, Any]:
    """Two traces of the same operation, span by span and along their critical paths.

    Spans match when their paths from the root match step for step, a step being
    (service, name, position among the siblings with that service and name, in start
    order); so the third ``SELECT`` under a request matches the third, and a span whose
    parent did not match matches nothing. Durations are compared, not start offsets.

    * ``changed``: matched spans whose durations differ by more than ``min_change_ns``,
      largest difference first (then in ``a``'s tree order).
    * ``only_in_a`` / ``only_in_b``: unmatched spans, in tree order.
    * ``critical_path``: every span on either trace's critical path with its
      contribution in each (0 where it is not on that path), those that differ, largest
      difference first. Contributions add up to the root's duration in each trace, so
      the ``delta_ns`` of ``changed`` add up to the difference of the roots' durations:
      it says which spans account for the change in latency.

    Returns::

        {"a": trace_id_a, "b": trace_id_b,
         "changed": [{"service", "name", "path", "a_ns", "b_ns", "delta_ns"}],
         "only_in_a": [{"service", "name", "path", "a_ns"}],
         "only_in_b": [{"service", "name", "path", "b_ns"}],
         "critical_path": {"a_ns": int, "b_ns": int, "delta_ns": int,
                           "changed": [{"service", "name", "path", "a_ns", "b_ns",
                                        "delta_ns"}]}}

    ``path`` is the list of ``[service, name, index]`` steps from the root to the span
    itself, index counting from 0. ``delta_ns`` is ``b_ns - a_ns``.
    """
    keyed_a, keyed_b = spans_by_path(a), spans_by_path(b)
    order = {key: i for i, key in enumerate([*keyed_a, *(k for k in keyed_b
                                                         if k not in keyed_a)])}

    def entry(key: _Key, **values: int) -> dict[str, Any]:
        service, name, _ = key[-1]
        return {"service": service, "name": name, "path": _path(key), **values}

    def by_change(item: tuple[_Key, int, int]) -> tuple[int, int]:
        key, old, new = item
        return -abs(new - old), order[key]

    matched = sorted(((key, _duration(span), _duration(keyed_b[key]))
                      for key, span in keyed_a.items() if key in keyed_b), key=by_change)
    changed = [entry(key, a_ns=old, b_ns=new, delta_ns=new - old)
               for key, old, new in matched if abs(new - old) > min_change_ns]

    def contributions(trace: Trace, keyed: dict[_Key, SpanRecord]) -> dict[_Key, int]:
        key_of = {span.span_id: key for key, span in keyed.items()}
        return {key_of[step["span_id"]]: step["contribution_ns"]
                for step in critical_path(trace)["path"] if step["span_id"] in key_of}

    path_a, path_b = contributions(a, keyed_a), contributions(b, keyed_b)
    on_either = sorted(((key, path_a.get(key, 0), path_b.get(key, 0))
                        for key in {**path_a, **path_b}), key=by_change)
    total_a, total_b = sum(path_a.values()), sum(path_b.values())
    return {
        "a": a.trace_id, "b": b.trace_id,
        "changed": changed,
        "only_in_a": [entry(key, a_ns=_duration(span)) for key, span in keyed_a.items()
                      if key not in keyed_b],
        "only_in_b": [entry(key, b_ns=_duration(span)) for key, span in keyed_b.items()
                      if key not in keyed_a],
        "critical_path": {
            "a_ns": total_a, "b_ns": total_b, "delta_ns": total_b - total_a,
            "changed": [entry(key, a_ns=old, b_ns=new, delta_ns=new - old)
                        for key, old, new in on_either if new != old]},
    }


# -- dependencies ---------------------------------------------------------------------

def _percentile(ordered: Sequence[int], percent: int) -> int:
    """Nearest rank: the smallest value with at least ``percent``% of the values at or
    below it, so the answer is a duration that was observed."""
    rank = -(-percent * len(ordered) // 100)
    return ordered[max(rank, 1) - 1]


def dependencies(spans: Iterable[SpanRecord], service: str | None = None
                 ) -> dict[str, Any]:
    """Which service calls which, how, how often, how fast and how often failing.

    An edge joins the service of a CLIENT or PRODUCER span to the service of a SERVER or
    CONSUMER span that is its child in the same trace. ``protocol`` comes from the
    sender: ``rpc_call`` a CLIENT span with ``rpc.system``, ``rpc_cast`` a PRODUCER span
    with ``rpc.system``, ``notification`` a PRODUCER span with ``messaging.system`` and
    no ``rpc.system``, ``http`` a CLIENT span with ``http.request.method`` (or
    ``http.method``); a sender that is none of these (a database client) makes no edge,
    nor does a sender whose receiver is not traced or a receiver whose sender is not
    stored. Edges within one service (compute to compute) are edges too.

    Numbers are per sending span, each counted once per edge even if several receivers
    of that service handled it (a fanout cast): ``calls`` how many, ``errors`` how many
    have status error (an error deep in the receiver that the sender did not see is not
    the edge's), ``p50_ns`` and ``p95_ns`` their durations' nearest-rank percentiles.
    ``service`` keeps the edges from or to that service.

    Returns ``{"edges": [{"from", "to", "protocol", "calls", "errors", "p50_ns",
    "p95_ns"}]}`` ordered by from, to, protocol.
    """
    by_id: dict[tuple[str, str], SpanRecord] = {}
    for span in spans:
        by_id.setdefault((span.trace_id, span.span_id), span)
    pairs = []
    for receiver in by_id.values():
        if receiver.kind not in _RECEIVERS or not receiver.parent_span_id:
            continue
        sender = by_id.get((receiver.trace_id, receiver.parent_span_id))
        if sender is None or sender is receiver or sender.kind not in _SENDERS:
            continue
        pairs.append((sender, receiver.service))
    return dependency_edges(pairs, service)


def dependency_edges(pairs: Iterable[tuple[SpanRecord, str]], service: str | None = None
                     ) -> dict[str, Any]:
    """:func:`dependencies` from its (sender span, receiver's service) pairs: each
    sender a CLIENT or PRODUCER span whose SERVER or CONSUMER child of that service is
    stored. A store that can join senders to receivers itself (``SpanStore.
    sender_receiver_pairs``) hands the pairs here directly, so both paths share one
    definition of an edge. A sender needs only its ids, service, kind, duration, status
    and the attributes :func:`dependencies` names."""
    senders: dict[tuple[str, str, str], dict[tuple[str, str], SpanRecord]] = {}
    for sender, receiver_service in pairs:
        protocol = _protocol(sender)
        if protocol is None:
            continue
        if service is not None and service not in (sender.service, receiver_service):
            continue
        edge = (sender.service, receiver_service, protocol)
        senders.setdefault(edge, {})[(sender.trace_id, sender.span_id)] = sender
    edges = []
    for (source, target, protocol), calls in sorted(senders.items()):
        durations = sorted(_duration(s) for s in calls.values())
        edges.append({"from": source, "to": target, "protocol": protocol,
                      "calls": len(durations),
                      "errors": sum(s.status == "error" for s in calls.values()),
                      "p50_ns": _percentile(durations, 50),
                      "p95_ns": _percentile(durations, 95)})
    return {"edges": edges}
