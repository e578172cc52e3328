"""A miniature cloud on 127.0.0.1 made of the real parts: paste-loaded APIs behind the
tracing filter, an RPC worker behind the ``traced+`` driver, a SQLite database written
through SQLAlchemy, a notification listener and a second API the worker calls over HTTP.

Services run in one process (so the default in-process ``fake`` bus works without a
broker) but each has its own configuration and ``service_name``, as separate processes
would; ``transport_url = traced+rabbit://...`` puts a real broker between them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import textwrap
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from tracing_middleware.demo.apps import json_response

__all__ = ["Cloud", "DEMO_HMAC_KEY", "start_cloud"]

#: The osprofiler key the demo signs one request with (a demo value, not a secret).
DEMO_HMAC_KEY = "demo-profiler-key"

_PASTE = """\
[pipeline:main]
pipeline = request_id tracing app

[filter:request_id]
paste.filter_factory = oslo_middleware:RequestId.factory

[filter:tracing]
use = egg:os-tracing#tracing
service_name = {service}
{extra}

[app:app]
paste.app_factory = tracing_middleware.demo.cloud:{factory}
"""


def _conf(service: str, store: str, transport_url: str, extra: dict[str, str]) -> Any:
    from oslo_config import cfg

    from tracing_middleware import opts

    conf = cfg.ConfigOpts()
    conf([], project=service, default_config_files=[])
    opts.register_opts(conf)
    settings = {"service_name": service, "exporters": [store], "sampler": "always_on",
                "propagators": ["tracecontext", "baggage", "osprofiler"],
                "hmac_keys": [DEMO_HMAC_KEY], "integrations": ["requests", "sqlalchemy",
                                                               "logging"]}
    settings.update({k: v.split(",") if k in ("exporters", "propagators") else v
                     for k, v in extra.items()})
    for key, value in settings.items():
        conf.set_override(key, value, group="tracing")
    from messaging_driver.compat import register_oslo_messaging_opts

    register_oslo_messaging_opts(conf)
    return conf


# -- the applications --------------------------------------------------------------------

_state: dict[str, Any] = {}


def _compute_api(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:

    path = environ.get("PATH_INFO", "")
    method = environ["REQUEST_METHOD"]
    ctxt = {"request_id": environ.get("openstack.request_id"), "project_id": "demo",
            "user_id": "demo-user"}
    headers = [("x-openstack-request-id", ctxt["request_id"] or "")]
    client = _state["rpc_client"]
    if method == "POST" and path.endswith("/servers"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        name = body.get("server", {}).get("name", "vm")
        try:
            server = client.call(ctxt, "build_instance", name=name,
                                 image_id=body.get("server", {}).get("imageRef"))
        except Exception as exc:  # RemoteError over a broker, the original on fake://
            message = getattr(exc, "value", None) or str(exc)
            return json_response(start_response, "500 Internal Server Error",
                                 {"computeFault": {"message": message}}, headers)
        client.cast(ctxt, "update_usage", server_id=server["id"])
        return json_response(start_response, "202 Accepted", {"server": server}, headers)
    if method == "GET" and "/servers/" in path:
        return json_response(start_response, "200 OK",
                             {"server": {"id": path.rsplit("/", 1)[-1]}}, headers)
    return json_response(start_response, "404 Not Found", {"itemNotFound": {}}, headers)


def _image_api(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    image_id = environ.get("PATH_INFO", "").rsplit("/", 1)[-1]
    if image_id not in _state["images"]:
        return json_response(start_response, "404 Not Found", {"message": "no such image"})
    return json_response(start_response, "200 OK",
                         {"id": image_id, "name": _state["images"][image_id]})


def compute_api_factory(global_conf: dict[str, Any], **local_conf: Any) -> Any:
    return _compute_api


def image_api_factory(global_conf: dict[str, Any], **local_conf: Any) -> Any:
    return _image_api


def _expected(func: Any) -> Any:
    """The demo's failure is expected: oslo.messaging then logs it at DEBUG, not ERROR."""
    import oslo_messaging

    return oslo_messaging.expected_exceptions(ValueError)(func)


class WorkerEndpoint:
    """The RPC worker: writes the database, asks the image API, emits a notification."""

    def __init__(self, engine: Any, image_url: str, notifier: Any) -> None:
        self._engine = engine
        self._image_url = image_url
        self._notifier = notifier
        self.usage_updates: queue.Queue[str] = queue.Queue()

    def build_instance(self, ctxt: dict[str, Any], name: str, image_id: str | None) -> dict:
        return _expected(self._build_instance)(ctxt, name, image_id)

    def _build_instance(self, ctxt: dict[str, Any], name: str, image_id: str | None
                        ) -> dict:
        import requests
        from sqlalchemy import text

        if name == "fail":
            raise ValueError("no valid host was found for the instance")
        server_id = str(uuid.uuid4())
        with self._engine.begin() as conn:
            conn.execute(text("INSERT INTO instances (id, name, image_id) VALUES "
                              "(:id, :name, :image)"),
                         {"id": server_id, "name": name, "image": image_id})
        image = requests.get(f"{self._image_url}/v2/images/{image_id}", timeout=10)
        image.raise_for_status()
        self._notifier.info(ctxt, "compute.instance.create.end",
                            {"instance_id": server_id, "image": image.json()["name"]})
        return {"id": server_id, "name": name, "status": "BUILD"}

    def update_usage(self, ctxt: dict[str, Any], server_id: str) -> None:
        from sqlalchemy import text

        with self._engine.begin() as conn:
            conn.execute(text("UPDATE instances SET usage_updated = 1 WHERE id = :id"),
                         {"id": server_id})
        self.usage_updates.put(server_id)


