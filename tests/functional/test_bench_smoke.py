"""The benchmark harness runs (so it cannot rot); it asserts no timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SPAN_PEERS = {"os-tracing", "os-tracing (jaeger engine)", "otel-sdk", "jaeger-client",
              "osprofiler @trace"}
#: Skipped, with a note, where this engine name is not registered.
OPTIONAL = {"os-tracing (opentelemetry-sdk engine)"}


def test_bench_quick_span_case_reports_every_peer(tmp_path):
    """bench --quick writes both span cases for os-tracing and each peer, with ratios."""
    out_file = tmp_path / "bench.json"
    out = subprocess.run([sys.executable, "-m", "bench", "--quick", "--cases", "span",
                          "--output", str(out_file)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out_file.read_text())
    cases = {r["case"] for r in doc["results"]}
    assert cases == {"span start+finish", "span start+finish+export"}
    for case in cases:
        variants = {r["variant"] for r in doc["results"] if r["case"] == case}
        assert SPAN_PEERS <= variants <= SPAN_PEERS | OPTIONAL, variants
    assert all(r["median"] > 0 and r["unit"] == "us" for r in doc["results"])
    assert not [n for n in doc["notes"] if "dropped" in n or "overflowed" in n], doc["notes"]
    assert "x os-tracing" in out.stdout
