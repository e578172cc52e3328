"""Every scope manager: nesting restores exactly, threads never share a span."""

from __future__ import annotations

import threading

import opentracing
import pytest

from tracing_middleware.scope import get_scope_manager

NAMES = ["contextvars", "threadlocal", "asyncio", "eventlet", "gevent"]


@pytest.mark.parametrize("name", NAMES)
def test_nested_activation_restores_previous(name):
    """close() puts back exactly what was active before, innermost first."""
    manager = get_scope_manager(name)
    outer, inner = opentracing.Span(None, None), opentracing.Span(None, None)
    assert manager.active is None
    first = manager.activate(outer, finish_on_close=False)
    second = manager.activate(inner, finish_on_close=False)
    assert manager.active.span is inner
    second.close()
    assert manager.active.span is outer
    first.close()
    assert manager.active is None
    first.close()  # idempotent
    assert manager.active is None


@pytest.mark.parametrize("name", ["contextvars", "threadlocal", "asyncio"])
def test_threads_do_not_share_the_active_span(name):
    """A span active in one thread is invisible in another."""
    manager = get_scope_manager(name)
    span = opentracing.Span(None, None)
    seen = []
    with manager.activate(span, finish_on_close=False):
        t = threading.Thread(target=lambda: seen.append(manager.active))
        t.start()
        t.join(10)
    assert seen == [None]


def test_unknown_scope_manager_name():
    """An unknown name is reported with the accepted values."""
    with pytest.raises(ValueError, match=r"unknown scope manager 'fibers'.*contextvars"):
        get_scope_manager("fibers")


def test_auto_without_monkey_patching_is_contextvars():
    """In a plain process auto chooses contextvars."""
    assert get_scope_manager("auto").name == "contextvars"
