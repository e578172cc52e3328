"""The ``os-tracing`` command run as operators run it: a subprocess, its exit status,
stdout and stderr."""

from __future__ import annotations

import json
import subprocess
import sys

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore


def _record(trace: int, span: int, parent: int | None = None, **kw) -> SpanRecord:
    values = dict(trace_id=f"{trace:032x}", span_id=f"{span:016x}",
                  parent_span_id=f"{parent:016x}" if parent else None, name=f"op{span}",
                  service="svc", kind="server" if parent is None else "internal",
                  start_time_unix_nano=1_700_000_000_000_000_000 + span * 1000,
                  duration_ns=1000 * (10 - span % 10))
    values.update(kw)
    return SpanRecord(**values)


def _cli(*args, store):
    return subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", *args,
                           "--store", store], capture_output=True, text=True, timeout=60)


def test_trace_show_json_and_tree(tmp_path):
    """trace show prints the documented JSON schema and an indented tree."""
    url = f"sqlite:///{tmp_path}/cli.db"
    store = SpanStore.from_url(url)
    store.write([_record(7, 1), _record(7, 2, parent=1), _record(7, 3, parent=2,
                                                                 status="error")])
    store.close()
    trace_id = f"{7:032x}"
    out = _cli("trace", "show", trace_id, "--format", "json", store=url)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["trace_id"] == trace_id
    assert [s["span_id"] for s in doc["spans"]] == [f"{i:016x}" for i in (1, 2, 3)]
    assert set(doc["spans"][0]) >= {"span_id", "parent_span_id", "name", "service", "kind",
                                    "start_time_unix_nano", "duration_ns", "status",
                                    "attributes"}
    tree = _cli("trace", "show", trace_id, store=url).stdout.splitlines()
    assert tree[0].startswith("op1 [svc] server")
    assert tree[1].startswith("└─ op2 [svc] internal")
    assert tree[2].startswith("   └─ op3 [svc] internal") and tree[2].endswith("ERROR")
    listing = _cli("trace", "list", store=url).stdout
    assert trace_id in listing and "ERROR" in listing
    missing = _cli("trace", "show", "f" * 32, store=url)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_check_config_reports_problems(tmp_path):
    """check-config names each bad option and exits non-zero; a good file passes."""
    bad = tmp_path / "bad.conf"
    bad.write_text("[tracing]\nsampler = sometimes\nexporters = ftp://x\n")
    paste = tmp_path / "api-paste.ini"
    paste.write_text("[filter:tracing]\nuse = egg:os-tracing#tracing\nscope_manager = x\n")
    out = subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", "check-config",
                          "--config-file", str(bad), "--paste-config", str(paste)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "[tracing] sampler = 'sometimes'" in out.stderr
    assert "[tracing] exporters = 'ftp://x'" in out.stderr
    assert "[tracing] scope_manager = 'x'" in out.stderr
    good = tmp_path / "good.conf"
    good.write_text("[tracing]\nsampler = parentbased_traceidratio\nsampler_arg = 0.1\n")
    out = subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", "check-config",
                          "--config-file", str(good)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
