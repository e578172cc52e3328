"""Renderings of one trace, by the names ``trace show --format`` accepts."""

from __future__ import annotations

from collections.abc import Callable

from tracing_middleware.export.store import Trace
from tracing_middleware.views import chrome, dot, html, json_view, otlp_json, tree

__all__ = ["FORMATS"]

FORMATS: dict[str, Callable[[Trace], str]] = {
    "tree": tree.render,
    "json": json_view.render,
    "html": html.render,
    "dot": dot.render,
    "chrome": chrome.render,
    "otlp-json": otlp_json.render,
}
