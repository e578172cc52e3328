"""Store URLs and the default store location."""

from __future__ import annotations

import os

import pytest

from tracing_middleware.config import load_settings
from tracing_middleware.export.store_url import (
    default_store_url,
    path_from_url,
    resolve_store_url,
)


def test_three_slashes_is_relative_four_absolute():
    """SQLAlchemy's convention: sqlite:///rel is relative, sqlite:////abs absolute."""
    assert path_from_url("sqlite:///traces.db") == "traces.db"
    assert path_from_url("sqlite:///data/traces.db") == "data/traces.db"
    assert path_from_url("sqlite:////var/lib/t.db") == "/var/lib/t.db"


@pytest.mark.parametrize("url", ["postgres://x/y", "sqlite://x.db", "sqlite:///",
                                 "sqlite:///:memory:", "sqlite:///t.db?mode=ro", ""])
def test_bad_urls_are_refused(url):
    """Anything but a sqlite:/// file URL is a configuration error (ValueError)."""
    with pytest.raises(ValueError):
        path_from_url(url)


def test_default_is_env_then_xdg_then_home():
    """$OS_TRACING_STORE wins; else $XDG_DATA_HOME/os-tracing; else ~/.local/share."""
    assert default_store_url({"OS_TRACING_STORE": "sqlite:///x.db"}) == "sqlite:///x.db"
    assert default_store_url({"XDG_DATA_HOME": "/xdg"}) == "sqlite:////xdg/os-tracing/traces.db"
    home = os.path.join(os.path.expanduser("~"), ".local", "share", "os-tracing", "traces.db")
    assert default_store_url({}) == "sqlite:///" + home
    assert path_from_url(default_store_url({})) == home


def test_relative_xdg_data_home_is_ignored():
    """XDG base directory spec: a relative XDG_DATA_HOME is invalid and ignored."""
    assert "/.local/share/os-tracing/" in default_store_url({"XDG_DATA_HOME": "rel"})


def test_resolve_precedence():
    """--store beats $OS_TRACING_STORE, which beats the default."""
    env = {"OS_TRACING_STORE": "sqlite:///env.db", "XDG_DATA_HOME": "/xdg"}
    assert resolve_store_url("sqlite:///cli.db", env) == "sqlite:///cli.db"
    assert resolve_store_url(None, env) == "sqlite:///env.db"
    assert resolve_store_url(None, {"XDG_DATA_HOME": "/xdg"}).startswith("sqlite:////xdg/")


def test_services_and_commands_use_the_same_default_store():
    """With a relative XDG_DATA_HOME the services write where `trace list` reads."""
    environ = {"XDG_DATA_HOME": "relative/data"}
    settings = load_settings(None, {"integrations": ""}, environ=environ)
    assert [e.url for e in settings.exporters] == [resolve_store_url(None, environ)]
    assert os.path.isabs(path_from_url(settings.exporters[0].url))
