"""``os-tracing trace list|show|import`` run in-process against a temporary store."""

from __future__ import annotations

import argparse
import json
import uuid

import pytest

from tracing_middleware.cmd import trace as trace_cmd
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore
from tracing_middleware.views import FORMATS, analysis, tree

from .conftest import run

BASE = 1_700_000_000_000_000_000
MS = 1_000_000


def _span(trace: int, span: int, parent: int | None = None, **kw) -> SpanRecord:
    values = dict(trace_id=f"{trace:032x}", span_id=f"{span:016x}",
                  parent_span_id=f"{parent:016x}" if parent else None, name=f"op{span}",
                  service="svc", kind="server" if parent is None else "internal",
                  start_time_unix_nano=BASE + trace * 1000 * MS + span * MS,
                  duration_ns=MS * span, resource={"service.name": kw.get("service", "svc")})
    values.update(kw)
    return SpanRecord(**values)


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    store = SpanStore.from_url(url)
    store.write([_span(7, 1), _span(7, 2, 1, service="db"),
                 _span(7, 3, 2, status="error"), _span(8, 4, name="GET /", service="api")])
    store.close()
    return url


def test_list_table_newest_first(url, capsys):
    """An aligned table, newest trace first, with root, services, count and ERROR."""
    assert run("trace", "list", "--store", url) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["START", "TRACE", "ID", "ROOT", "OPERATION", "SERVICES",
                                "SPANS", "DURATION"]
    assert [line.split()[2] for line in lines[1:]] == [f"{8:032x}", f"{7:032x}"]
    assert "GET /" in lines[1] and "api" in lines[1] and "ERROR" not in lines[1]
    assert "op1" in lines[2] and "db,svc" in lines[2] and lines[2].endswith("ERROR")
    assert len({line.index("ms") for line in lines[1:]}) == 1  # durations aligned


