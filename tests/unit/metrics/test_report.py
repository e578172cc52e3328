"""``os-tracing metrics``: per operation, the counts, shares and percentiles of the
stored intervals, with the slowest kept trace; known answers on known durations."""

from __future__ import annotations

import json
import time

from tracing_middleware.cmd import main as main_cmd
from tracing_middleware.metrics import report
from tracing_middleware.metrics.histogram import ExponentialHistogram
from tracing_middleware.metrics.points import Exemplar, SeriesKey, SeriesPoint
from tracing_middleware.metrics.store import MetricStore

MS = 1_000_000
T1, T2 = "1" * 32, "2" * 32


def point(end: int, operation: str, outcome: str, durations_ms: list[int], errors: int = 0,
          exemplars: tuple[Exemplar, ...] = ()) -> SeriesPoint:
    histogram = ExponentialHistogram()
    for value in durations_ms:
        histogram.record(value * MS)
    values = [v * MS for v in durations_ms]
    return SeriesPoint(SeriesKey("nova-api", "server", operation, outcome), end - 60 * 10**9,
                       end, len(values), errors, sum(values), min(values), max(values),
                       histogram.point(), exemplars)


def _points(now: int) -> list[SeriesPoint]:
    """DELETE: 100 requests over two intervals and two outcomes, 1..100 ms, 2 errors."""
    return [
        point(now - 60 * 10**9, "DELETE /v2.1/servers/{id}", "2xx", list(range(1, 51)),
              exemplars=(Exemplar(50 * MS, now - 61 * 10**9, T1, "a" * 16),)),
        point(now, "DELETE /v2.1/servers/{id}", "2xx", list(range(51, 99))),
        point(now, "DELETE /v2.1/servers/{id}", "5xx", [99, 100], errors=2,
              exemplars=(Exemplar(100 * MS, now - 10**9, T2, "b" * 16),)),
        point(now, "GET /v2.1/servers", "2xx", [5]),
    ]


def test_operations_merge_intervals_and_outcomes():
    now = time.time_ns()
    rows = report.operations(_points(now), window_ns=3600 * 10**9)
    delete, listing = rows
    assert (delete["operation"], delete["count"], delete["errors"]) == (
        "DELETE /v2.1/servers/{id}", 100, 2)
    assert delete["outcomes"] == {"2xx": 98, "5xx": 2}
    assert delete["error_percent"] == 2.0 and delete["rate_per_s"] == round(100 / 3600, 3)
    # 1..100 ms in 160 buckets: scale 4, each bucket 2**(1/16) wide, so an estimate is
    # within 4.4% of the exact value
    for name, exact in (("p50_ns", 50.5 * MS), ("p95_ns", 95.05 * MS), ("p99_ns", 99.01 * MS)):
        assert abs(delete[name] - exact) <= 0.044 * exact, (name, delete[name])
    assert delete["exemplar_trace_id"] == T2 and delete["exemplar_ns"] == 100 * MS
    assert listing["exemplar_trace_id"] is None and listing["p99_ns"] == 5 * MS


def test_timeline_gives_each_interval_its_own_percentiles():
    now = time.time_ns()
    steps = report.timeline(_points(now), "nova-api", "server", "DELETE /v2.1/servers/{id}")
    assert [(s["time_unix_nano"], s["count"], s["errors"]) for s in steps] == [
        (now - 60 * 10**9, 50, 0), (now, 50, 2)]
    assert steps[0]["exemplar_trace_id"] == T1 and steps[1]["exemplar_trace_id"] == T2
    assert steps[0]["p99_ns"] < steps[1]["p50_ns"]


def test_the_command_prints_the_documented_json_and_a_table(tmp_path, capsys):
    now = time.time_ns()
    url = f"sqlite:///{tmp_path}/traces.db"
    MetricStore.from_url(url).write(_points(now), "ctl1:42")

    def run(*argv: str) -> int:
        args = main_cmd.build_parser().parse_args(list(argv))
        return args.func(args)

    assert run("metrics", "--store", url, "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {k for k in rows[0]} >= {"service", "kind", "operation", "count", "errors",
                                    "p50_ns", "p95_ns", "p99_ns", "exemplar_trace_id"}
    assert [(r["operation"], r["count"], r["errors"], r["exemplar_trace_id"]) for r in rows] \
        == [("DELETE /v2.1/servers/{id}", 100, 2, T2), ("GET /v2.1/servers", 1, 0, None)]
    assert run("metrics", "--store", url, "--since", "30s") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["SERVICE", "KIND", "OPERATION"]
    assert "50" in table[1] and "2 (4.0%)" in table[1] and T2 in table[1]
    assert run("metrics", "--store", url, "--service", "glance-api") == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no metrics" in captured.err
    assert run("metrics", "--store", f"sqlite:///{tmp_path}/none.db") == 0
    assert not (tmp_path / "none.db").exists()
