"""Small but real WSGI applications: a JSON API answering like an OpenStack service.

Used by ``etc/api-paste.ini.sample`` (so the sample loads and serves as shipped) and by
``os-tracing demo``. They call other services only through ``requests`` and the
message bus, so every hop is traced by configuration alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["api_app_factory", "json_response", "versions_app_factory"]

StartResponse = Callable[..., Any]


def json_response(start_response: StartResponse, status: str, body: Any,
                  headers: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(payload))), *(headers or [])])
    return [payload]


def _api(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    request_id = environ.get("openstack.request_id")
    headers = [("x-openstack-request-id", request_id)] if request_id else []
    if path.startswith("/servers"):
        return json_response(start_response, "200 OK", {
            "servers": [], "identity_status": environ.get("HTTP_X_IDENTITY_STATUS")}, headers)
    return json_response(start_response, "404 Not Found", {"error": "not found"}, headers)


def _versions(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    return json_response(start_response, "200 OK", {"versions": [{"id": "v2.1"}]})


def api_app_factory(global_conf: dict[str, Any], **local_conf: Any) -> Any:
    """Paste app factory for the sample API."""
    return _api


def versions_app_factory(global_conf: dict[str, Any], **local_conf: Any) -> Any:
    return _versions