def test_list_filters_and_json(url, capsys):
    """--service/--errors/--min-duration/--limit filter; --json is machine-readable."""
    assert run("trace", "list", "--store", url, "--errors", "--json") == 0
    (only,) = json.loads(capsys.readouterr().out)
    assert only["trace_id"] == f"{7:032x}" and only["error"] is True
    assert only["root_name"] == "op1" and only["span_count"] == 3
    assert only["services"] == ["db", "svc"]
    assert run("trace", "list", "--store", url, "--service", "api", "--json") == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)] == [f"{8:032x}"]
    assert run("trace", "list", "--store", url, "--min-duration", "5ms", "--json") == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)] == [f"{7:032x}"]
    assert run("trace", "list", "--store", url, "--limit", "1", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert run("trace", "list", "--store", url, "--operation", "nope") == 0
    assert "no traces" in capsys.readouterr().err


def test_list_speaks_format_json_like_every_command(url, capsys):
    """``--format json`` prints what ``--json`` always printed."""
    assert run("trace", "list", "--store", url, "--json") == 0
    legacy = capsys.readouterr().out
    assert run("trace", "list", "--store", url, "--format", "json") == 0
    assert capsys.readouterr().out == legacy and json.loads(legacy)


def test_list_missing_store_is_empty_and_not_created(tmp_path, capsys):
    """Listing a store that does not exist prints nothing and creates no file."""
    url = f"sqlite:///{tmp_path}/absent.db"
    assert run("trace", "list", "--store", url, "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not (tmp_path / "absent.db").exists()


def test_list_uses_os_tracing_store_without_store_flag(url, monkeypatch, capsys):
    """Without --store the OS_TRACING_STORE environment variable names the store."""
    monkeypatch.setenv("OS_TRACING_STORE", url)
    assert run("trace", "list", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_show_tree_by_full_id_and_unique_prefix(url, capsys):
    """show prints the indented tree, errors marked; a unique 8-digit prefix works too."""
    assert run("trace", "show", f"{7:032x}", "--store", url) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("op1 [svc] server")
    assert lines[1].startswith("└─ op2 [db] internal")
    assert lines[2].startswith("   └─ op3 [svc] internal") and lines[2].endswith("ERROR")
    store = SpanStore.from_url(url)
    store.write([_span(0xABCDEF12 << 96, 5, name="prefixed", start_time_unix_nano=BASE)])
    store.close()
    assert run("trace", "show", "abcdef12", "--store", url) == 0
    assert capsys.readouterr().out.startswith("prefixed [svc] server")


def test_show_ambiguous_prefix_lists_candidates(url, capsys):
    """A prefix matching two traces exits 1 and names both."""
    assert run("trace", "show", "00000000", "--store", url) == 1
    err = capsys.readouterr().err
    assert "ambiguous" in err and f"{7:032x}" in err and f"{8:032x}" in err


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_show_every_format_to_stdout_and_file(url, fmt, tmp_path, capsys):
    """Each --format prints what the view renders; --output writes it to a file."""
    trace_id = f"{7:032x}"
    assert run("trace", "show", trace_id, "--store", url, "--format", fmt) == 0
    out = capsys.readouterr().out
    store = SpanStore.from_url(url)
    trace = store.get_trace(trace_id)
    store.close()
    expected = FORMATS[fmt](trace)
    if fmt == "tree":  # the tree marks the critical path
        path = analysis.critical_path(trace)["path"]
        expected = tree.render(trace, critical={step["span_id"]: step["contribution_ns"]
                                                for step in path})
        assert "◆" in expected
    assert out == expected + "\n"
    target = tmp_path / f"out.{fmt}"
    assert run("trace", "show", trace_id, "--store", url, "-f", fmt, "-o", str(target)) == 0
    assert target.read_text() == expected + "\n"


def test_show_unknown_trace_exits_1(url, capsys):
    """An unknown id: nothing on stdout, a clear message on stderr, exit status 1."""
    assert run("trace", "show", "f" * 32, "--store", url) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "not found" in captured.err


def test_show_unknown_format_is_a_usage_error(url, capsys):
    """argparse rejects an unknown --format (exit 2) and lists the choices."""
    with pytest.raises(SystemExit) as exc:
        run("trace", "show", f"{7:032x}", "--store", url, "--format", "svg")
    assert exc.value.code == 2 and "otlp-json" in capsys.readouterr().err


def test_bad_store_url_is_reported(capsys):
    """A non-sqlite URL is a clear error, not a traceback."""
    assert run("trace", "list", "--store", "mysql://x/y") == 1
    assert "not a store URL" in capsys.readouterr().err


def test_import_otlp_json_and_again_is_idempotent(url, tmp_path, capsys):
    """import loads OTLP/JSON; importing the same file again stores nothing new."""
    store = SpanStore.from_url(url)
    text = FORMATS["otlp-json"](store.get_trace(f"{7:032x}"))
    store.close()
    path = tmp_path / "t.json"
    path.write_text(text.replace(f"{7:032x}", f"{9:032x}"))
    target = f"sqlite:///{tmp_path}/imported.db"
    assert run("trace", "import", str(path), "--store", target) == 0
    assert "imported 3 spans (0 already stored)" in capsys.readouterr().out
    assert run("trace", "import", str(path), "--store", target) == 0
    assert "imported 0 spans (3 already stored)" in capsys.readouterr().out
    assert run("trace", "show", f"{9:032x}", "--store", target, "--format", "json") == 0
    assert len(json.loads(capsys.readouterr().out)["spans"]) == 3


def test_import_osprofiler_json_is_auto_detected(tmp_path, capsys):
    """A document with 'children' is read as osprofiler JSON."""
    base, point = str(uuid.uuid4()), str(uuid.uuid4())
    doc = {"info": {"name": "total", "started": 0, "finished": 3},
           "children": [{"info": {"name": "wsgi", "started": 0, "finished": 3,
                                  "service": "api"}, "trace_id": point,
                         "parent_id": base, "children": []}]}
    path = tmp_path / "osp.json"
    path.write_text(json.dumps(doc))
    target = f"sqlite:///{tmp_path}/osp.db"
    assert run("trace", "import", str(path), "--store", target) == 0
    assert f"{uuid.UUID(base).int:032x}" in capsys.readouterr().out
    assert run("trace", "show", base, "--store", target) == 0  # the UUID form works
    assert capsys.readouterr().out.startswith("wsgi [api] server")


def test_import_rejects_unknown_documents(tmp_path, capsys):
    """Neither OTLP nor osprofiler JSON: exit 1 with a message naming both."""
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    assert run("trace", "import", str(path), "--store", f"sqlite:///{tmp_path}/x.db") == 1
    assert "resourceSpans" in capsys.readouterr().err
    assert run("trace", "import", str(tmp_path / "missing.json"),
               "--store", f"sqlite:///{tmp_path}/x.db") == 1
    assert "cannot read" in capsys.readouterr().err


def test_duration_and_since_parsing():
    """5ms, 1.5s, bare numbers (ms for durations, minutes for --since), ISO 8601."""
    assert trace_cmd.parse_duration_ns("5ms") == 5 * MS
    assert trace_cmd.parse_duration_ns("1.5s") == 1500 * MS
    assert trace_cmd.parse_duration_ns("250us") == 250_000
    assert trace_cmd.parse_duration_ns("7") == 7 * MS
    now = 10**18
    assert trace_cmd.parse_since_ns("10m", now_ns=lambda: now) == now - 600 * 10**9
    assert trace_cmd.parse_since_ns("2h", now_ns=lambda: now) == now - 7200 * 10**9
    assert trace_cmd.parse_since_ns("2023-11-14T22:13:20Z") == 1_700_000_000 * 10**9
    for bad in ("soon", "5 parsecs", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            trace_cmd.parse_duration_ns(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        trace_cmd.parse_since_ns("yesterday-ish")
