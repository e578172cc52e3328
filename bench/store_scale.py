"""Case 6: the span store at a million spans: ``trace list`` with each filter, ``trace find``,
and the service dependency graph (``deps``) over all of them.

An operator's store after a busy day: traces of about 20 spans spread over the last 24
hours (an API request with its token check, database statements, calls to glance and
neutron, RPC to conductor, scheduler and compute), every API SERVER span and every RPC
span with its request id and, downstream of the first service, the global request id;
about 2% of traces fail somewhere. The store is filled once, in batches of the
exporter's default size (the time inside ``SpanStore.write`` per span is a row of its
own), then each query runs as the operator types it: the ``os-tracing`` command's
``main`` in this process (interpreter start and imports left out), a fresh connection
each time, output discarded. Wall-clock milliseconds per command, median of the rounds
after one that warms the page cache: a query waits on memory and disk as much as on
the CPU.

``python -m bench --cases store`` (1,000,000 spans; ``--quick``: 20,000), or alone:
``python -m bench.store_scale [--spans N] [--rounds N] [--store NEW_FILE]`` (the store
is kept in ``NEW_FILE`` to look at afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from bench.harness import Result, note
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore

__all__ = ["Population", "case_store", "fill", "traces"]

_MS = 1_000_000
_DAY_NS = 86_400 * 10**9
_SPANS_PER_TRACE = 18.4  # the shapes' average, by their weights
_BATCH = 512  # [tracing] export_batch_size's default
#: Targets the figures are read against (doc/source/benchmarks.rst).
LIST_TARGET_MS = 1000.0
FIND_TARGET_MS = 100.0
DEPS_TARGET_MS = 10_000.0


class Population:
    """What the filled store holds that a query can name, and what writing it cost."""

    def __init__(self) -> None:
        self.request_ids: list[str] = []
        self.global_request_ids: list[str] = []
        self.spans = 0
        self.traces = 0
        #: wall-clock time inside ``SpanStore.write``, the spans' making left out
        self.write_ns = 0


def _request_id(rng: random.Random) -> str:
    return f"req-{uuid.UUID(int=rng.getrandbits(128), version=4)}"


class _Trace:
    """Builds one trace's spans, each child inside its parent's time."""

    def __init__(self, rng: random.Random, start_ns: int) -> None:
        self.rng = rng
        self.trace_id = f"{rng.getrandbits(128):032x}"
        self.start_ns = start_ns
        self.spans: list[SpanRecord] = []

    def span(self, parent: SpanRecord | None, name: str, service: str, kind: str,
             offset_ms: float, duration_ms: float, attributes: dict[str, Any],
             status: str = "unset") -> SpanRecord:
        start = (parent.start_time_unix_nano if parent else self.start_ns) + int(
            offset_ms * _MS)
        record = SpanRecord(
            self.trace_id, f"{self.rng.getrandbits(64):016x}",
            parent.span_id if parent else None, name, service, kind, start,
            int(duration_ms * _MS), status, "" if status != "error" else "boom",
            attributes, (), {"service.name": service, "host.name": f"{service}-1"})
        self.spans.append(record)
        return record


def _server(route: str, method: str, status: int, request_id: str,
            global_id: str | None, host: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "http.request.method": method, "url.path": route.replace("{id}", "8a1cbd9e"),
        "url.scheme": "http", "http.route": route, "server.address": host,
        "server.port": 8774, "client.address": "10.0.0.12",
        "user_agent.original": "python-novaclient keystoneauth1/5.18.1 python-requests",
        "http.response.status_code": status, "openstack.request_id": request_id,
        "openstack.project_id": "a3c7e1f9" * 4}
    if global_id:
        attributes["openstack.global_request_id"] = global_id
    return attributes


def _db(statement: str) -> dict[str, Any]:
    return {"db.system": "mysql", "db.name": "nova", "db.statement": statement,
            "server.address": "db.internal"}


def _rpc(topic: str, method: str, kind: str, request_id: str,
         global_id: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "rpc.system": "oslo_messaging", "rpc.service": topic, "rpc.method": method,
        "messaging.system": "rabbit", "messaging.destination.name": topic,
        "messaging.operation.type": "send" if kind in ("client", "producer") else "process",
        "openstack.request_id": request_id}
    if global_id:
        attributes["openstack.global_request_id"] = global_id
    return attributes


def _boot(t: _Trace, population: Population, failing: bool) -> None:
    """POST /servers: nova-api, keystone, glance, neutron, conductor, scheduler, compute."""
    rng = t.rng
    nova_id = _request_id(rng)
    glance_id, neutron_id, keystone_id = (_request_id(rng) for _ in range(3))
    population.request_ids += [nova_id, glance_id, neutron_id, keystone_id]
    population.global_request_ids.append(nova_id)
    api = t.span(None, "POST /v2.1/servers", "nova-api", "server", 0,
                 rng.uniform(300, 900), _server("/v2.1/servers", "POST", 202, nova_id,
                                                None, "nova-api.internal"))
    token = t.span(api, "GET /v3/auth/tokens", "nova-api", "client", 1, 12,
                   {"http.request.method": "GET",
                    "url.full": "http://keystone/v3/auth/tokens"})
    t.span(token, "GET /v3/auth/tokens", "keystone", "server", 1, 10,
           _server("/v3/auth/tokens", "GET", 200, keystone_id, None, "keystone.internal"))
    t.span(api, "SELECT nova.instances", "nova-api", "client", 15, 2,
           _db("SELECT instances.uuid, instances.vm_state FROM instances WHERE "
               "instances.project_id = %(project_id)s"))
    glance_client = t.span(api, "GET /v2/images/{id}", "nova-api", "client", 20, 30,
                           {"http.request.method": "GET",
                            "url.full": "http://glance/v2/images/8a1cbd9e"})
    glance = t.span(glance_client, "GET /v2/images/{id}", "glance-api", "server", 1, 27,
                    _server("/v2/images/{id}", "GET", 200, glance_id, nova_id,
                            "glance-api.internal"))
    t.span(glance, "SELECT glance.images", "glance-api", "client", 5, 3,
           _db("SELECT images.id, images.status FROM images WHERE images.id = %(id)s"))
    neutron_client = t.span(api, "GET /v2.0/ports", "nova-api", "client", 55, 40,
                            {"http.request.method": "GET",
                             "url.full": "http://neutron/v2.0/ports?device_id=8a1cbd9e"})
    neutron = t.span(neutron_client, "GET /v2.0/ports", "neutron-server", "server", 1, 37,
                     _server("/v2.0/ports", "GET", 200, neutron_id, nova_id,
                             "neutron-server.internal"))
    t.span(neutron, "SELECT neutron.ports", "neutron-server", "client", 4, 6,
           _db("SELECT ports.id, ports.device_id FROM ports WHERE ports.device_id = %(d)s"))
    t.span(api, "INSERT nova.instances", "nova-api", "client", 100, 4,
           _db("INSERT INTO instances (uuid, project_id, vm_state) VALUES (%s, %s, %s)"))
    cast = t.span(api, "conductor/schedule_and_build_instances", "nova-api", "producer",
                  110, 1, _rpc("conductor", "schedule_and_build_instances", "producer",
                               nova_id, None))
    conductor = t.span(cast, "conductor/schedule_and_build_instances", "nova-conductor",
                       "consumer", 3, rng.uniform(150, 400),
                       _rpc("conductor", "schedule_and_build_instances", "consumer",
                            nova_id, None))
    call = t.span(conductor, "scheduler/select_destinations", "nova-conductor", "client",
                  2, 60, _rpc("scheduler", "select_destinations", "client", nova_id, None))
    scheduler = t.span(call, "scheduler/select_destinations", "nova-scheduler", "server",
                       1, 55, _rpc("scheduler", "select_destinations", "server", nova_id,
                                   None))
    t.span(scheduler, "GET /allocation_candidates", "nova-scheduler", "client", 2, 30,
           {"http.request.method": "GET", "url.full": "http://placement/allocation_candidates"})
    t.span(conductor, "UPDATE nova.instances", "nova-conductor", "client", 70, 3,
           _db("UPDATE instances SET host = %(host)s WHERE instances.uuid = %(uuid)s"))
    to_compute = t.span(conductor, "compute/build_and_run_instance", "nova-conductor",
                        "producer", 80, 1, _rpc("compute", "build_and_run_instance",
                                                "producer", nova_id, None))
    compute = t.span(to_compute, "compute/build_and_run_instance", "nova-compute",
                     "consumer", 2, rng.uniform(50, 120),
                     _rpc("compute", "build_and_run_instance", "consumer", nova_id, None),
                     status="error" if failing else "unset")
    t.span(compute, "libvirt.create", "nova-compute", "internal", 10, 30,
           {"code.function": "_create_guest"}, status="error" if failing else "unset")


def _list_servers(t: _Trace, population: Population, failing: bool) -> None:
    """GET /servers/detail: nova-api, keystone and a few statements."""
    rng = t.rng
    nova_id, keystone_id = _request_id(rng), _request_id(rng)
    population.request_ids += [nova_id, keystone_id]
    api = t.span(None, "GET /v2.1/servers/detail", "nova-api", "server", 0,
                 rng.uniform(20, 200), _server("/v2.1/servers/detail", "GET",
                                               500 if failing else 200, nova_id, None,
                                               "nova-api.internal"),
                 status="error" if failing else "unset")
    token = t.span(api, "GET /v3/auth/tokens", "nova-api", "client", 1, 8,
                   {"http.request.method": "GET",
                    "url.full": "http://keystone/v3/auth/tokens"})
    t.span(token, "GET /v3/auth/tokens", "keystone", "server", 1, 6,
           _server("/v3/auth/tokens", "GET", 200, keystone_id, None, "keystone.internal"))
    for i in range(rng.randint(8, 20)):
        t.span(api, "SELECT nova.instances", "nova-api", "client", 10 + i, 1,
               _db("SELECT instances.uuid, instances.display_name FROM instances WHERE "
                   "instances.project_id = %(project_id)s LIMIT %(limit)s"))


def _create_volume(t: _Trace, population: Population, failing: bool) -> None:
    """POST /volumes: cinder-api, cinder-scheduler, cinder-volume."""
    rng = t.rng
    cinder_id, keystone_id = _request_id(rng), _request_id(rng)
    population.request_ids += [cinder_id, keystone_id]
    api = t.span(None, "POST /v3/{project_id}/volumes", "cinder-api", "server", 0,
                 rng.uniform(80, 250), _server("/v3/{project_id}/volumes", "POST", 202,
                                               cinder_id, None, "cinder-api.internal"))
    t.span(api, "GET /v3/auth/tokens", "keystone", "server", 2, 6,
           _server("/v3/auth/tokens", "GET", 200, keystone_id, None, "keystone.internal"))
    for i in range(4):
        t.span(api, "INSERT cinder.volumes", "cinder-api", "client", 10 + i * 3, 2,
               _db("INSERT INTO volumes (id, size, status) VALUES (%s, %s, %s)"))
    cast = t.span(api, "cinder-scheduler/create_volume", "cinder-api", "producer", 30, 1,
                  _rpc("cinder-scheduler", "create_volume", "producer", cinder_id, None))
    scheduler = t.span(cast, "cinder-scheduler/create_volume", "cinder-scheduler",
                       "consumer", 2, 40, _rpc("cinder-scheduler", "create_volume",
                                               "consumer", cinder_id, None))
    for i in range(3):
        t.span(scheduler, "SELECT cinder.services", "cinder-scheduler", "client",
               2 + i * 4, 2, _db("SELECT services.host FROM services WHERE "
                                 "services.topic = %(topic)s"))
    to_volume = t.span(scheduler, "cinder-volume/create_volume", "cinder-scheduler",
                       "producer", 30, 1, _rpc("cinder-volume", "create_volume",
                                               "producer", cinder_id, None))
    volume = t.span(to_volume, "cinder-volume/create_volume", "cinder-volume", "consumer",
                    2, rng.uniform(200, 2000), _rpc("cinder-volume", "create_volume",
                                                    "consumer", cinder_id, None),
                    status="error" if failing else "unset")
    for i in range(5):
        t.span(volume, "lvcreate", "cinder-volume", "internal", 5 + i * 20, 15,
               {"code.function": "create_volume", "process.command": "lvcreate"})


_SHAPES: tuple[tuple[Callable[[_Trace, Population, bool], None], int], ...] = (
    (_boot, 4), (_list_servers, 4), (_create_volume, 2))


def traces(spans: int, now_ns: int, population: Population, seed: int = 1
           ) -> Iterator[list[SpanRecord]]:
    """Traces until ``spans`` spans, over the 24 hours before ``now_ns``.

    In the order they start, give or take a few seconds, as a store receives them.
    """
    rng = random.Random(seed)
    shapes = [shape for shape, weight in _SHAPES for _ in range(weight)]
    step = int(_DAY_NS * _SPANS_PER_TRACE / max(spans, 1))
    made = 0
    while made < spans:
        start = now_ns - _DAY_NS + population.traces * step + rng.randrange(5 * 10**9)
        t = _Trace(rng, min(start, now_ns))
        rng.choice(shapes)(t, population, rng.random() < 0.02)
        made += len(t.spans)
        population.traces += 1
        yield t.spans
    population.spans = made


def fill(store: SpanStore, spans: int, now_ns: int, seed: int = 1) -> Population:
    """Write about ``spans`` spans, in batches as the exporter writes them."""
    population = Population()
    batch: list[SpanRecord] = []

    def write() -> None:
        started = time.perf_counter_ns()
        store.write(batch)
        population.write_ns += time.perf_counter_ns() - started
        batch.clear()

    for trace in traces(spans, now_ns, population, seed):
        batch += trace
        if len(batch) >= _BATCH:
            write()
    if batch:
        write()
    return population


def _cli(argv: list[str]) -> int:
    from tracing_middleware.cmd.main import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def queries(url: str, population: Population, now_ns: int
            ) -> list[tuple[str, list[str], float]]:
    """(label, command line, target in ms): ``trace list`` with each of its filters,
    ``trace find`` with those ``list`` lacks, ``trace find --request-id``, and ``deps``
    over every span, the last hour and around one service."""
    rng = random.Random(7)

    def ago(hours: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now_ns / 1e9 - hours * 3600))

    listing = ["trace", "list", "--store", url]
    search = ["trace", "find", "--store", url, "--format", "json"]
    listed = [
        ("list", []),
        ("list --service nova-api", ["--service", "nova-api"]),
        ("list --service keystone", ["--service", "keystone"]),
        ("list --service nova-compute", ["--service", "nova-compute"]),
        ("list --operation 'POST /v2.1/servers'", ["--operation", "POST /v2.1/servers"]),
        ("list --service S --operation O",
         ["--service", "cinder-volume", "--operation", "lvcreate"]),
        ("list --since 1h", ["--since", "1h"]),
        ("list --errors", ["--errors"]),
        ("list --min-duration 1.5s", ["--min-duration", "1.5s"]),
        ("list --min-duration 100s (no match)", ["--min-duration", "100s"]),
        ("list --service --errors --since 1h",
         ["--service", "nova-api", "--errors", "--since", "1h"]),
    ]
    found = [
        ("find --since 2h --until 1h", ["--since", ago(2), "--until", ago(1)]),
        ("find --attribute (status 500)", ["--attribute", "http.response.status_code=500"]),
        ("find --attribute (no match)", ["--attribute", "rpc.method=nope"]),
        ("find --attribute --since 1h",
         ["--attribute", "rpc.method=create_volume", "--since", "1h"]),
        ("find --attribute --errors",
         ["--attribute", "http.response.status_code=500", "--errors"]),
    ]
    by_id = [
        ("find --request-id (own id)", ["--request-id", rng.choice(population.request_ids)]),
        ("find --request-id (global id)",
         ["--request-id", rng.choice(population.global_request_ids)]),
        ("find --request-id (not stored)", ["--request-id", _request_id(rng)]),
        ("find --request-id --service --errors",
         ["--request-id", rng.choice(population.global_request_ids), "--service",
          "nova-compute", "--errors"]),
    ]
    graph = ["deps", "--store", url, "--format", "json"]
    deps = [
        ("deps over every span (--since 2d)", ["--since", "2d"]),
        ("deps --since 1h", ["--since", "1h"]),
        ("deps --service nova-compute --since 2d",
         ["--service", "nova-compute", "--since", "2d"]),
    ]
    return ([(label, [*listing, *args], LIST_TARGET_MS) for label, args in listed]
            + [(label, [*graph, *args], DEPS_TARGET_MS) for label, args in deps]
            + [(label, [*search, *args], LIST_TARGET_MS) for label, args in found]
            + [(label, [*search, *args], FIND_TARGET_MS) for label, args in by_id])


def run(spans: int, rounds: int, path: str | None = None, seed: int = 1
        ) -> list[Result]:
    """Fill a new store (in ``path``, kept, if given) and time each query in it."""
    case = f"span store, {spans:,} spans"
    with contextlib.ExitStack() as stack:
        if path is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="os-tracing-"))
            path = os.path.join(directory, "traces.db")
        elif os.path.exists(path):
            raise FileExistsError(f"{path} exists; the benchmark fills a new store")
        now_ns = time.time_ns()
        store = SpanStore(path)
        try:
            population = fill(store, spans, now_ns, seed)
        finally:
            store.close()
        results = [Result.of(case, "write, per span", "us",
                             [population.write_ns / population.spans / 1000])]
        url = f"sqlite:///{os.path.abspath(path)}"
        for label, argv, target in queries(url, population, now_ns):
            samples = []
            for _ in range(rounds + 1):  # the first warms the page cache: not counted
                started = time.perf_counter_ns()
                status = _cli(argv)
                samples.append((time.perf_counter_ns() - started) / _MS)
                if status != 0:
                    raise RuntimeError(f"{' '.join(argv)} exited {status}")
            result = Result.of(case, label, "ms", samples[1:], 1)
            if result.median > target:
                note(f"{case}: {label}: {result.median:.0f} ms, over the {target:.0f} ms "
                     "target")
            results.append(result)
        results.append(Result.of(case, "store file size", "MB",
                                 [os.path.getsize(path) / 1e6]))
    return results


def case_store(quick: bool) -> list[Result]:
    """Case 6, as ``python -m bench`` runs it."""
    return run(20_000 if quick else 1_000_000, 3 if quick else 7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--store", help="fill and keep the store in this new file")
    args = parser.parse_args(argv)
    from bench.__main__ import print_table

    print_table(run(args.spans, args.rounds, args.store))
    return 0


if __name__ == "__main__":
    sys.exit(main())
