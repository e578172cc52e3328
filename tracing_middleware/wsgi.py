"""A WSGI entry point that wraps any application in the tracing filter, by configuration.

For services that build their pipeline in code instead of a paste file (keystone's
flask application, placement): point the WSGI server at this module and name the real
application in the environment, e.g. for uwsgi::

    [uwsgi]
    module = tracing_middleware.wsgi:application
    env = OS_TRACING_WSGI_APP=keystone.wsgi.api:application
    env = OS_TRACING_CONFIG_FILE=/etc/keystone/keystone.conf

``[tracing]`` options come from ``OS_TRACING_CONFIG_FILE`` (and the environment).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__all__ = ["application", "wrap"]


def wrap(app: Any, config_file: str | None = None) -> Any:
    """``app`` behind :class:`~tracing_middleware.filter.TracingFilter`."""
    from oslo_config import cfg

    from tracing_middleware.filter import TracingFilter

    conf = cfg.ConfigOpts()
    conf([], project="os-tracing", default_config_files=[config_file] if config_file else [])
    return TracingFilter(app, conf)


def _load() -> Any:
    target = os.environ.get("OS_TRACING_WSGI_APP")
    if not target or ":" not in target:
        raise RuntimeError("set OS_TRACING_WSGI_APP=module:attribute to the application to "
                           "trace")
    module_name, _, attr = target.partition(":")
    app = getattr(importlib.import_module(module_name), attr)
    return wrap(app, os.environ.get("OS_TRACING_CONFIG_FILE"))


def __getattr__(name: str) -> Any:
    if name == "application":
        global application
        application = _load()
        return application
    raise AttributeError(name)
