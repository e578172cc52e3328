"""The benchmark harness runs (so it cannot rot); it asserts no timings."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

SPAN_PEERS = {"os-tracing", "os-tracing (opentelemetry-sdk engine)",
              "os-tracing (jaeger engine)", "otel-sdk", "jaeger-client", "osprofiler @trace"}
CASES = {"wsgi request (bare app)", "wsgi request (json app)",
         "wsgi request + one outgoing requests call", "span start+finish",
         "span start+finish+export", "rpc call (rabbit)", "rpc cast (rabbit)",
         "rpc cast (fake, one thread)",
         "memory per queued span, collector down",
         "http req/s (threaded wsgiref, json app)", "http req/s (gunicorn sync -w 2, json app)",
         "exporter CPU share at 100% sampling (gunicorn sync -w 2, json app)",
         "span store, 20,000 spans"}

RPC_ROWS = {"plain driver", "traced+ no active span", "traced+ unsampled", "traced+ sampled"}
if importlib.util.find_spec("oslo_messaging._tracing") is not None:  # oslo.messaging 18.3+
    RPC_ROWS |= {"oslo.messaging OTel unsampled", "oslo.messaging OTel sampled"}


def test_bench_quick_runs_every_case_against_every_peer(tmp_path):
    """``bench --quick`` (what ``tox -e bench -- --quick`` runs) writes every case, with
    os-tracing and each peer, and reports no dropped span; no figure is judged."""
    out_file = tmp_path / "bench.json"
    out = subprocess.run([sys.executable, "-m", "bench", "--quick", "--output", str(out_file)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out_file.read_text())
    cases = {r["case"] for r in doc["results"]}
    assert CASES <= cases, CASES - cases
    for case in ("span start+finish", "span start+finish+export"):
        variants = {r["variant"] for r in doc["results"] if r["case"] == case}
        assert variants == SPAN_PEERS, variants
        assert all(r["median"] > 0 and r["unit"] == "us" for r in doc["results"]
                   if r["case"] == case)
    wsgi = {r["variant"] for r in doc["results"] if r["case"] == "wsgi request (bare app)"}
    assert {"untraced", "osprofiler unsigned", "otel-wsgi 100%",
            "os-tracing unsampled + metrics"} <= wsgi
    rpc = {r["variant"] for r in doc["results"] if r["case"] == "rpc cast (fake, one thread)"}
    assert rpc == RPC_ROWS | {"carrier floor (reference)", "traced+ unsampled + metrics"}, rpc
    assert not [n for n in doc["notes"] if "dropped" in n or "overflowed" in n], doc["notes"]
    assert "x os-tracing" in out.stdout


@pytest.mark.parametrize("row", ["plain driver", "traced+ unsampled",
                                 "traced+ unsampled + metrics",
                                 "oslo.messaging OTel unsampled", "carrier floor (reference)",
                                 "wsgi untraced", "wsgi unsampled + metrics"])
def test_instruction_count_rows_run(row):
    """What ``bench.icount`` runs under valgrind, run here without it (a few casts)."""
    if row.startswith("oslo.messaging") and "oslo.messaging OTel unsampled" not in RPC_ROWS:
        pytest.skip("this oslo.messaging has no tracing of its own")
    out = subprocess.run([sys.executable, "-m", "bench.icount", "--child", row, "5"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_instruction_count_refuses_an_unknown_row():
    out = subprocess.run([sys.executable, "-m", "bench.icount", "no such row"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unknown rows" in out.stderr
