"""Instructions per cast on the one-thread RPC path, counted by valgrind.

This VM's speed drifts by tens of percent within minutes, so a change worth a microsecond
hides in the spread of the timing rows. The instruction count of the same path repeats to
a few parts in a million: ``python -m bench.icount`` runs rows of ``rpc cast (fake, one
thread)`` under ``valgrind --tool=cachegrind`` (500 and 2,000 casts, after 300 for
warm-up; each twice, two at a time, keeping the lower count: a one-off such as a cache
rebuilt at start-up only ever adds) and prints the difference per cast and the ratio to
the plain driver. The ``wsgi`` rows count one request of ``wsgi request (bare app)`` the
same way (the ratio is to the bare app alone), for what the paste filter's unsampled path
and RED metrics add.

Instructions are not time (a cache miss costs many), so this is for comparing two versions
of the code; the timing rows stay the measure. Sampled rows are left out: their exporter
thread wakes on a timer, so their counts do not repeat. Needs valgrind (Debian package
``valgrind``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import os
import re
import shutil
import subprocess
import sys
from typing import Any

__all__ = ["ROWS", "main"]

#: The rows whose counts repeat (nothing runs on a timer).
ROWS = ("plain driver", "traced+ no active span", "traced+ unsampled",
        "traced+ unsampled + metrics", "oslo.messaging OTel unsampled",
        "carrier floor (reference)", "wsgi untraced", "wsgi unsampled",
        "wsgi unsampled + metrics")
#: Rows of ``wsgi request (bare app)``: one request through the paste filter, in process.
WSGI = "wsgi "
WARMUP, SHORT, LONG = 300, 500, 2000


class _NoSink:
    """Nothing is exported by these rows; a closed port, should anything try."""

    otlp = "otlp+http://127.0.0.1:9"
    traces_url = "http://127.0.0.1:9/v1/traces"


def _wsgi_row(row: str, sink: Any) -> Any:
    """The operation of a WSGI row: the bare app, alone or behind an unsampled filter
    (with RED metrics counted, and drained as in the timing rows, for ``+ metrics``)."""
    from bench import apps, peers
    from bench.__main__ import _wsgi_op
    from bench.rpc import METRICS, METRICS_BUFFER
    from tracing_middleware.metrics.recorder import Recorder

    if row == WSGI + "untraced":
        return _wsgi_op(apps.bare_app)
    filtered = peers.os_tracing_filter(apps.bare_app, sink.otlp, sampled=False)
    if row.endswith(METRICS):
        filtered._tracing.metrics = Recorder(buffer_limit=METRICS_BUFFER)
    return _wsgi_op(filtered)


def _child(row: str, casts: int) -> None:
    from bench.rpc import one_thread_variants

    sink: Any = _NoSink()
    if row.startswith(WSGI):
        op = _wsgi_row(row, sink)
    else:
        op = next(v for v in one_thread_variants(sink) if v.name == row).setup()
    for _ in range(WARMUP):
        op()
    gc.disable()
    for _ in range(casts):
        op()
    os._exit(0)  # no interpreter teardown in the count


def _instructions(row: str, casts: int) -> int:
    command = [sys.executable, "-m", "bench.icount", "--child", row, str(casts)]
    proc = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                           "--cachegrind-out-file=/dev/null", *command],
                          capture_output=True, text=True, env=_env(), check=True)
    match = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{proc.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def _env() -> dict[str, str]:
    # A fixed hash seed: set and dict layouts, and so the counts, repeat.
    return {**os.environ, "PYTHONHASHSEED": "0"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.icount", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", nargs="*", default=list(ROWS),
                        help=f"rows to count (default: all of {', '.join(ROWS)})")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.rows[0], int(args.rows[1]))
    unknown = set(args.rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; choose from {list(ROWS)}")
    if shutil.which("valgrind") is None:
        print("bench.icount needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    # One run of each row outside valgrind first: stevedore builds its entry-point cache
    # on the first run after sys.path changes (and a bare-app row loads no plugin), which
    # would land in one count and not the other.
    for row in args.rows:
        subprocess.run([sys.executable, "-m", "bench.icount", "--child", row, "0"],
                       capture_output=True, env=_env(), check=True)
    per_cast = {}
    for row in args.rows:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            short, long = (min(pool.map(_instructions, [row, row], [casts, casts]))
                           for casts in (SHORT, LONG))
        per_cast[row] = (long - short) // (LONG - SHORT)
        wsgi = row.startswith(WSGI)
        base = per_cast.get(WSGI + "untraced" if wsgi else "plain driver")
        ratio = f"{per_cast[row] / base:.3f}" if base else "-"
        unit = "instructions/request  x untraced" if wsgi else "instructions/cast  x plain"
        print(f"{row:32} {per_cast[row]:>10,} {unit} {ratio}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
