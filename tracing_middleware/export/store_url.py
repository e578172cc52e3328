"""Where the embedded span store lives: ``sqlite://`` URLs and the default location.

URLs follow SQLAlchemy's convention, so operators can paste what they already know:
``sqlite:///traces.db`` (three slashes) is *relative* to the working directory and
``sqlite:////var/lib/os-tracing/traces.db`` (four slashes) is *absolute*. The default is
``$OS_TRACING_STORE`` if set, else ``${XDG_DATA_HOME:-~/.local/share}/os-tracing/traces.db``
(the XDG base directory spec's place for user data). ``~`` is not expanded inside a URL,
as SQLAlchemy does not either; the default path is built already expanded.

``$OS_TRACING_STORE`` may also name traces kept in Jaeger or Tempo
(``jaeger+http://host:16686``, ``tempo+http://host:3200``, also ``+https``): the
commands read them there (``tracing_middleware.views.remote_store``). Those stores are
only read, so the default store spans are *written* to stays the XDG file then.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["ENV_VAR", "READ_ONLY_SCHEMES", "SCHEME_PREFIX", "default_store_url",
           "path_from_url", "resolve_store_url"]

#: The environment variable that overrides the default store.
ENV_VAR = "OS_TRACING_STORE"
#: Every store URL starts with this; what follows is the file path.
SCHEME_PREFIX = "sqlite:///"
#: Stores the commands read traces from but nothing writes to.
READ_ONLY_SCHEMES = ("jaeger+http", "jaeger+https", "tempo+http", "tempo+https")


def _read_only(url: str) -> bool:
    return url.partition("://")[0].lower() in READ_ONLY_SCHEMES


def path_from_url(url: str) -> str:
    """The file path of ``sqlite:///relative.db`` or ``sqlite:////absolute.db``.

    Raises ``ValueError`` naming the accepted forms; in-memory databases are refused
    because a store nobody else can read is a silent data sink.
    """
    if not isinstance(url, str) or not url.startswith(SCHEME_PREFIX):
        raise ValueError(f"not a store URL: {url!r}; expected sqlite:///relative/path "
                         "or sqlite:////absolute/path")
    path = url[len(SCHEME_PREFIX):]
    if path.split("?", 1)[0] in ("", "/", ":memory:"):
        raise ValueError(f"store URL {url!r} names no file; expected sqlite:///relative/path "
                         "or sqlite:////absolute/path")
    if "?" in path:
        raise ValueError(f"store URL {url!r}: query parameters are not supported")
    return path


def default_store_url(environ: Mapping[str, str] | None = None) -> str:
    """The store spans are written to by default: ``$OS_TRACING_STORE`` if set,
    non-empty and writable (not Jaeger or Tempo), else the XDG data directory file."""
    environ = os.environ if environ is None else environ
    env = environ.get(ENV_VAR)
    if env and not _read_only(env):
        return env
    base = environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):  # XDG spec: a relative value is invalid, ignore it
        base = os.path.join(os.path.expanduser("~"), ".local", "share")
    return SCHEME_PREFIX + os.path.join(base, "os-tracing", "traces.db")


def resolve_store_url(cli_value: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The store a command uses: ``--store`` > ``$OS_TRACING_STORE`` (Jaeger and Tempo
    URLs included) > the XDG default."""
    if cli_value:
        return cli_value
    env = (os.environ if environ is None else environ).get(ENV_VAR)
    return env if env else default_store_url(environ)
