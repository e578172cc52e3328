"""The user's side: openstacksdk, traced by the OpenTelemetry SDK (not os-tracing).

``python client.py setup CONFIG`` creates the service project, the service users
keystonemiddleware logs in as, and the placement and image services and endpoints
(untraced). ``python client.py drive CONFIG`` runs one user session inside one root span:
authenticate, create a project (keystone notifies it), create and list resource providers,
create, list and show an image. Both print JSON: every token the session sent or received
(``X-Auth-Token``, ``X-Subject-Token``), and for ``drive`` the root span's trace id and
the spans the SDK recorded (the requests instrumentation's HTTP CLIENT spans).
"""

from __future__ import annotations

import json
import sys

TOKEN_HEADERS = ("X-Auth-Token", "X-Subject-Token")


def _connect(cfg: dict, tokens: set[str]):
    import openstack

    conn = openstack.connect(
        auth_url=cfg["keystone"] + "/v3", username="admin", password=cfg["admin_password"],
        project_name="admin", user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne")

    def seen(response, *args, **kwargs):
        for headers in (response.request.headers, response.headers):
            tokens.update(headers[name] for name in TOKEN_HEADERS if headers.get(name))

    conn.session.session.hooks["response"].append(seen)  # keystoneauth's requests session
    return conn


def setup(cfg: dict) -> dict:
    tokens: set[str] = set()
    conn = _connect(cfg, tokens)
    service_project = conn.identity.create_project(name="service", domain_id="default")
    admin_role = conn.identity.find_role("admin")
    for name, kind in (("placement", "placement"), ("glance", "image")):
        user = conn.identity.create_user(name=name, password=cfg[f"{name}_password"],
                                         domain_id="default")
        conn.identity.assign_project_role_to_user(service_project, user, admin_role)
        service = conn.identity.create_service(name=name, type=kind)
        for interface in ("public", "internal", "admin"):
            conn.identity.create_endpoint(service_id=service.id, interface=interface,
                                          url=cfg[name], region_id="RegionOne")
    return {"tokens": sorted(tokens)}


def drive(cfg: dict) -> dict:
    from opentelemetry import trace
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    RequestsInstrumentor().instrument()
    tracer = trace.get_tracer("openstack-user")
    tokens: set[str] = set()
    name = cfg["project_name"]
    with tracer.start_as_current_span("user session") as root:
        conn = _connect(cfg, tokens)
        conn.authorize()
        conn.identity.create_project(name=name, domain_id="default")
        list(conn.placement.resource_providers())
        conn.placement.create_resource_provider(name=name)
        list(conn.placement.resource_providers())
        image = conn.image.create_image(name=name, data=b"os-tracing" * 4,
                                        disk_format="raw", container_format="bare")
        list(conn.image.images())
        conn.image.get_image(image.id)
    provider.shutdown()
    spans = []
    for span in exporter.get_finished_spans():
        attributes = dict(span.attributes or {})
        spans.append({
            "trace_id": f"{span.context.trace_id:032x}",
            "span_id": f"{span.context.span_id:016x}",
            "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
            "name": span.name, "kind": span.kind.name.lower(),
            "url": attributes.get("url.full") or attributes.get("http.url"),
            "method": attributes.get("http.request.method")
            or attributes.get("http.method")})
    return {"trace_id": f"{root.get_span_context().trace_id:032x}", "spans": spans,
            "tokens": sorted(tokens)}


if __name__ == "__main__":
    print(json.dumps({"setup": setup, "drive": drive}[sys.argv[1]](json.loads(sys.argv[2]))))
