"""The integrations registry: which integrations a pipeline gets, what a missing library
costs, and that every patch comes off again."""

from __future__ import annotations

import sys

import pytest
import requests

from tracing_middleware import integrations, unit
from tracing_middleware.errors import ConfigError


@pytest.fixture(autouse=True)
def clean():
    integrations.uninstall_all()
    yield
    integrations.uninstall_all()


def test_a_default_integration_without_its_library_is_skipped(monkeypatch):
    """Unset ``integrations``: each default whose library is importable is set up, and a
    missing one is left out without a word to the operator."""
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # import sqlalchemy now fails
    active = integrations.install(None, explicit=False,
                                  defaults=integrations.DEFAULT_INTEGRATIONS)
    assert "sqlalchemy" not in active
    assert "requests" in active and "logging" in active


def test_a_named_integration_without_its_library_is_a_config_error(monkeypatch):
    """Named by the operator, a missing library is reported naming the integration."""
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ConfigError, match=r"\[tracing\] integrations = 'httpx' cannot be "
                                          r"enabled"):
        integrations.install(["requests", "httpx"], explicit=True, defaults=())


def test_uninstall_all_restores_the_libraries():
    """Every patch is undone: requests' Session.send and osprofiler's unit hook."""
    original = requests.Session.send
    assert integrations.install(["requests", "osprofiler"], explicit=True,
                                defaults=()) == ["requests", "osprofiler"]
    assert requests.Session.send is not original
    assert len(unit.HOOKS) == 1
    integrations.uninstall_all()
    assert requests.Session.send is original
    assert unit.HOOKS == []
