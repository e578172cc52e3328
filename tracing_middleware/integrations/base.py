"""One module per integration, each an :class:`Integration` set up once per process.

Modelled on sentry-python: ``setup()`` imports the library itself and raises
:class:`DidNotEnable` when it is missing. That is swallowed for the default set (a service
without httpx simply has no httpx integration) and reported when the operator asked for
the integration by name. Patches go through :meth:`Integration.patch`, which keeps what
it replaced, so ``uninstrument()`` (for tests) puts every one back.
"""

from __future__ import annotations

import abc
import importlib
import logging
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar

__all__ = ["DidNotEnable", "Integration", "require"]

LOG = logging.getLogger(__name__)

#: In a saved patch: the attribute was inherited, so restoring it means deleting ours.
_INHERITED = object()


def require(module: str) -> ModuleType:
    """Import ``module``; :class:`DidNotEnable` naming its package when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DidNotEnable(f"{module.partition('.')[0]} is not installed") from exc


class DidNotEnable(Exception):
    """The library this integration instruments is not importable (or too old)."""


class Integration(abc.ABC):
    #: Name operators type in ``integrations``.
    identifier: ClassVar[str] = ""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _installed: ClassVar[bool] = False
    #: ``(owner, name, what was there)`` for each :meth:`patch`, in order.
    _patched: ClassVar[list[tuple[Any, str, Any]]]

    @classmethod
    def setup_once(cls) -> bool:
        """Install the patches unless already installed. Returns ``True`` when installed now."""
        with Integration._lock:
            if cls._installed:
                return False
            cls.setup()
            cls._installed = True
            return True

    @classmethod
    def uninstrument_once(cls) -> None:
        with Integration._lock:
            if not cls._installed:
                return
            cls.uninstrument()
            cls._installed = False

    @classmethod
    def is_installed(cls) -> bool:
        return cls._installed

    @classmethod
    @abc.abstractmethod
    def setup(cls) -> None:
        """Patch the library. Raise :class:`DidNotEnable` when it is missing."""

    @classmethod
    def uninstrument(cls) -> None:
        """Undo exactly what :meth:`setup` did: every :meth:`patch`, last first."""
        patched = cls.__dict__.get("_patched", [])
        while patched:
            owner, name, saved = patched.pop()
            if saved is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, saved)

    @classmethod
    def patch(cls, owner: Any, name: str, wrap: Callable[[Any], Any]) -> None:
        """Replace ``owner.name`` (a class or module attribute) with ``wrap(current)``,
        remembering what to put back; an attribute ``owner`` does not have is left alone."""
        current = getattr(owner, name, None)
        if current is None:
            return
        if isinstance(owner, type) and name not in owner.__dict__:
            saved: Any = _INHERITED  # a subclass's patch must not outlive it as its own
        else:
            saved = owner.__dict__[name] if isinstance(owner, type) else current
        setattr(owner, name, wrap(current))
        if "_patched" not in cls.__dict__:
            cls._patched = []
        cls._patched.append((owner, name, saved))
