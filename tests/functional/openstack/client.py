"""The user's side: openstacksdk, traced by the OpenTelemetry SDK (not os-tracing).

``python client.py setup CONFIG`` creates the service users and catalog entries the
services need (untraced); ``python client.py drive CONFIG`` runs one user session inside
one root span and prints, as JSON, the trace id, the HTTP CLIENT spans the SDK recorded
and the tokens the session used (so the test can look for them in the store).
"""

from __future__ import annotations

import json
import sys


def _connect(cfg: dict, **kw):
    import openstack

    return openstack.connect(
        auth_url=cfg["keystone"] + "/v3", username="admin", password=cfg["admin_password"],
        project_name="admin", user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne", **kw)


def setup(cfg: dict) -> None:
    conn = _connect(cfg)
    service_project = conn.identity.create_project(name="service", domain_id="default")
    admin_role = conn.identity.find_role("admin")
    for name, kind, url in (("placement", "placement", cfg["placement"]),
                            ("glance", "image", cfg["glance"])):
        user = conn.identity.create_user(name=name, password=cfg["service_password"],
                                         domain_id="default")
        conn.identity.assign_project_role_to_user(service_project, user, admin_role)
        service = conn.identity.create_service(name=name, type=kind)
        for interface in ("public", "internal"):
            conn.identity.create_endpoint(service_id=service.id, interface=interface,
                                          url=url, region_id="RegionOne")


def drive(cfg: dict) -> None:
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
    with tracer.start_as_current_span("user session") as root:
        conn = _connect(cfg)
        conn.identity.create_project(name=cfg["project_name"], domain_id="default")
        conn.placement.create_resource_provider(name=cfg["project_name"])
        list(conn.placement.resource_providers())
        image = conn.image.create_image(name=cfg["project_name"], data=b"os-tracing" * 4,
                                        disk_format="raw", container_format="bare")
        list(conn.image.images())
        conn.image.get_image(image.id)
        tokens = [conn.session.get_token()]
    provider.shutdown()
    spans = []
    for span in exporter.get_finished_spans():
        attributes = dict(span.attributes or {})
        spans.append({
            "span_id": f"{span.context.span_id:016x}",
            "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
            "name": span.name, "kind": span.kind.name.lower(),
            "url": attributes.get("http.url") or attributes.get("url.full"),
            "method": attributes.get("http.method")
            or attributes.get("http.request.method")})
    print(json.dumps({"trace_id": f"{root.get_span_context().trace_id:032x}",
                      "spans": spans, "tokens": tokens}))


if __name__ == "__main__":
    {"setup": setup, "drive": drive}[sys.argv[1]](json.loads(sys.argv[2]))
