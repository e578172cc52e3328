"""A WSGI entry point that wraps any application in the tracing filter, by configuration.

For services that build their pipeline in code instead of a paste file (keystone's
flask application, placement): point the WSGI server at this module, or at this file,
and name the real application and the service's configuration file:

uwsgi (devstack, OpenStack-Ansible)::

    [uwsgi]
    module = tracing_middleware.wsgi:application
    env = OS_TRACING_WSGI_APP=keystone.wsgi.api:application
    env = OS_TRACING_CONFIG_FILE=/etc/keystone/keystone.conf

Apache mod_wsgi (kolla-ansible), where ``SetEnv`` reaches the WSGI environ of each
request rather than ``os.environ``, so the first request names the application::

    WSGIScriptAlias / /path/to/site-packages/tracing_middleware/wsgi.py
    SetEnv OS_TRACING_WSGI_APP keystone.wsgi.api:application
    SetEnv OS_TRACING_CONFIG_FILE /etc/keystone/keystone.conf

gunicorn: ``OS_TRACING_WSGI_APP=... gunicorn tracing_middleware.wsgi:application``.

``application`` is an ordinary module attribute because uwsgi and mod_wsgi look the
callable up in the module's namespace, never through a module ``__getattr__``. When
``OS_TRACING_WSGI_APP`` is in the process environment the real application is imported
here, at import time, so a preforking server loads it once in its master and a wrong
name fails the server's start, exactly as the unwrapped application would. ``[tracing]``
options come from ``OS_TRACING_CONFIG_FILE`` (and the environment).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from oslo_config import cfg

from tracing_middleware.filter import TracingFilter

__all__ = ["APP_VARIABLE", "CONFIG_VARIABLE", "application", "load", "wrap"]

#: Names the traced application as ``module:attribute``.
APP_VARIABLE = "OS_TRACING_WSGI_APP"
#: The service's oslo.config file, whose ``[tracing]`` section configures tracing.
CONFIG_VARIABLE = "OS_TRACING_CONFIG_FILE"

_lock = threading.Lock()
_app: Callable[..., Iterable[bytes]] | None = None


def wrap(app: Any, config_file: str | None = None) -> Any:
    """``app`` behind :class:`~tracing_middleware.filter.TracingFilter`."""
    conf = cfg.ConfigOpts()
    conf([], project="os-tracing", default_config_files=[config_file] if config_file else [])
    return TracingFilter(app, conf)


def load(variables: Mapping[str, Any]) -> Any:
    """The application named by ``OS_TRACING_WSGI_APP`` in ``variables``, wrapped.

    Raises ``RuntimeError`` naming the variable when it is missing or malformed: without
    it there is no service to serve, so this is the server's start-up error.
    """
    target = variables.get(APP_VARIABLE)
    if not isinstance(target, str) or ":" not in target:
        raise RuntimeError(f"os-tracing: set {APP_VARIABLE}=module:attribute to the WSGI "
                           f"application to trace (got {target!r})")
    module_name, _, attr = target.partition(":")
    app = getattr(importlib.import_module(module_name.strip()), attr.strip())
    config_file = variables.get(CONFIG_VARIABLE) or None
    return wrap(app, config_file)


def application(environ: dict[str, Any], start_response: Callable[..., Any]
                ) -> Iterable[bytes]:
    """The traced application; loads it from the request's environ if not yet loaded."""
    app = _app
    if app is None:
        app = _load_once(environ)
    return app(environ, start_response)


def _load_once(environ: Mapping[str, Any]) -> Any:
    global _app
    with _lock:
        if _app is None:
            _app = load({**os.environ, **{k: v for k, v in environ.items()
                                          if k in (APP_VARIABLE, CONFIG_VARIABLE)}})
        return _app


if os.environ.get(APP_VARIABLE):
    _app = load(os.environ)
