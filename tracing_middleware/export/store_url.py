"""Where the embedded span store lives: ``sqlite://`` URLs and the default location.

URLs follow SQLAlchemy's convention, so operators can paste what they already know:
``sqlite:///traces.db`` (three slashes) is *relative* to the working directory and
``sqlite:////var/lib/os-tracing/traces.db`` (four slashes) is *absolute*. The default is
``$OS_TRACING_STORE`` if set, else ``${XDG_DATA_HOME:-~/.local/share}/os-tracing/traces.db``
(the XDG base directory spec's place for user data). ``~`` is not expanded inside a URL,
as SQLAlchemy does not either; the default path is built already expanded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["ENV_VAR", "SCHEME_PREFIX", "default_store_url", "path_from_url",
           "resolve_store_url"]

#: The environment variable that overrides the default store.
ENV_VAR = "OS_TRACING_STORE"
#: Every store URL starts with this; what follows is the file path.
SCHEME_PREFIX = "sqlite:///"


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
    """``$OS_TRACING_STORE`` if set and non-empty, else the XDG data directory file."""
    environ = os.environ if environ is None else environ
    env = environ.get(ENV_VAR)
    if env:
        return env
    base = environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):  # XDG spec: a relative value is invalid, ignore it
        base = os.path.join(os.path.expanduser("~"), ".local", "share")
    return SCHEME_PREFIX + os.path.join(base, "os-tracing", "traces.db")


def resolve_store_url(cli_value: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The store a command uses: ``--store`` > ``$OS_TRACING_STORE`` > the XDG default."""
    if cli_value:
        return cli_value
    return default_store_url(environ)
