"""``os-tracing sampling serve|show`` on loopback, and real peer clients reading from it:
jaeger-client's RemoteControlledSampler and OpenTelemetry JS's Jaeger remote sampler."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from tracing_middleware.cmd import sampling as sampling_cmd
from tracing_middleware.cmd.sampling_server import SamplingServer
from tracing_middleware.sampling.jaeger_remote import JaegerRemoteSampler

HERE = os.path.dirname(os.path.abspath(__file__))
WAIT = 10.0

STRATEGIES = {
    "default_strategy": {"type": "probabilistic", "param": 0.001},
    "service_strategies": [
        {"service": "nova-api", "type": "probabilistic", "param": 0.5},
        {"service": "neutron-server", "type": "ratelimiting", "param": 5},
        {"service": "glance-api", "type": "probabilistic", "param": 0.0,
         "operation_strategies": [{"operation": "POST /v2/images",
                                   "type": "probabilistic", "param": 1.0}]}]}


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _bump(path) -> None:
    """A new mtime even on coarse-grained filesystems."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


@pytest.fixture
def strategies_file(tmp_path):
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps(STRATEGIES))
    return path


@pytest.fixture
def policy_server(strategies_file):
    server = SamplingServer(str(strategies_file), "127.0.0.1", 0).start()
    yield server, strategies_file
    server.shutdown()


def test_serve_answers_in_the_encoding_clients_expect(policy_server):
    """String strategyType and camelCase (what jaeger-client and OTel JS compare with),
    per service, default for unknown services, '/' as jaeger-agent's alias."""
    server, _ = policy_server
    base = server.url.rsplit("/sampling", 1)[0]
    status, body = _get(f"{server.url}?service=nova-api")
    assert status == 200
    assert json.loads(body) == {"strategyType": "PROBABILISTIC",
                                "probabilisticSampling": {"samplingRate": 0.5}}
    assert json.loads(_get(f"{base}/?service=neutron-server")[1]) == {
        "strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 5}}
    glance = json.loads(_get(f"{server.url}?service=glance-api")[1])
    assert glance["operationSampling"]["perOperationStrategies"] == [
        {"operation": "POST /v2/images", "probabilisticSampling": {"samplingRate": 1.0}}]
    assert json.loads(_get(f"{server.url}?service=unknown")[1])[
        "probabilisticSampling"] == {"samplingRate": 0.001}


@pytest.mark.parametrize(("path", "status"), [
    ("/sampling", 400), ("/sampling?service=", 400), ("/sampling?service=a&service=b", 400),
    ("/other?service=nova-api", 404)])
def test_serve_refuses_bad_requests(policy_server, path, status):
    """400 without exactly one service, 404 elsewhere."""
    server, _ = policy_server
    base = server.url.rsplit("/sampling", 1)[0]
    assert _get(base + path)[0] == status


def test_serve_reloads_and_keeps_last_good_file(policy_server, caplog):
    """An edited file is served on the next request; a broken one keeps the last good
    answers and logs once (not per request) until fixed."""
    caplog.set_level(logging.INFO, logger="tracing_middleware")
    server, path = policy_server
    sampler = JaegerRemoteSampler(server.url, "neutron-server", start=False)
    assert sampler.poll_once()
    assert sampler.policy.describe() == "rate limiting (5.0 traces/s)"
    path.write_text(json.dumps({"default_strategy": {"type": "probabilistic",
                                                     "param": 0.3}}))
    _bump(path)
    assert sampler.poll_once()
    assert sampler.policy.describe() == "probabilistic (0.3)"
    path.write_text('{"default_strategy": {"type": "probabilistic", "param": 3}}')
    _bump(path)
    for _ in range(3):
        assert sampler.poll_once()
        assert sampler.policy.describe() == "probabilistic (0.3)"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not in [0, 1]" in warnings[0].getMessage()
    path.write_text(json.dumps(STRATEGIES))
    _bump(path)
    assert sampler.poll_once()
    assert sampler.policy.describe() == "rate limiting (5.0 traces/s)"
    assert any("usable again" in r.getMessage() for r in caplog.records)


def test_serve_refuses_to_start_on_a_bad_file(tmp_path):
    """A missing or invalid file is an error at start, naming the file."""
    with pytest.raises(ValueError, match=r"missing\.json"):
        SamplingServer(str(tmp_path / "missing.json"), "127.0.0.1", 0)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"default_strategy": {"type": "sometimes", "param": 1}}))
    with pytest.raises(ValueError, match="'sometimes'"):
        SamplingServer(str(bad), "127.0.0.1", 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="os-tracing")
    sampling_cmd.register(parser.add_subparsers(dest="command"))
    return parser


