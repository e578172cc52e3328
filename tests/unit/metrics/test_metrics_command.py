"""``os-tracing metrics`` on untrusted and damaged data: names a client chose cannot
drive the terminal, and a damaged row costs itself and one log line, not the report."""

from __future__ import annotations

import json
import logging
import sqlite3

from tracing_middleware.cmd import main as main_cmd
from tracing_middleware.metrics.recorder import Recorder
from tracing_middleware.metrics.store import MetricStore


def run(*argv: str) -> int:
    args = main_cmd.build_parser().parse_args(list(argv))
    return args.func(args)


def _store(tmp_path, operation: str = "GET /v1/items") -> str:
    url = f"sqlite:///{tmp_path}/traces.db"
    recorder = Recorder()
    for i in range(8):
        recorder.record("api", "server", operation, 500 if i < 2 else 200, (i + 1) * 10**6)
    assert MetricStore.from_url(url).write(recorder.collect(True), "host:1") == 2
    return url


def test_control_characters_are_escaped_in_the_table(tmp_path, capsys):
    url = _store(tmp_path, "GET /x\x1b[2J\x07")
    assert run("metrics", "--store", url) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "GET /x\\x1b[2J\\x07" in out
    assert run("metrics", "--store", url, "--format", "json") == 0
    (row,) = json.loads(capsys.readouterr().out)  # JSON keeps the name as it was
    assert row["operation"] == "GET /x\x1b[2J\x07"


def test_a_damaged_row_is_skipped_and_logged(tmp_path, capsys, caplog):
    url = _store(tmp_path)
    path = url[len("sqlite:///"):]
    with sqlite3.connect(path) as conn:  # what a bad write or a hand edit may leave
        conn.execute("UPDATE metric_points SET count = 'many' WHERE outcome = '5xx'")
        conn.execute("INSERT INTO metric_points SELECT service, kind, 'broken', outcome, "
                     "instance, start_ns, end_ns, count, errors, sum_ns, min_ns, max_ns, "
                     "'{not json', exemplars FROM metric_points WHERE outcome = '2xx'")
    conn.close()
    with caplog.at_level(logging.WARNING, "tracing_middleware.metrics.store"):
        assert run("metrics", "--store", url, "--format", "json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["operation"], row["count"], row["errors"]) == ("GET /v1/items", 6, 0)
    assert "2 damaged metrics row(s) skipped" in caplog.text
