"""``os-tracing trace find`` run in-process against a temporary store."""

from __future__ import annotations

import json

import pytest

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore

from .conftest import run

BASE = 1_700_000_000_000_000_000
MS = 1_000_000
GLOBAL = "req-6e0bd5e4-7a3e-4b8a-9c57-2b0f4c1d9e21"


def _span(trace: int, span: int, parent: int | None = None, **kw) -> SpanRecord:
    values = dict(trace_id=f"{trace:032x}", span_id=f"{span:016x}",
                  parent_span_id=f"{parent:016x}" if parent else None, name=f"op{span}",
                  service="svc", kind="server" if parent is None else "internal",
                  start_time_unix_nano=BASE + trace * 1000 * MS + span * MS,
                  duration_ns=MS * span)
    values.update(kw)
    return SpanRecord(**values)


@pytest.fixture
def url(tmp_path):
    """Trace 7: nova-api's request req-7 reaching glance (global id GLOBAL), which fails;
    trace 8, later: glance again under the same global id."""
    url = f"sqlite:///{tmp_path}/find.db"
    store = SpanStore.from_url(url)
    store.write([
        _span(7, 1, name="POST /servers", service="nova-api",
              attributes={"openstack.request_id": "req-7"}),
        _span(7, 2, 1, name="GET /images", service="glance", status="error",
              attributes={"openstack.request_id": "req-g1",
                          "openstack.global_request_id": GLOBAL,
                          "http.response.status_code": 500}),
        _span(8, 3, name="GET /images", service="glance",
              attributes={"openstack.request_id": "req-g2",
                          "openstack.global_request_id": GLOBAL,
                          "http.response.status_code": 200}),
    ])
    store.close()
    return url


def _found(capsys) -> list[str]:
    return [t["trace_id"] for t in json.loads(capsys.readouterr().out)]


def test_request_id_prints_the_objects_of_trace_list(url, capsys):
    """A service's request id finds its trace; the JSON is trace list --json's, key for
    key and value for value."""
    assert run("trace", "find", "--store", url, "--request-id", "req-g1",
               "--format", "json") == 0
    (found,) = json.loads(capsys.readouterr().out)
    assert run("trace", "list", "--store", url, "--json") == 0
    listed = {t["trace_id"]: t for t in json.loads(capsys.readouterr().out)}
    assert found == listed[f"{7:032x}"]
    assert (found["root_name"], found["span_count"], found["error"]) == (
        "POST /servers", 2, True)


def test_global_request_id_finds_every_trace_sharing_it(url, capsys):
    """The global id is on each service's spans: both traces, newest first; the other
    filters narrow them."""
    def find(*extra: str) -> list[str]:
        assert run("trace", "find", "--store", url, "--request-id", GLOBAL,
                   "--format", "json", *extra) == 0
        return _found(capsys)

    assert find() == [f"{8:032x}", f"{7:032x}"]
    assert find("--errors") == [f"{7:032x}"]
    assert find("--attribute", "http.response.status_code=200") == [f"{8:032x}"]
    assert find("--service", "nova-api") == [f"{7:032x}"]
    # BASE is 2023-11-14T22:13:20Z; trace 7 starts 7 s after it, trace 8 8 s after.
    assert find("--until", "2023-11-14T22:13:28Z") == [f"{7:032x}"]
    assert find("--since", "2023-11-14T22:13:28Z") == [f"{8:032x}"]
    assert find("--limit", "1") == [f"{8:032x}"]


def test_table_and_no_match(url, capsys):
    """The table is trace list's; no match exits 0 with an empty result and says so on
    stderr, in either format."""
    assert run("trace", "find", "--store", url, "--request-id", "req-7") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["START", "TRACE", "ID"]
    assert [line.split()[2] for line in lines[1:]] == [f"{7:032x}"]
    assert lines[1].endswith("ERROR")
    assert run("trace", "find", "--store", url, "--request-id", "req-nope") == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 1 and "no trace matches request id req-nope" in out.err
    assert run("trace", "find", "--store", url, "--request-id", "req-nope",
               "--format", "json") == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == [] and "req-nope" in out.err


def test_missing_store_is_empty_and_not_created(tmp_path, capsys):
    """Finding in a store that does not exist prints nothing and creates no file."""
    url = f"sqlite:///{tmp_path}/absent.db"
    assert run("trace", "find", "--store", url, "--request-id", "req-7",
               "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize("argv", [["--attribute", "no-equals-sign"], ["--attribute", "=x"],
                                  ["--request-id", "  "], ["--format", "yaml"]])
def test_bad_arguments_are_usage_errors(url, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        run("trace", "find", "--store", url, *argv)
    assert exc.value.code == 2
