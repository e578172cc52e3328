"""The applications measured: a bare WSGI app and a realistic JSON handler (~100 µs)."""

from __future__ import annotations

import json
from typing import Any

_PAYLOAD = {"servers": [{"id": f"{i:032x}", "name": f"vm-{i}", "status": "ACTIVE",
                         "addresses": {"private": [{"addr": f"10.0.0.{i}", "version": 4}]},
                         "metadata": {"k": "v" * 16}} for i in range(40)]}


def bare_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def json_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Serialises and re-parses a 40-server listing: about 100 µs of work, like an API."""
    body = json.dumps(_PAYLOAD).encode()
    json.loads(body)
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def make_calling_app(url: str) -> Any:
    """An app that makes one outgoing ``requests`` call per request."""
    import requests

    session = requests.Session()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        _ = session.get(url, timeout=10).content
        return bare_app(environ, start_response)

    return app