class NotificationEndpoint:
    def __init__(self) -> None:
        self.received: queue.Queue[str] = queue.Queue()

    def info(self, ctxt: dict[str, Any], publisher_id: str, event_type: str,
             payload: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.received.put(event_type)


# -- assembling the cloud ----------------------------------------------------------------

@dataclasses.dataclass
class Cloud:
    compute_url: str
    image_url: str
    image_id: str
    worker: WorkerEndpoint
    listener: NotificationEndpoint
    workdir: str

    def wait_for_async_work(self, casts: int, notifications: int, timeout: float = 10) -> None:
        for _ in range(casts):
            self.worker.usage_updates.get(timeout=timeout)
        for _ in range(notifications):
            self.listener.received.get(timeout=timeout)


def _share_fake_bus(transports: list[Any]) -> None:
    # NOTE(os-tracing): the fake driver keeps its queues per transport object; the demo's
    # services get one bus between them, as separate processes would share a broker.
    drivers = []
    for transport in transports:
        driver = transport._driver
        inner = getattr(driver, "inner", None) or getattr(driver, "_driver", None) or driver
        drivers.append(inner)
    if all(hasattr(d, "_exchange_manager") for d in drivers):
        for driver in drivers[1:]:
            driver._exchange_manager = drivers[0]._exchange_manager


def _load_paste(workdir: str, service: str, factory: str, extra: dict[str, str]) -> Any:
    from paste import deploy

    lines = "\n".join(f"{k} = {v}" for k, v in extra.items())
    path = os.path.join(workdir, f"{service}-paste.ini")
    with open(path, "w") as f:
        f.write(_PASTE.format(service=service, factory=factory, extra=lines))
    return deploy.loadapp(f"config:{path}")


@contextlib.contextmanager
def start_cloud(workdir: str, store: str, transport_url: str = "traced+fake://",
                api_options: dict[str, str] | None = None) -> Iterator[Cloud]:
    """Start every service; stop them all on exit."""
    import oslo_messaging
    from sqlalchemy import create_engine, text

    from tracing_middleware.testing import serve_wsgi

    common = {"exporters": store, "sampler": "always_on",
              "propagators": "tracecontext,baggage,osprofiler", "hmac_keys": DEMO_HMAC_KEY,
              "integrations": "requests,sqlalchemy,logging"}
    api_extra = {**common, **(api_options or {})}
    image_id = str(uuid.uuid4())
    _state["images"] = {image_id: "cirros-0.6.2"}
    with contextlib.ExitStack() as stack:
        image_app = _load_paste(workdir, "image-api", "image_api_factory", common)
        image = stack.enter_context(serve_wsgi(image_app))
        engine = create_engine(f"sqlite:///{os.path.join(workdir, 'nova.db')}")
        with engine.begin() as conn:
            conn.execute(text(textwrap.dedent("""\
                CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, name TEXT,
                image_id TEXT, usage_updated INTEGER DEFAULT 0)""")))
        stack.callback(engine.dispose)

        worker_conf = _conf("compute-worker", store, transport_url, {})
        api_conf = _conf("compute-api", store, transport_url, {})
        listener_conf = _conf("notification-agent", store, transport_url, {})
        worker_transport = oslo_messaging.get_rpc_transport(worker_conf, transport_url)
        api_transport = oslo_messaging.get_rpc_transport(api_conf, transport_url)
        notify_transport = oslo_messaging.get_notification_transport(
            worker_conf, transport_url)
        listen_transport = oslo_messaging.get_notification_transport(
            listener_conf, transport_url)
        transports = [worker_transport, api_transport, notify_transport, listen_transport]
        for transport in transports:
            stack.callback(transport.cleanup)
        if transport_url.split("://", 1)[0].endswith("fake"):
            _share_fake_bus(transports)
        topic = f"compute-{uuid.uuid4().hex[:8]}"
        notifier = oslo_messaging.Notifier(notify_transport, publisher_id="compute.worker-1",
                                           driver="messaging", topics=[f"{topic}-notify"])
        worker = WorkerEndpoint(engine, image.url, notifier)
        server = oslo_messaging.get_rpc_server(
            worker_transport, oslo_messaging.Target(topic=topic, server="worker-1"),
            [worker], executor="threading")
        listener_endpoint = NotificationEndpoint()
        listener = oslo_messaging.get_notification_listener(
            listen_transport, [oslo_messaging.Target(topic=f"{topic}-notify")],
            [listener_endpoint], executor="threading")
        for srv in (server, listener):
            srv.start()
            stack.callback(srv.wait)
            stack.callback(srv.stop)
        _state["rpc_client"] = oslo_messaging.get_rpc_client(
            api_transport, oslo_messaging.Target(topic=topic), timeout=30)
        compute_app = _load_paste(workdir, "compute-api", "compute_api_factory", api_extra)
        compute = stack.enter_context(serve_wsgi(compute_app))
        yield Cloud(compute.url, image.url, image_id, worker, listener_endpoint, workdir)
        _state.clear()
