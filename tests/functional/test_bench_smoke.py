"""The benchmark harness runs (so it cannot rot); it asserts no timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_quick_span_case_reports_every_peer(tmp_path):
    """bench --quick writes results for os-tracing and each peer, with ratios computable."""
    out_file = tmp_path / "bench.json"
    out = subprocess.run([sys.executable, "-m", "bench", "--quick", "--cases", "span",
                          "--output", str(out_file)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out_file.read_text())
    variants = {r["variant"] for r in doc["results"]}
    assert variants == {"os-tracing", "otel-sdk", "jaeger-client", "osprofiler @trace"}
    assert all(r["median"] > 0 and r["unit"] == "us" for r in doc["results"])
    assert "x os-tracing" in out.stdout