def test_sampling_serve_command_runs_and_serves(strategies_file):
    """`os-tracing sampling serve --port 0` (the registered subcommand, in a child process)
    prints its URL and answers from the file."""
    code = ("import argparse, sys\n"
            "from tracing_middleware.cmd import sampling\n"
            "p = argparse.ArgumentParser(prog='os-tracing')\n"
            "sampling.register(p.add_subparsers(dest='command'))\n"
            "a = p.parse_args(sys.argv[1:])\n"
            "sys.exit(a.func(a))\n")
    proc = subprocess.Popen([sys.executable, "-c", code, "sampling", "serve", "--strategies",
                             str(strategies_file), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # blocks until the server is listening
        assert line.startswith("serving sampling policy from"), proc.stderr.read()
        url = line.rsplit(" on ", 1)[1].strip()
        status, body = _get(f"{url}?service=nova-api")
        assert status == 200 and json.loads(body)["probabilisticSampling"] == {
            "samplingRate": 0.5}
    finally:
        proc.terminate()
        proc.communicate(timeout=WAIT)


def test_sampling_show_command(policy_server, capsys):
    """`sampling show` prints the policy and an operation's probability; exit 0."""
    server, _ = policy_server
    args = _parser().parse_args(["sampling", "show", "--service", "glance-api",
                                 "--sampler-arg", f"endpoint={server.url}",
                                 "--operation", "POST /v2/images"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "per-operation (default probability 0.0, lower bound 0.0/s, 1 operations)" in out
    assert "  POST /v2/images: 1.0" in out
    assert "operation 'POST /v2/images': 1.0" in out


def test_sampling_show_when_unavailable(capsys):
    """`sampling show` against nothing says so, shows the initial rate, exits 1; a bad
    --sampler-arg exits 2 with the reason."""
    parser = _parser()
    args = parser.parse_args(["sampling", "show", "--service", "x", "--sampler-arg",
                              "endpoint=http://127.0.0.1:9/sampling,initialSamplingRate=0.2,"
                              "pollingIntervalMs=1000", "--operation", "op"])
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "unavailable" in out and "probabilistic (0.2)" in out
    args = parser.parse_args(["sampling", "show", "--service", "x", "--sampler-arg", "x=1"])
    assert args.func(args) == 2
    assert "'x' is unknown" in capsys.readouterr().err


def test_sampling_show_rate_limited_operation(policy_server, capsys):
    """For a rate-limited service the operation line says so."""
    server, _ = policy_server
    args = _parser().parse_args(["sampling", "show", "--service", "neutron-server",
                                 "--sampler-arg", f"endpoint={server.url}",
                                 "--operation", "GET /v2.0/ports"])
    assert args.func(args) == 0
    assert "rate limited (5.0 traces/s per process)" in capsys.readouterr().out


# -- peers -----------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "expected"), [
    ("nova-api", "ProbabilisticSampler(0.5)"),
    ("neutron-server", "RateLimitingSampler(5)"),
    ("glance-api", "AdaptiveSampler"),
])
def test_jaeger_client_applies_what_sampling_serve_says(policy_server, service, expected):
    """jaeger-client's RemoteControlledSampler (GET host:port/sampling?service=) parses
    our answers and switches to the served sampler."""
    from jaeger_client.local_agent_net import LocalAgentSender
    from jaeger_client.sampler import AdaptiveSampler, ConstSampler, RemoteControlledSampler
    from threadloop import ThreadLoop

    server, _ = policy_server
    loop = ThreadLoop()
    loop.start()
    try:
        channel = LocalAgentSender("127.0.0.1", server.port, 6831, io_loop=loop._io_loop)
        sampler = RemoteControlledSampler(channel=channel, service_name=service,
                                          sampling_refresh_interval=3600,
                                          init_sampler=ConstSampler(False))
        done = threading.Event()
        original = sampler._sampling_request_callback

        def callback(future):
            try:
                original(future)
            finally:
                done.set()

        sampler._sampling_request_callback = callback
        loop.submit(sampler._poll_sampling_manager)
        assert done.wait(WAIT)
        assert str(sampler.sampler).startswith(expected), str(sampler.sampler)
        if service == "glance-api":
            adaptive = sampler.sampler
            assert isinstance(adaptive, AdaptiveSampler)
            assert adaptive.samplers["POST /v2/images"].rate == 1.0
            assert adaptive.default_sampling_probability == 0.0
            assert adaptive.is_sampled((1 << 63) - 1, "POST /v2/images")[0]
            assert not adaptive.is_sampled((1 << 63) - 1, "GET /v2/images")[0]
        sampler.close()
    finally:
        # NOTE(os-tracing): ThreadLoop.stop() calls IOLoop.stop() from this thread, which
        # does not wake an idle asyncio loop; stop it from inside instead.
        loop._io_loop.add_callback(loop._io_loop.stop)
        loop._thread.join(WAIT)
        assert not loop._thread.is_alive()


def _node_report(base: str, service: str, *operations: str) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    node_dir = os.path.join(HERE, "node")
    if not os.path.isdir(os.path.join(node_dir, "node_modules", "@opentelemetry",
                                      "sampler-jaeger-remote")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=node_dir,
                       check=True, capture_output=True, timeout=300)
    out = subprocess.run([node, "fetch_policy.js", base, service, *operations],
                         cwd=node_dir, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.node
def test_opentelemetry_js_sampler_applies_what_sampling_serve_says(policy_server):
    """@opentelemetry/sampler-jaeger-remote polls sampling serve and applies per-service
    probabilities and per-operation tables from the file."""
    server, _ = policy_server
    base = server.url.rsplit("/sampling", 1)[0]  # it appends /sampling?service=
    glance = _node_report(base, "glance-api", "POST /v2/images", "GET /v2/images")
    assert "PerOperationSampler{default=TraceIdRatioBased{0}" in glance["description"]
    assert "POST /v2/images=TraceIdRatioBased{1}" in glance["description"]
    assert glance["decisions"] == {"POST /v2/images": 1000, "GET /v2/images": 0}
    nova = _node_report(base, "nova-api", "GET /v2.1/servers")
    assert "root=TraceIdRatioBased{0.5}" in nova["description"]
    # 1000 random ids at 0.5: ±10 points is about 6 sigma
    assert 400 <= nova["decisions"]["GET /v2.1/servers"] <= 600
